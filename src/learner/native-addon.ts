// The native learner addon (native/: C++ through Node-API, matrix products through a BLAS), loaded
// when it was built. `npm ci` builds it (native/build.js) and never fails without it, so it may
// be missing: loadNativeLearner says so, and why, instead of throwing, and the learner runs on
// tfjs (wasm) as before.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeModuleProblem } from '../util/native.ts';

const require = createRequire(import.meta.url);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where native/build.js puts the addon. */
export const NATIVE_ADDON_PATH = join(ROOT, 'native', 'build', 'Release', 'tandem_learner.node');

/** How to get the addon built on this platform (native/build.js says the same). */
export function nativeFix(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin')
    return 'xcode-select --install (and python3), then npm run build:native';
  if (platform === 'win32') {
    return 'install Python 3 and Visual Studio Build Tools (C++), then npm run build:native';
  }
  return 'apt-get install -y g++ make python3 libopenblas-dev pkg-config, then npm run build:native';
}

/** The BLAS the addon was built with (gemm.h). */
export interface BlasInfo {
  /** "openblas 0.3.21" (the library's own version), "accelerate" or "portable". */
  blas: string;
  /** OpenBLAS's kernel for this CPU ("Haswell", "Zen", …); "-" for the others. */
  kernel: string;
  /** The most threads one product may use now. */
  threads: number;
  /** "pthread", "openmp" or "sequential" (OpenBLAS), "accelerate", "single-threaded" (portable). */
  threading: string;
}

/**
 * Row-major C = alpha·op(A)·op(B) + beta·C in place; op(A) is M×K, op(B) K×N (gemm.h). Sizes are
 * checked against the arrays: a wrong call throws, it never reads or writes outside them.
 */
export type Sgemm = (
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
) => void;

/** The addon's exports. */
export interface NativeAddon {
  // ---- The BLAS layer (native/src/blas_exports.cc) ----
  /** The BLAS's product (the portable kernel where the build found none). */
  sgemm: Sgemm;
  /** The portable kernel, in every build: for tests and benchmarks. */
  sgemmPortable: Sgemm;
  /** The most threads one product may use (integer ≥ 1, process-wide); returns the new count. */
  setThreads(threads: number): number;
  blasInfo(): BlasInfo;

  // ---- The critic ensemble (native/src/addon.cc, critic.cc) ----
  /** Absent in an addon built before it had one (criticEnsembleClass says so). */
  CriticEnsemble?: CriticEnsembleClass;

  // ---- The actor (native/src/actor.cc; not wired into Sac yet) ----
  /** Absent in an addon built before it had one (actorNativeClass says so). */
  ActorNative?: ActorNativeClass;
}

export interface CriticEnsembleOptions {
  inDim: number;
  hidden: number[];
  ensemble: number;
  layerNorm: boolean;
  /** The most rows an update, qValues or inputGradient takes (256 when left out). */
  batch?: number;
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  gamma: number;
  tau: number;
  /** Global-norm clip of the critics' gradients; Infinity (the default): none. */
  clip?: number;
  rewardScale?: number;
  rewardShift?: number;
  backupEntropy?: boolean;
  /** Threads an update deals the critics to (this one included; 1 by default). */
  threads?: number;
}

/** One critic update's inputs (Sac#criticStep's, before it joins and scales them). */
export interface CriticUpdateInput {
  /** [s, a] rows [n, inDim], shared by the critics; or [E, n, inDim], one minibatch each. */
  sa: Float32Array;
  /** The batch's raw rewards (the ensemble applies rewardScale and rewardShift) [n]. */
  reward: Float32Array;
  done: Float32Array;
  /** [s', a'] rows [n, inDim], a' ~ π(·|s'). */
  nextSa: Float32Array;
  /** log π(a'|s') [n]. */
  nextLogProb: Float64Array | Float32Array;
  alpha: number;
  /** The target critics the min is over. */
  subset: Int32Array;
}

export interface CriticUpdateMetrics {
  loss: number;
  qMean: number;
  qStd: number;
  qMax: number;
  qAbsMean: number;
  tdTargetMean: number;
  gradNorm: number;
  rewardMean: number;
  rewardMin: number;
  rewardMax: number;
}

/** native/src/critic.cc's class. Weight and moment lists are every critic's variables in order. */
export interface CriticEnsemble {
  /** One critic's variables' shapes (Critic.variables order). */
  readonly shapes: number[][];
  setWeights(online: Float32Array[], target: Float32Array[]): void;
  getWeights(): { online: Float32Array[]; target: Float32Array[] };
  /** Adam.restore's state; without moments, zeros (not stepped yet). */
  setAdam(step: number, m?: Float32Array[], v?: Float32Array[]): void;
  getAdam(): { step: number; m: Float32Array[]; v: Float32Array[] };
  update(input: CriticUpdateInput): CriticUpdateMetrics;
  /** Q of every online critic [E, n]. */
  qValues(sa: Float32Array): Float32Array;
  /** Q [E, n] and Σ_e dQ_e/d(input columns from `from` on)·dq [n, inDim − from]. */
  inputGradient(
    sa: Float32Array,
    dq: number,
    from: number,
  ): { q: Float32Array; dInput: Float32Array };
}

export type CriticEnsembleClass = new (options: CriticEnsembleOptions) => CriticEnsemble;

export interface ActorNativeOptions {
  obsDim: number;
  actionDim: number;
  hidden: number[];
  /** The log-std range [min, max] (Actor.logStdRange). */
  logStd: [number, number];
  /** The most rows `sample` takes (256 when left out). */
  batch?: number;
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Global-norm clip of the actor's gradient (Infinity or left out: none). */
  clip?: number;
  targetEntropy: number;
}

/** One actor update's inputs, for the rows of the last `sample` (sac.ts #sacLoss). */
export interface ActorUpdateInput {
  /** 'awr' is not native. */
  loss: 'sac' | 'sac+bc' | 'bc';
  /** Q_e(s, a) [E, n] of the sampled actions (not for bc). */
  q?: Float32Array;
  /** Σ_e dQ_e/da of the sampled actions at dL/dQ_e = −1/(E·n) [n, A] (not for bc). */
  dQdA?: Float32Array;
  /** sac+bc: the Q term over mean|Q̄| (CPQL; true when left out). */
  normalizeQ?: boolean;
  /** β of the BC term (Sac.bcWeight). */
  beta?: number;
  /** The batch's actions [n, A] (for the BC term) and where its demo rows start. */
  action?: Float32Array;
  fromOnline?: number;
}

export interface ActorUpdateMetrics {
  actor_loss: number;
  entropy: number;
  bc_loss: number;
  q_term_scale: number;
  actor_grad_norm: number;
  /** α after the temperature update. */
  temperature: number;
}

export interface AdamState<M> {
  step: number;
  m?: M;
  v?: M;
}

/** native/src/actor.cc's class: Actor.variables, log α, and their Adam states. */
export interface ActorNative {
  /** The actor's variables' shapes (Actor.variables order). */
  readonly shapes: number[][];
  setWeights(actor: Float32Array[], logAlpha: number): void;
  getWeights(): { actor: Float32Array[]; logAlpha: number };
  /** The actor's and log α's Adam.restore state; without moments, zeros. */
  setAdam(actor: AdamState<Float32Array[]>, alpha: AdamState<number>): void;
  getAdam(): { actor: Required<AdamState<Float32Array[]>>; alpha: Required<AdamState<number>> };
  /** a = tanh(μ + σ·ε) and log π(a|s) of obs [n, obsDim], noise ε [n, A]; kept for `update`. */
  sample(obs: Float32Array, noise: Float32Array): { action: Float32Array; logProb: Float64Array };
  /** One actor and one temperature update on the last sample's rows. */
  update(input: ActorUpdateInput): ActorUpdateMetrics;
}

export type ActorNativeClass = new (options: ActorNativeOptions) => ActorNative;

/** The addon's ActorNative, or undefined in an addon built before it had one. */
export function actorNativeClass(addon: object): ActorNativeClass | undefined {
  const ctor = (addon as { ActorNative?: unknown }).ActorNative;
  return typeof ctor === 'function' ? (ctor as ActorNativeClass) : undefined;
}

/** The addon's CriticEnsemble, or why not: an addon built before it had one has none. */
export function criticEnsembleClass(addon: object): CriticEnsembleClass | undefined {
  const ctor = (addon as { CriticEnsemble?: unknown }).CriticEnsemble;
  return typeof ctor === 'function' ? (ctor as CriticEnsembleClass) : undefined;
}

export type NativeLoad =
  | { ok: true; addon: NativeAddon; info: BlasInfo; path: string }
  | { ok: false; reason: string; path: string };

interface BuildStatus {
  ok: boolean;
  reason?: string;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

const shown = (path: string) => {
  const rel = relative(ROOT, path);
  return rel.startsWith('..') ? path : rel;
};

/** What native/build.js wrote about its last run next to the addon (build/build-status.json). */
function lastBuild(path: string): BuildStatus | undefined {
  try {
    const file = join(dirname(dirname(path)), 'build-status.json');
    return JSON.parse(readFileSync(file, 'utf8')) as BuildStatus;
  } catch {
    return undefined;
  }
}

/**
 * Loads the native learner addon. A missing or broken addon is not thrown: `{ ok: false, reason }`
 * says why it is not usable and how to fix it. `path` points elsewhere (tests); `threads` sets the
 * most threads one product may use (an integer ≥ 1, else a RangeError; the addon starts at 1;
 * left out, the setting is not touched).
 */
export function loadNativeLearner(options: { path?: string; threads?: number } = {}): NativeLoad {
  const path = options.path ?? NATIVE_ADDON_PATH;
  const fix = nativeFix();
  if (!existsSync(path)) {
    const last = lastBuild(path);
    const why = last && !last.ok && last.reason ? `; its last build failed: ${last.reason}` : '';
    return { ok: false, path, reason: `${shown(path)} is not built${why}. Fix: ${fix}` };
  }
  let addon: NativeAddon;
  try {
    addon = require(path) as NativeAddon;
  } catch (err) {
    const abi = nativeModuleProblem(err, {
      name: `the native learner (${shown(path)})`,
      rebuild: 'npm run build:native',
    });
    if (abi) return { ok: false, path, reason: abi };
    const line = firstLine(err);
    // A shared library it was linked with (OpenBLAS) is not on this machine.
    const library = /cannot open shared object file|Library not loaded|image not found/.test(line)
      ? ': the BLAS library it was built with is missing here (apt-get install -y libopenblas0), ' +
        'or rebuild it on this machine'
      : '';
    return {
      ok: false,
      path,
      reason:
        `${shown(path)} does not load (${line})${library}. ` +
        `Fix: npm run build:native (TANDEM_NATIVE_BLAS=portable builds it without a BLAS)`,
    };
  }
  if (typeof addon.sgemm !== 'function' || typeof addon.blasInfo !== 'function') {
    return {
      ok: false,
      path,
      reason: `${shown(path)} loads but lacks the BLAS exports (an old build?). Fix: npm run build:native`,
    };
  }
  if (options.threads !== undefined) addon.setThreads(options.threads);
  return { ok: true, addon, info: addon.blasInfo(), path };
}
