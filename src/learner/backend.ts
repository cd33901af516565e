import type { LearnerConfig } from './config.ts';
import { actorNativeClass, criticEnsembleClass, loadNativeLearner } from './native-addon.ts';

/** A TensorFlow.js backend. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/**
 * Where the learner's updates run: the native addon (native/, critics and actor in C++ with a
 * BLAS) or a TensorFlow.js backend. The order is the automatic choice's.
 */
export type LearnerBackend = 'native' | BackendName;
export const LEARNER_BACKENDS: readonly LearnerBackend[] = ['native', ...BACKENDS];

export interface BackendChoice {
  /** Where the updates run. */
  name: LearnerBackend;
  /**
   * The TensorFlow.js backend loaded: the updates' with a tfjs `name`; with 'native', the one
   * beside the addon (the policy's batch act, the awr actor, the weights' tfjs copies).
   */
  tfjs: BackendName;
  /** Chosen by `--backend` (it then decides where the critics and the actor train). */
  forced: boolean;
  /** Why each better backend was not used, in order (each once). */
  skipped: { name: LearnerBackend; reason: string }[];
}

/** Registers a backend by importing its package; throws with the import's reason if it cannot. */
async function load(name: BackendName): Promise<void> {
  // Imported here: the backend names and flags are read by CLI commands that never load tfjs.
  const tf = await import('@tensorflow/tfjs');
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
 * Why the native addon cannot train the learner (not built, does not load, an old build without
 * the critic ensemble or the actor), with the fix; undefined when it can.
 */
export function nativeUnusable(path?: string): string | undefined {
  const loaded = loadNativeLearner(path === undefined ? {} : { path });
  if (!loaded.ok) return loaded.reason;
  if (!criticEnsembleClass(loaded.addon) || !actorNativeClass(loaded.addon))
    return `${loaded.path} lacks the critic ensemble or the actor (an old build?). Fix: npm run build:native`;
  return undefined;
}

/**
 * Picks where the learner runs: native → tfjs-node-gpu (CUDA) → tfjs-node → wasm → cpu, by
 * guarded loads; a TensorFlow.js backend is loaded in every case (with native, the first of
 * them that loads). `forced` takes exactly that one or throws. cpu is ~50× slower than wasm for
 * these nets, so it is never chosen silently: only when forced, or when wasm failed (and said
 * why). `nativeAddon`: where the addon is (tests).
 */
export async function chooseBackend(
  forced?: LearnerBackend,
  options: { nativeAddon?: string } = {},
): Promise<BackendChoice> {
  if (forced && forced !== 'native') {
    try {
      await load(forced);
    } catch (err) {
      throw new Error(`backend ${forced} cannot be used: ${reasonOf(err)}`, { cause: err });
    }
    return { name: forced, tfjs: forced, forced: true, skipped: [] };
  }
  const skipped: BackendChoice['skipped'] = [];
  const unusable = nativeUnusable(options.nativeAddon);
  if (unusable) {
    if (forced) throw new Error(`backend native cannot be used: ${unusable}`);
    skipped.push({ name: 'native', reason: unusable });
  }
  const tfjsSkipped: BackendChoice['skipped'] = [];
  for (const name of BACKENDS) {
    try {
      await load(name);
      skipped.push(...tfjsSkipped);
      return { name: unusable ? name : 'native', tfjs: name, forced: Boolean(forced), skipped };
    } catch (err) {
      tfjsSkipped.push({ name, reason: reasonOf(err) });
    }
  }
  skipped.push(...tfjsSkipped);
  throw new Error(
    `no TensorFlow.js backend loads: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
  );
}

/**
 * The learner config placed on `choice`: a forced backend decides where the critics and the
 * actor train (native: both in the addon, the actor unless its loss is awr; a tfjs backend: both
 * there); the automatic choice leaves the config's own `critics` and `actor` ('auto' takes the
 * addon when it is built, which is when the choice is native).
 */
export function placeOn<C extends Pick<LearnerConfig, 'critics' | 'actor'>>(
  choice: BackendChoice,
  config: C,
): C {
  if (!choice.forced) return config;
  return choice.name === 'native'
    ? { ...config, critics: 'native', actor: 'auto' }
    : { ...config, critics: 'tfjs', actor: 'tfjs' };
}

/** Where a Sac's critics and actor train, as Sac reports it (nativeCriticsInfo, actorBackend). */
export interface Placement {
  /** The native critics' library, kernel and threads; undefined when they train on tfjs. */
  nativeCritics: string | undefined;
  actor: 'native' | 'tfjs';
}

/**
 * One line for the run's log: where the updates run and why the better backends were not used
 * (each once). With `placed` (the Sac's), what actually trains natively and on how many threads;
 * without, what the choice would place (doctor).
 */
export function describeBackend(choice: BackendChoice, placed?: Placement): string {
  const why = choice.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  const skipped = why ? ` (skipped ${why})` : '';
  const warn =
    choice.tfjs === 'cpu' ? ' — WARNING: the cpu backend is about 50× slower than wasm' : '';
  const native = placed ? placed.nativeCritics !== undefined : choice.name === 'native';
  if (!native) return `learner backend ${choice.tfjs}${skipped}${warn}`;
  const what =
    !placed || placed.actor === 'native' ? 'critics and actor' : 'critics (the actor on tfjs)';
  const where = placed ? ` (${placed.nativeCritics})` : '';
  return `learner backend native: ${what} in the addon${where}, tfjs ${choice.tfjs} beside it${skipped}${warn}`;
}
