import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** Why each better backend was not used, in order. */
  skipped: { name: BackendName; reason: string }[];
}

/** Registers a backend by importing its package; throws with the import's reason if it cannot. */
async function load(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow-gpu':
      await import('@tensorflow/tfjs-node-gpu' as string);
      break;
    case 'tensorflow':
      await import('@tensorflow/tfjs-node' as string);
      break;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      break;
    case 'cpu':
      break;
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/Cannot find (module|package)/.test(message)) return 'not installed (optional dependency)';
  return message.split('\n')[0]!;
}

/**
 * Picks the best backend that loads: tfjs-node-gpu (CUDA) → tfjs-node → wasm → cpu, by guarded
 * dynamic import. `forced` takes exactly that one or throws. cpu is ~50× slower than wasm for
 * these nets, so it is never chosen silently: only when forced, or when wasm failed (and said why).
 */
export async function chooseBackend(forced?: BackendName): Promise<BackendChoice> {
  if (forced) {
    try {
      await load(forced);
    } catch (err) {
      throw new Error(`backend ${forced} cannot be used: ${reasonOf(err)}`, { cause: err });
    }
    return { name: forced, skipped: [] };
  }
  const skipped: BackendChoice['skipped'] = [];
  for (const name of BACKENDS) {
    try {
      await load(name);
      return { name, skipped };
    } catch (err) {
      skipped.push({ name, reason: reasonOf(err) });
    }
  }
  throw new Error(
    `no TensorFlow.js backend loads: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
  );
}

/**
 * One line for the run's log: the backend in use and why the better ones were not; with
 * `nativeCritics` (Sac.nativeCriticsInfo), that the critics train in the native addon, and with
 * `nativeActor` (Sac.actorBackend 'native'), the actor too.
 */
export function describeBackend(
  choice: BackendChoice,
  nativeCritics?: string,
  nativeActor = false,
): string {
  const why = choice.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  const warn =
    choice.name === 'cpu' ? ' — WARNING: the cpu backend is about 50× slower than wasm' : '';
  const what = nativeActor ? 'native critics and actor' : 'native critics';
  const critics = nativeCritics ? ` + ${what} (${nativeCritics})` : '';
  return `learner backend ${choice.name}${critics}${why ? ` (skipped ${why})` : ''}${warn}`;
}
