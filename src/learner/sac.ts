import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../util/random.ts';
import type { Placement } from './backend.ts';
import { allocBatch, type Batch, ReplayBuffer, sampleMixed } from './buffer.ts';
import { type ActorLoss, type LearnerConfig, targetEntropyOf } from './config.ts';
import { Adam, type Grad, polyak, sumOfSquares } from './adam.ts';
import {
  CriticHelper,
  type HelperKind,
  type HelperRequest,
  type HelperResult,
} from './critic-helper.ts';
import { criticGradients, inputGradient, targetQ } from './critic-work.ts';
import { GraspCritic, type GraspMetrics, GripperSplitter } from './grasp.ts';
import { make, read } from './heap.ts';
import {
  type ActorNative,
  actorNativeClass,
  type CriticEnsemble,
  criticEnsembleClass,
  type CriticUpdateMetrics,
  loadNativeLearner,
} from './native-addon.ts';
import {
  actionLogProb,
  actionLogProbBackward,
  Actor,
  Critic,
  policyBackward,
  type PolicySample,
  samplePolicy,
  weightGradient,
  type WeightGradientOffload,
} from './networks.ts';

/**
 * What one learner step reports (when asked to); names are the metric names stored in SQLite.
 * The health monitor reads it with the loop's figures added.
 */
export interface UpdateMetrics {
  step: number;
  critic_loss: number;
  q_mean: number;
  q_std: number;
  q_max: number;
  q_abs_mean: number;
  td_target_mean: number;
  actor_loss: number;
  entropy: number;
  temperature: number;
  target_entropy: number;
  bc_loss: number;
  bc_weight: number;
  q_term_scale: number;
  critic_grad_norm: number;
  actor_grad_norm: number;
  reward_mean: number;
  reward_min: number;
  reward_max: number;
  online_size: number;
  demo_size: number;
  /**
   * On the batch's demo rows (absent when it has none): the critics' mean Q of the demo's own
   * actions, of the policy's mean action at the same states, and the critics' spread (std across
   * the ensemble, averaged over rows) on the policy's. A policy's Q climbing above the demo's
   * while its spread grows is the critic over-valuing actions it has never seen (docs/LEARNER.md).
   */
  q_demo_action?: number;
  q_policy_action?: number;
  q_policy_spread?: number;
}

/** What an awr learner step reports besides: the mean and the largest advantage weight of the batch. */
export interface AdvantageMetrics {
  adv_weight_mean: number;
  adv_weight_max: number;
}

type ActorMetric =
  | 'actor_loss'
  | 'entropy'
  | 'bc_loss'
  | 'q_term_scale'
  | 'actor_grad_norm'
  | 'adv_weight_mean'
  | 'adv_weight_max';
type CriticMetric =
  | 'critic_loss'
  | 'q_mean'
  | 'q_std'
  | 'q_max'
  | 'q_abs_mean'
  | 'td_target_mean'
  | 'critic_grad_norm'
  | 'reward_mean'
  | 'reward_min'
  | 'reward_max';

/** The global gradient norm, and the factor that clips it to `clip` (1 when clip is ∞). */
function clipping(grads: readonly Grad[], clip: number, wantNorm: boolean) {
  const finite = Number.isFinite(clip);
  const norm = finite || wantNorm ? Math.sqrt(sumOfSquares(grads)) : Number.NaN;
  return { norm, scale: finite ? Math.min(1, clip / (norm + 1e-6)) : 1 };
}

/** Rows of [obs | x] as one [n, obsDim + xDim] matrix, as a tensor and as an array. */
function joinRows(
  obs: Float32Array,
  x: Float32Array,
  n: number,
): { tensor: tf.Tensor2D; values: Float32Array } {
  const values = new Float32Array(obs.length + x.length);
  joinRowsInto(values, obs, x, n);
  return { tensor: tf.tensor2d(values, [n, values.length / n]), values };
}

/** The native critic ensemble a Sac trains its critics in, and how it is described. */
interface NativeCritics {
  ensemble: CriticEnsemble;
  /** "openblas 0.3.21, Zen, 2 threads" */
  description: string;
}

/**
 * The native critics for `config`, or undefined for the tfjs ones: 'auto' takes them when the
 * addon is built (with its CriticEnsemble), 'native' throws when it is not.
 */
function nativeCritics(
  config: LearnerConfig,
  inDim: number,
  hyper: { lr: number; beta1: number; beta2: number; epsilon: number },
  path?: string,
): NativeCritics | undefined {
  if (config.critics === 'tfjs') return undefined;
  const loaded = loadNativeLearner(path === undefined ? {} : { path });
  const Ensemble = loaded.ok ? criticEnsembleClass(loaded.addon) : undefined;
  if (!loaded.ok || !Ensemble) {
    if (config.critics === 'auto') return undefined;
    const why = loaded.ok
      ? `${loaded.path} has no CriticEnsemble (an old build?). Fix: npm run build:native`
      : loaded.reason;
    throw new Error(`critics 'native': the native learner addon is not usable: ${why}`);
  }
  const ensemble = new Ensemble({
    inDim,
    hidden: [...config.hidden],
    ensemble: config.ensembleSize,
    layerNorm: config.criticLayerNorm,
    // awr's actor pass takes Q of 2·batch rows at once
    batch: 2 * config.batchSize,
    lr: hyper.lr,
    beta1: hyper.beta1,
    beta2: hyper.beta2,
    eps: hyper.epsilon,
    gamma: config.gamma,
    tau: config.tau,
    clip: config.gradClip,
    rewardScale: config.rewardScale,
    rewardShift: config.rewardShift,
    backupEntropy: config.backupEntropy,
    threads: config.threads,
  });
  // critic.cc deals the critics among at most one thread each
  const threads = Math.min(config.threads, config.ensembleSize);
  const { info } = loaded;
  const kernel = info.kernel && info.kernel !== '-' ? `, ${info.kernel}` : '';
  const description = `${info.blas}${kernel}, ${threads} thread${threads === 1 ? '' : 's'}`;
  return { ensemble, description };
}

/**
 * The native actor for `config`, or undefined for the tfjs one: 'auto' takes it when the addon
 * has ActorNative, the critics are native and the actor loss is not awr; 'native' throws
 * otherwise.
 */
function nativeActor(
  config: LearnerConfig,
  nativeCriticsOn: boolean,
  options: {
    obsDim: number;
    actionDim: number;
    logStd: [number, number];
    targetEntropy: number;
    hyper: { lr: number; beta1: number; beta2: number; epsilon: number };
  },
  path?: string,
): ActorNative | undefined {
  if (config.actor === 'tfjs') return undefined;
  const auto = config.actor === 'auto';
  if (!nativeCriticsOn) {
    if (auto) return undefined;
    throw new Error(
      `actor 'native' needs native critics (critics is '${config.critics}' or the addon is not built). Fix: critics 'native' or 'auto', and npm run build:native`,
    );
  }
  if (config.actorLoss === 'awr') {
    if (auto) return undefined;
    throw new Error(`actor 'native': actorLoss 'awr' is not native. Fix: actor 'tfjs' or 'auto'`);
  }
  const loaded = loadNativeLearner(path === undefined ? {} : { path });
  const Ctor = loaded.ok ? actorNativeClass(loaded.addon) : undefined;
  if (!loaded.ok || !Ctor) {
    if (auto) return undefined;
    const why = loaded.ok
      ? `${loaded.path} has no ActorNative (an old build?). Fix: npm run build:native`
      : loaded.reason;
    throw new Error(`actor 'native': the native learner addon is not usable: ${why}`);
  }
  const { hyper } = options;
  return new Ctor({
    obsDim: options.obsDim,
    actionDim: options.actionDim,
    hidden: [...config.hidden],
    logStd: options.logStd,
    batch: config.batchSize,
    lr: hyper.lr,
    beta1: hyper.beta1,
    beta2: hyper.beta2,
    eps: hyper.epsilon,
    clip: config.gradClip,
    targetEntropy: options.targetEntropy,
  });
}

/**
 * Multiply-adds of one critic's forward pass below which a helper thread is not worth its
 * messages (the probe's nets are about 0.6 M; 256×256 at batch 256, 19 M).
 */
const HELPER_MIN_WORK = 4e6;

function joinRowsInto(out: Float32Array, obs: Float32Array, x: Float32Array, n: number): void {
  const o = obs.length / n;
  const k = x.length / n;
  const w = o + k;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < o; j++) out[r * w + j] = obs[r * o + j]!;
    for (let j = 0; j < k; j++) out[r * w + o + j] = x[r * k + j]!;
  }
}

/**
 * RLPD: SAC with an ensemble of LayerNorm critics, `utd` critic updates per learner step on their
 * own minibatches, symmetric online/demo sampling, and optional BC terms (docs/LEARNER.md).
 *
 * The update runs hand-written forward and backward passes (networks.ts) and plain-JS Adam and
 * Polyak (adam.ts): the same losses and gradients as tf.variableGrads of docs/LEARNER.md's losses
 * (test/learner/update.test.ts checks them against it), a fraction of the kernel launches. With
 * config.threads > 1, the critics' share of each phase (targets, critic updates, dQ/da for the
 * actor) is dealt between this thread and helper threads (critic-helper.ts); everything else,
 * and all state, stays here, and the results do not depend on it.
 *
 * With native critics (config.critics; 'auto' takes them when the addon is built), the critic
 * phase runs in the addon's CriticEnsemble instead (native-addon.ts; the same math within float32
 * rounding, config.threads its own threads, no helper threads), which holds the online and target
 * critics' weights and the critic Adam state. The random draws stay here, in the same order.
 * `critics`, `targets` and `criticOptimizer` are then copies brought up to date when read; after
 * writing them (a checkpoint restore), `criticsChanged` hands them back.
 *
 * With native critics, the actor phase and the temperature update can run in the addon too
 * (config.actor; ActorNative, not for awr): it then holds the actor's weights, log α and their
 * Adam states, and `actor`, `logAlpha`, `actorOptimizer` and `alphaOptimizer` are copies brought
 * up to date when read (so `act` and the published weights see the current actor); after writing
 * them, `actorChanged` hands them back. The noise is drawn here, in the same order.
 */
export class Sac {
  /** The settings; only `setActorLoss` changes them (to a new object). */
  config: LearnerConfig;
  readonly obsDim: number;
  /** The actor's and the critics' action entries: the task's, less the gripper if discrete. */
  readonly actionDim: number;
  /** The task's action entries (what `add` takes and checkpoints are for). */
  readonly taskActionDim: number;
  readonly online: ReplayBuffer;
  readonly demo: ReplayBuffer;
  /** The discrete gripper's critic (config.gripper 'discrete'), trained on the critics' batches. */
  readonly grasp: GraspCritic | undefined;
  readonly #splitters: Record<'online' | 'demo', GripperSplitter> | undefined;
  readonly #actor: Actor;
  readonly #logAlpha: tf.Variable;
  readonly #actorOptimizer: Adam;
  readonly #alphaOptimizer: Adam;
  /**
   * The native actor (config.actor): it holds the actor's weights, log α and their Adam states;
   * #actor, #logAlpha and the two optimizers are a copy, brought up to date when read
   * (#actorStale) and pushed back by `actorChanged`. Undefined from a switch to awr on.
   */
  #actorNative: ActorNative | undefined;
  #actorStale = false;
  /** α while the native actor holds log α (exp of its float32 log α, as `temperature`). */
  #alpha = 1;
  readonly targetEntropy: number;
  readonly rng: Random;
  /** Learner steps and actor updates done so far. */
  steps = 0;
  actorUpdates = 0;
  /** The actor update at which sac+bc's β schedule started (0, or when `setActorLoss` set it). */
  bcFrom = 0;
  readonly #lastActor: Partial<Record<ActorMetric, number>> = {};
  readonly #batch: Batch;
  readonly #critics: Critic[];
  readonly #targets: Critic[];
  readonly #criticOptimizer: Adam;
  /**
   * The native critics (config.critics): they hold the online and target critics' weights and
   * the critic Adam state; #critics, #targets and #criticOptimizer are a copy, brought up to
   * date when read (#stale) and pushed back by `criticsChanged`.
   */
  readonly #native: NativeCritics | undefined;
  #stale = false;
  readonly #criticVars: tf.Variable[];
  readonly #targetVars: tf.Variable[];
  /** 0 … ensembleSize − 1: every critic, for `#spread`. */
  readonly #everyCritic: number[];
  readonly #helpers: CriticHelper[] = [];
  /** Whether this thread takes back helper work not started yet (off only in tests). */
  readonly #steal: boolean;

  /**
   * `helpers` 'always' starts config.threads − 1 helper threads whatever the nets' size and
   * backend (for tests); by default only on wasm, for nets large enough, and within the cores.
   * `steal` false leaves every request sent to a helper to it (tests: small nets' work is
   * otherwise done here before a helper has even seen it). `nativeAddon`: where the native
   * addon is, for config.critics (tests; native-addon.ts's NATIVE_ADDON_PATH by default).
   */
  constructor(
    obsDim: number,
    taskActionDim: number,
    config: LearnerConfig,
    options: { helpers?: 'auto' | 'always'; steal?: boolean; nativeAddon?: string } = {},
  ) {
    this.config = config;
    this.#steal = options.steal ?? true;
    this.obsDim = obsDim;
    this.taskActionDim = taskActionDim;
    const gripper = config.gripper === 'discrete' ? config.gripperAction : undefined;
    if (config.gripper === 'discrete' && (!gripper || gripper.index >= taskActionDim)) {
      throw new Error(
        `learner gripper 'discrete' needs gripperAction with an index below the task's ${taskActionDim} action entries (got ${JSON.stringify(config.gripperAction)})`,
      );
    }
    const actionDim = gripper ? taskActionDim - 1 : taskActionDim;
    if (actionDim < 1) throw new Error('a discrete gripper leaves the actor no action to output');
    this.actionDim = actionDim;
    this.rng = new Random(config.seed);
    const init = new Random(config.seed ^ 0x5eed);
    this.online = new ReplayBuffer(config.onlineCapacity, obsDim, actionDim, !!gripper);
    this.demo = new ReplayBuffer(config.demoCapacity, obsDim, actionDim, !!gripper);
    this.#splitters = gripper
      ? { online: new GripperSplitter(gripper), demo: new GripperSplitter(gripper) }
      : undefined;
    this.grasp = gripper
      ? new GraspCritic(obsDim, config.hidden, new Random(config.seed ^ 0x96a5), {
          layerNorm: config.criticLayerNorm,
          lr: config.lr,
        })
      : undefined;
    this.#actor = new Actor(obsDim, actionDim, config.hidden, init, [
      config.logStdMin,
      config.logStdMax,
    ]);
    const critic = () =>
      new Critic(obsDim + actionDim, config.hidden, init, config.criticLayerNorm);
    this.#critics = Array.from({ length: config.ensembleSize }, () => critic());
    this.#targets = Array.from({ length: config.ensembleSize }, () => critic());
    this.#targets.forEach((t, e) =>
      t.variables.forEach((v, i) => v.assign(this.#critics[e]!.variables[i]!)),
    );
    this.#criticVars = this.#critics.flatMap((c) => c.variables);
    this.#targetVars = this.#targets.flatMap((c) => c.variables);
    this.#everyCritic = this.#critics.map((_, e) => e);
    this.#logAlpha = tf.tidy(() => tf.variable(tf.scalar(Math.log(config.initTemperature)), true));
    this.#criticOptimizer = new Adam(this.#criticVars, config.lr);
    try {
      const { learningRate: lr, ...adam } = this.#criticOptimizer.getConfig();
      this.#native = nativeCritics(
        config,
        obsDim + actionDim,
        { lr, ...adam },
        options.nativeAddon,
      );
      this.#actorOptimizer = new Adam(this.#actor.variables, config.lr);
      this.#alphaOptimizer = new Adam([this.#logAlpha], config.lr);
      this.targetEntropy = targetEntropyOf(config, actionDim);
      this.#actorNative = nativeActor(
        config,
        this.#native !== undefined,
        {
          obsDim,
          actionDim,
          logStd: this.#actor.logStdRange,
          targetEntropy: this.targetEntropy,
          hyper: { lr, ...adam },
        },
        options.nativeAddon,
      );
    } catch (err) {
      for (const net of [this.#actor, ...this.#critics, ...this.#targets]) net.dispose();
      this.#logAlpha.dispose();
      this.grasp?.dispose();
      throw err;
    }
    if (this.#native) this.criticsChanged();
    this.actorChanged();
    this.#batch = allocBatch(config.batchSize, obsDim, actionDim, !!gripper);
    let dim = obsDim + actionDim;
    const work = config.hidden.reduce((sum, h) => {
      const macs = sum + dim * h;
      dim = h;
      return macs;
    }, 0);
    const wanted = this.#native
      ? 0 // the native critics run on their own threads; tfjs helpers would only contend
      : options.helpers === 'always'
        ? config.threads - 1
        : tf.getBackend() === 'wasm' && work * config.batchSize >= HELPER_MIN_WORK
          ? Math.min(config.threads, availableParallelism()) - 1
          : 0;
    for (let k = 0; k < Math.min(wanted, config.ensembleSize); k++) {
      this.#helpers.push(
        new CriticHelper({
          backend: tf.getBackend(),
          obsDim,
          actionDim,
          hidden: [...config.hidden],
          criticLayerNorm: config.criticLayerNorm,
          logStd: [config.logStdMin, config.logStdMax],
        }),
      );
    }
  }

  /**
   * The online critics. With native critics, their variables are brought up to date when this is
   * read (and not again until an update changes them): read it again after an update.
   */
  get critics(): Critic[] {
    this.#syncFromNative();
    return this.#critics;
  }

  /** The target critics (up to date when read, as `critics`). */
  get targets(): Critic[] {
    this.#syncFromNative();
    return this.#targets;
  }

  /** The critics' Adam (its state up to date when read, as `critics`). */
  get criticOptimizer(): Adam {
    this.#syncFromNative();
    return this.#criticOptimizer;
  }

  /** 'native' or 'tfjs': where the critics train. */
  get criticBackend(): 'native' | 'tfjs' {
    return this.#native ? 'native' : 'tfjs';
  }

  /** With native critics, their library, kernel and threads ("openblas 0.3.21, Zen, 2 threads"). */
  get nativeCriticsInfo(): string | undefined {
    return this.#native?.description;
  }

  /**
   * After the critics', targets' variables or the critic optimizer's state were written from
   * outside (a checkpoint restore): the native critics take them. Nothing to do on tfjs.
   */
  criticsChanged(): void {
    const native = this.#native;
    if (!native) return;
    native.ensemble.setWeights(
      this.#criticVars.map((v) => read(v).slice()),
      this.#targetVars.map((v) => read(v).slice()),
    );
    const adam = this.#criticOptimizer;
    const moments = adam.moments;
    if (moments) native.ensemble.setAdam(adam.iterations, [...moments.m], [...moments.v]);
    else native.ensemble.setAdam(adam.iterations);
    this.#stale = false;
  }

  /** The native critics' weights and Adam state into the tfjs copies, if they are behind. */
  #syncFromNative(): void {
    const native = this.#native;
    if (!native || !this.#stale) return;
    this.#stale = false;
    const { online, target } = native.ensemble.getWeights();
    tf.tidy(() => {
      this.#criticVars.forEach((v, k) => v.assign(tf.tensor(online[k]!, v.shape, 'float32')));
      this.#targetVars.forEach((v, k) => v.assign(tf.tensor(target[k]!, v.shape, 'float32')));
    });
    const { step, m, v } = native.ensemble.getAdam();
    this.#criticOptimizer.restore(step, step > 0 ? { m, v } : undefined);
  }

  /**
   * The actor. With the native actor, its variables are brought up to date when this is read
   * (and not again until an update changes them): read it again after an update.
   */
  get actor(): Actor {
    this.#syncActorFromNative();
    return this.#actor;
  }

  /** log α (up to date when read, as `actor`). */
  get logAlpha(): tf.Variable {
    this.#syncActorFromNative();
    return this.#logAlpha;
  }

  /** The actor's Adam (its state up to date when read, as `actor`). */
  get actorOptimizer(): Adam {
    this.#syncActorFromNative();
    return this.#actorOptimizer;
  }

  /** log α's Adam (its state up to date when read, as `actor`). */
  get alphaOptimizer(): Adam {
    this.#syncActorFromNative();
    return this.#alphaOptimizer;
  }

  /** Where the critics and the actor train (backend.ts describeBackend). */
  get placement(): Placement {
    return { nativeCritics: this.nativeCriticsInfo, actor: this.actorBackend };
  }

  /** 'native' or 'tfjs': where the actor and the temperature train (now). */
  get actorBackend(): 'native' | 'tfjs' {
    return this.#actorNative ? 'native' : 'tfjs';
  }

  /**
   * After the actor's variables, log α or their optimizers' state were written from outside (a
   * checkpoint restore): the native actor takes them. Nothing to do on tfjs.
   */
  actorChanged(): void {
    const native = this.#actorNative;
    if (!native) return;
    const logAlpha = read(this.#logAlpha)[0]!;
    native.setWeights(
      this.#actor.variables.map((v) => read(v).slice()),
      logAlpha,
    );
    const adam = this.#actorOptimizer;
    const m = adam.moments;
    const alpha = this.#alphaOptimizer;
    const am = alpha.moments;
    native.setAdam(
      m ? { step: adam.iterations, m: [...m.m], v: [...m.v] } : { step: adam.iterations },
      am
        ? { step: alpha.iterations, m: am.m[0]![0]!, v: am.v[0]![0]! }
        : { step: alpha.iterations },
    );
    this.#alpha = Math.exp(logAlpha);
    this.#actorStale = false;
  }

  /** The native actor's weights, log α and Adam states into the tfjs copies, if they are behind. */
  #syncActorFromNative(): void {
    const native = this.#actorNative;
    if (!native || !this.#actorStale) return;
    this.#actorStale = false;
    const { actor, logAlpha } = native.getWeights();
    tf.tidy(() => {
      this.#actor.variables.forEach((v, k) => v.assign(tf.tensor(actor[k]!, v.shape, 'float32')));
      this.#logAlpha.assign(tf.scalar(logAlpha, 'float32'));
    });
    const adam = native.getAdam();
    this.#actorOptimizer.restore(
      adam.actor.step,
      adam.actor.step > 0 ? { m: adam.actor.m, v: adam.actor.v } : undefined,
    );
    this.#alphaOptimizer.restore(
      adam.alpha.step,
      adam.alpha.step > 0
        ? { m: [Float32Array.of(adam.alpha.m)], v: [Float32Array.of(adam.alpha.v)] }
        : undefined,
    );
  }

  /** Helper threads ready to take work (they start in the background). */
  get helpersReady(): number {
    return this.#helpers.filter((h) => h.ready).length;
  }

  /** Requests the helper threads have answered so far. */
  get helperAnswers(): number {
    return this.#helpers.reduce((sum, h) => sum + h.answered, 0);
  }

  /**
   * Runs `local(i)` for each critic index, except that with helper threads ready, index i goes
   * to thread i mod T (0 is this one; one request per index), and what a helper answers `remote`
   * turns into the same result. This thread, done with its own indices, steals back the requests
   * a helper has not started. Results come back in the order of `indices`.
   */
  #spread<R>(
    indices: readonly number[],
    nets: readonly Critic[],
    slot: string,
    kind: HelperKind,
    body: Omit<HelperRequest, 'id' | 'kind' | 'items'>,
    local: (i: number) => R,
    remote: (r: HelperResult) => R,
  ): R[] {
    const helpers = this.#helpers.filter((h) => h.ready);
    const threads = helpers.length + 1;
    const sent = indices
      .filter((i) => i % threads !== 0)
      .map((i) => {
        const helper = helpers[(i % threads) - 1]!;
        return { i, helper, id: helper.post(kind, [[`${slot}${i}`, nets[i]!]], body) };
      });
    const out = new Map<number, R>();
    for (const i of indices) if (i % threads === 0) out.set(i, local(i));
    const waiting = [];
    for (const s of [...sent].reverse()) {
      if (this.#steal && s.helper.steal(s.id)) out.set(s.i, local(s.i));
      else waiting.unshift(s);
    }
    for (const s of waiting) {
      const answer = s.helper.wait(s.id);
      out.set(s.i, answer ? remote(answer[0]!) : local(s.i));
    }
    return indices.map((i) => out.get(i)!);
  }

  get temperature(): number {
    if (this.#actorNative) return this.#alpha;
    return Math.exp(this.#logAlpha.dataSync()[0]!);
  }

  /** β of sac+bc at this point of the schedule: linear decay to 0 over bcDecaySteps actor updates. */
  get bcWeight(): number {
    const { actorLoss, bcWeight, bcDecaySteps } = this.config;
    if (actorLoss === 'sac' || actorLoss === 'awr') return 0;
    if (actorLoss === 'bc') return 1;
    return bcWeight * Math.max(0, 1 - (this.actorUpdates - this.bcFrom) / bcDecaySteps);
  }

  /**
   * Switches the actor loss from the next update on (the studio's BC-warmup → RL hand-over).
   * Switching to sac+bc starts β's decay again from bcWeight (from handoverBcWeight, which then
   * becomes bcWeight, when the switch is from bc). Switching to awr with the native
   * actor brings the actor back to tfjs (synced) for the rest of the run.
   */
  setActorLoss(loss: ActorLoss): void {
    if (loss === 'awr' && this.#actorNative) {
      this.#syncActorFromNative();
      this.#actorNative = undefined;
    }
    const from = this.config.actorLoss;
    if (loss === 'sac+bc' && from !== 'sac+bc') this.bcFrom = this.actorUpdates;
    // The hand-over from BC-warmup: β starts at handoverBcWeight (kept in the config, so
    // checkpoints carry it).
    const handover = loss === 'sac+bc' && from === 'bc';
    this.config = {
      ...this.config,
      actorLoss: loss,
      ...(handover ? { bcWeight: this.config.handoverBcWeight } : {}),
    };
  }

  /** ε ~ N(0, I) for `rows` actions, row-major, from the learner's generator. */
  /**
   * Takes one transition of the task (its whole action) into a buffer; with a discrete gripper,
   * the gripper's entry becomes the transition's choice (src/learner/grasp.ts). Transitions of an
   * episode must come in order for that choice to be read right.
   */
  add(
    which: 'online' | 'demo',
    t: {
      obs: ArrayLike<number>;
      action: ArrayLike<number>;
      reward: number;
      nextObs: ArrayLike<number>;
      done: boolean;
    },
  ): void {
    if (t.action.length !== this.taskActionDim) {
      throw new Error(
        `transition has action ${t.action.length}; the task takes ${this.taskActionDim}`,
      );
    }
    const splitter = this.#splitters?.[which];
    if (!splitter) {
      this[which].add(t as Parameters<ReplayBuffer['add']>[0]);
      return;
    }
    const action = new Float32Array(this.actionDim);
    const choice = splitter.split(t.obs, t.action, t.nextObs, action);
    this[which].add({ ...t, action } as Parameters<ReplayBuffer['add']>[0], choice);
  }

  #noiseValues(rows: number): Float32Array {
    const eps = new Float32Array(rows * this.actionDim);
    for (let i = 0; i < eps.length; i++) eps[i] = this.rng.normal();
    return eps;
  }

  #noise(rows: number): tf.Tensor2D {
    return tf.tensor2d(this.#noiseValues(rows), [rows, this.actionDim]);
  }

  /** m distinct critic indices out of E, drawn with the learner's generator. */
  #subset(): number[] {
    const all = this.#everyCritic.slice();
    for (let i = all.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, this.config.minSubset);
  }

  /**
   * One learner step: `utd` critic updates, then (every `actorEvery` steps) one actor and one
   * temperature update. Returns metrics when `report` is set.
   */
  update(
    report = false,
  ): (UpdateMetrics & Partial<AdvantageMetrics> & Partial<GraspMetrics>) | undefined {
    if (this.online.size + this.demo.size === 0)
      throw new Error('the learner has no data to train on');
    const c = this.config;
    const actorDue = (this.steps + 1) % c.actorEvery === 0;
    const critic: Partial<Record<CriticMetric, number>> = {};
    const actor: Partial<Record<ActorMetric, number>> = {};
    let grasp: GraspMetrics | undefined;
    let lastFromOnline = 0;
    tf.tidy(() => {
      let fromOnline = 0;
      let actorPass: ActorPass | undefined;
      for (let k = 0; k < c.utd; k++) {
        fromOnline = sampleMixed(
          this.online,
          this.demo,
          c.onlineRatio,
          this.#batch,
          this.rng,
        ).fromOnline;
        const noise = this.#noiseValues(this.#batch.size);
        const subset = this.#subset();
        const last = k === c.utd - 1;
        actorPass = this.#criticStep(
          noise,
          subset,
          last && actorDue,
          report && last ? critic : undefined,
        );
        grasp = this.grasp?.update(this.#batch, this.obsDim, c);
      }
      this.steps++;
      if (actorPass) this.#actorStep(actorPass, fromOnline, report ? actor : undefined);
      lastFromOnline = fromOnline;
    });
    if (!report) return undefined;
    const demoQ = this.#demoStateQ(lastFromOnline);
    const a = (name: ActorMetric) => {
      // Actor figures on a step without an actor update (actorEvery > 1): the last ones measured.
      const v = actor[name] ?? this.#lastActor[name] ?? 0;
      this.#lastActor[name] = v;
      return v;
    };
    const q = (name: CriticMetric) => critic[name]!;
    return {
      step: this.steps,
      critic_loss: q('critic_loss'),
      q_mean: q('q_mean'),
      q_std: q('q_std'),
      q_max: q('q_max'),
      q_abs_mean: q('q_abs_mean'),
      td_target_mean: q('td_target_mean'),
      actor_loss: a('actor_loss'),
      entropy: a('entropy'),
      temperature: this.temperature,
      target_entropy: this.targetEntropy,
      bc_loss: a('bc_loss'),
      bc_weight: this.bcWeight,
      q_term_scale: a('q_term_scale'),
      critic_grad_norm: q('critic_grad_norm'),
      actor_grad_norm: a('actor_grad_norm'),
      reward_mean: q('reward_mean'),
      reward_min: q('reward_min'),
      reward_max: q('reward_max'),
      online_size: this.online.size,
      demo_size: this.demo.size,
      ...demoQ,
      ...(grasp ?? {}),
      ...(this.config.actorLoss === 'awr'
        ? { adv_weight_mean: a('adv_weight_mean'), adv_weight_max: a('adv_weight_max') }
        : {}),
    };
  }

  /**
   * One critic update on the sampled batch, then the Polyak update of the targets. With
   * `withActor`, also the actor's forward pass on the batch's obs for the actor update that
   * follows (the actor does not change in between): a helper thread then runs the pass on next
   * obs meanwhile.
   */
  #criticStep(
    noise: Float32Array,
    subset: number[],
    withActor: boolean,
    metrics: Partial<Record<CriticMetric, number>> | undefined,
  ): ActorPass | undefined {
    const c = this.config;
    const b = this.#batch;
    const n = b.size;
    const O = this.obsDim;
    const A = this.actionDim;
    const alpha = this.temperature;
    // a' ~ π(·|s'), and π's pass on s for the actor update
    let pass: ActorPass | undefined;
    let nextHeads: Float32Array | undefined;
    let next: { action: Float32Array; logProb: Float64Array } | undefined;
    if (this.#actorNative) {
      // the native actor samples a′ (its `sample` on obs comes in #nativeActorStep)
      next = this.#actorNative.sample(b.nextObs, noise);
      if (withActor) pass = NATIVE_PASS;
    } else if (withActor) {
      const helper = this.#helpers.find((h) => h.ready);
      const id = helper?.post('heads', [['actor', this.#actor]], {
        input: b.nextObs,
        rows: n,
        cols: O,
      });
      const obs = make<tf.Rank.R2>([n, O], (out) => out.set(b.obs));
      const tape: tf.Tensor2D[] = [];
      pass = { obs, tape, heads: read(this.#actor.heads(obs, tape)).slice() };
      if (id !== undefined && !(this.#steal && helper!.steal(id)))
        nextHeads = helper!.wait(id)?.[0]!.values;
    }
    if (!next) {
      nextHeads ??= read(this.#actor.heads(make([n, O], (out) => out.set(b.nextObs))));
      next = samplePolicy(nextHeads, 0, n, A, noise, this.#actor.logStdRange);
    }

    if (this.#native) {
      const m = this.#native.ensemble.update({
        sa: joinRows(b.obs, b.action, n).values,
        reward: b.reward,
        done: b.done,
        nextSa: joinRows(b.nextObs, next.action, n).values,
        nextLogProb: next.logProb,
        alpha,
        subset: Int32Array.from(subset),
      });
      this.#stale = true;
      if (metrics) Object.assign(metrics, criticMetricsOf(m));
      return pass;
    }

    // y = r·scale + shift + γ(1 − done)·(min_{i∈subset} Q̄_i(s', a') − [backup] α·log π(a'|s'))
    const nextSa = joinRows(b.nextObs, next.action, n);
    const rows = { input: nextSa.values, rows: n, cols: O + A };
    const qs = this.#spread(
      subset,
      this.#targets,
      'target',
      'target',
      rows,
      (i) => targetQ(this.#targets[i]!, nextSa.tensor),
      (r) => r.q!,
    );
    const y = new Float64Array(n);
    const reward = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let min = Number.POSITIVE_INFINITY;
      for (const q of qs) min = Math.min(min, q[r]!);
      if (c.backupEntropy) min -= alpha * next.logProb[r]!;
      reward[r] = b.reward[r]! * c.rewardScale + c.rewardShift;
      y[r] = reward[r]! + (1 - b.done[r]!) * c.gamma * min;
    }

    // L = Σ_e mean((Q_e(s, a) − y)²)
    const sa = joinRows(b.obs, b.action, n);
    const E = this.#critics.length;
    const results = this.#spread(
      this.#everyCritic,
      this.#critics,
      'critic',
      'critic',
      { input: sa.values, rows: n, cols: O + A, y },
      (e) => criticGradients(this.#critics[e]!, sa.tensor, y),
      (r) => ({ q: r.q!, grads: r.grads! as Grad[] }),
    );
    {
      let loss = 0;
      for (const { q } of results) {
        let sum = 0;
        for (let r = 0; r < n; r++) sum += (q[r]! - y[r]!) ** 2;
        loss += sum / n;
      }
      if (metrics) {
        const qs = results.map((r) => r.q);
        let qSum = 0;
        let qAbs = 0;
        let qMax = Number.NEGATIVE_INFINITY;
        let stdSum = 0;
        for (let r = 0; r < n; r++) {
          let m = 0;
          for (const q of qs) m += q[r]!;
          m /= E;
          let v = 0;
          for (const q of qs) {
            const x = q[r]!;
            v += (x - m) * (x - m);
            qSum += x;
            qAbs += Math.abs(x);
            qMax = Math.max(qMax, x);
          }
          stdSum += Math.sqrt(v / E);
        }
        metrics.q_mean = qSum / (n * E);
        metrics.q_std = stdSum / n;
        metrics.q_max = qMax;
        metrics.q_abs_mean = qAbs / (n * E);
        metrics.critic_loss = loss;
        metrics.td_target_mean = y.reduce((s, v) => s + v, 0) / n;
        metrics.reward_mean = reward.reduce((s, v) => s + v, 0) / n;
        metrics.reward_min = reward.reduce((s, v) => Math.min(s, v), Number.POSITIVE_INFINITY);
        metrics.reward_max = reward.reduce((s, v) => Math.max(s, v), Number.NEGATIVE_INFINITY);
      }
    }
    const grads = results.flatMap((r) => r.grads);
    const clip = clipping(grads, c.gradClip, metrics !== undefined);
    if (metrics) metrics.critic_grad_norm = clip.norm;
    this.#criticOptimizer.step(grads, clip.scale);
    polyak(this.#targetVars, this.#criticVars, c.tau);
    return pass;
  }

  /** One actor update on the last critic update's batch, and one temperature update. */
  #actorStep(
    pass: ActorPass,
    fromOnline: number,
    metrics: Partial<Record<ActorMetric, number>> | undefined,
  ): void {
    if (this.#actorNative) {
      this.#nativeActorStep(this.#actorNative, fromOnline, metrics);
      return;
    }
    const { obs, tape, heads } = pass;
    const c = this.config;
    const n = this.#batch.size;
    const noise = this.#noiseValues(n);
    const pi = samplePolicy(heads, 0, n, this.actionDim, noise, this.#actor.logStdRange);
    let meanLogProb = 0;
    for (let r = 0; r < n; r++) meanLogProb += pi.logProb[r]!;
    meanLogProb /= n;
    const { loss, dHeads } =
      c.actorLoss === 'awr'
        ? this.#awrLoss(heads, pi, metrics)
        : this.#sacLoss(pi, meanLogProb, fromOnline, metrics);
    const grads = this.#actor.backward(obs, tape, dHeads, this.#offload());
    const clip = clipping(grads, c.gradClip, metrics !== undefined);
    this.#actorOptimizer.step(grads, clip.scale);
    // α loss = −log α · (log π + H̄), log π detached: gradient −(mean log π + H̄)
    const alphaGrad = -(meanLogProb + this.targetEntropy);
    this.#alphaOptimizer.step([{ values: Float32Array.of(alphaGrad), scale: 1 }]);
    this.actorUpdates++;
    if (metrics) {
      metrics.actor_loss = loss;
      metrics.entropy = -meanLogProb;
      metrics.actor_grad_norm = clip.norm;
    }
  }

  /**
   * #actorStep with the native actor: the same noise draw, a ~ π(s) from ActorNative.sample, Q
   * and dQ/da of it from the native critics (not for bc), and ActorNative.update (the actor's and
   * the temperature's).
   */
  #nativeActorStep(
    native: ActorNative,
    fromOnline: number,
    metrics: Partial<Record<ActorMetric, number>> | undefined,
  ): void {
    const c = this.config;
    const b = this.#batch;
    const n = b.size;
    const O = this.obsDim;
    const noise = this.#noiseValues(n);
    const pi = native.sample(b.obs, noise);
    const loss = c.actorLoss === 'awr' ? 'sac' : c.actorLoss; // awr never gets here
    let grad: { q: Float32Array; dQdA: Float32Array } | undefined;
    if (loss !== 'bc') {
      const E = c.ensembleSize;
      const sa = new Float32Array(n * (O + this.actionDim));
      joinRowsInto(sa, b.obs, pi.action, n);
      const { q, dInput } = this.#native!.ensemble.inputGradient(sa, -1 / (E * n), O);
      grad = { q, dQdA: dInput };
    }
    const m = native.update({
      loss,
      ...grad,
      normalizeQ: c.normalizeQ,
      beta: this.bcWeight,
      action: b.action,
      fromOnline,
    });
    this.#actorStale = true;
    this.#alpha = m.temperature;
    this.actorUpdates++;
    if (metrics) {
      metrics.actor_loss = m.actor_loss;
      metrics.entropy = m.entropy;
      metrics.bc_loss = m.bc_loss;
      metrics.q_term_scale = m.q_term_scale;
      metrics.actor_grad_norm = m.actor_grad_norm;
    }
  }

  /**
   * sac, sac+bc and bc: mean(α·log π(a|s)) [− mean_e Q_e(s, a)·qScale] [+ β·BC], a ~ π(s)
   * reparameterised; its value and dL/d(heads).
   */
  #sacLoss(
    pi: PolicySample,
    meanLogProb: number,
    fromOnline: number,
    metrics: Partial<Record<ActorMetric, number>> | undefined,
  ): { loss: number; dHeads: Float32Array } {
    const c = this.config;
    const b = this.#batch;
    const n = b.size;
    const O = this.obsDim;
    const A = this.actionDim;
    const alpha = Math.exp(read(this.#logAlpha)[0]!);
    const beta = this.bcWeight;
    const demoRows = n - fromOnline;
    let loss = alpha * meanLogProb;
    let qScale = 1;
    let dAction: Float32Array | undefined;
    if (c.actorLoss !== 'bc') {
      // With dL/dQ_e = −1/(E·n) for every row; the Q term's scale is applied after (sac+bc's
      // depends on Q itself), so that the critics' passes need no second round.
      const sa = joinRows(b.obs, pi.action, n);
      const E = this.#critics.length;
      const results = this.#native
        ? nativeInputGradient(this.#native.ensemble, sa.values, n, -1 / (E * n), O)
        : this.#spread(
            this.#everyCritic,
            this.#critics,
            'critic',
            'input',
            { input: sa.values, rows: n, cols: O + A, dq: -1 / (E * n), from: O },
            (e) => inputGradient(this.#critics[e]!, sa.tensor, -1 / (E * n), O),
            (r) => ({ q: r.q!, dInput: r.dInput! }),
          );
      let qMean = 0;
      let qAbs = 0;
      for (let r = 0; r < n; r++) {
        let m = 0;
        for (const { q } of results) m += q[r]!;
        m /= E;
        qMean += m;
        qAbs += Math.abs(m);
      }
      qMean /= n;
      qAbs /= n;
      // sac: −mean Q; sac+bc: −mean Q / mean|Q|.detach() (CPQL's normalisation, unless turned off)
      if (c.actorLoss === 'sac+bc' && c.normalizeQ) qScale = 1 / (qAbs + 1e-6);
      loss -= qMean * qScale;
      dAction = new Float32Array(n * A);
      for (const { dInput } of results) {
        for (let k = 0; k < dAction.length; k++) dAction[k] = dAction[k]! + dInput[k]!;
      }
      if (qScale !== 1) for (let k = 0; k < dAction.length; k++) dAction[k] = dAction[k]! * qScale;
    }
    // BC on the demo rows: ‖tanh(μ(s)) − a_demo‖², summed over dims, averaged over rows
    let bc = 0;
    let dMeanAction: Float32Array | undefined;
    if (beta > 0 && demoRows > 0) {
      dMeanAction = new Float32Array(n * A);
      for (let r = fromOnline; r < n; r++) {
        for (let j = 0; j < A; j++) {
          const d = pi.meanAction[r * A + j]! - b.action[r * A + j]!;
          bc += d * d;
          dMeanAction[r * A + j] = (beta * 2 * d) / demoRows;
        }
      }
      bc /= demoRows;
      loss += beta * bc;
    }
    if (metrics) {
      metrics.bc_loss = bc;
      metrics.q_term_scale = qScale;
    }
    return { loss, dHeads: policyBackward(pi, dAction, alpha / n, dMeanAction) };
  }

  /**
   * awr: −mean(w·log π(a|s)) over the batch's actions a, w = min(exp(A/T), max) detached, with
   * the advantage A = Q(s, a) − Q(s, a′), a′ ~ π(s) (`pi`), Q the ensemble's mean. α is not in
   * it (the temperature update still runs); its value and dL/d(heads).
   */
  #awrLoss(
    heads: Float32Array,
    pi: PolicySample,
    metrics: Partial<Record<ActorMetric, number>> | undefined,
  ): { loss: number; dHeads: Float32Array } {
    const c = this.config;
    const b = this.#batch;
    const n = b.size;
    const O = this.obsDim;
    const A = this.actionDim;
    // Q of both actions in one pass per critic: rows [s | a] then [s | a′]
    const input = new Float32Array(2 * n * (O + A));
    joinRowsInto(input.subarray(0, n * (O + A)), b.obs, b.action, n);
    joinRowsInto(input.subarray(n * (O + A)), b.obs, pi.action, n);
    let tensor: tf.Tensor2D | undefined;
    const qs = this.#native
      ? rowsOf(this.#native.ensemble.qValues(input), 2 * n)
      : this.#spread(
          this.#everyCritic,
          this.#critics,
          'critic',
          'target', // a forward pass only, as for a target critic
          { input, rows: 2 * n, cols: O + A },
          (e) => targetQ(this.#critics[e]!, (tensor ??= tf.tensor2d(input, [2 * n, O + A]))),
          (r) => r.q!,
        );
    const E = qs.length;
    const likelihood = actionLogProb(heads, 0, n, A, b.action, this.#actor.logStdRange);
    const dLogProb = new Float64Array(n);
    let loss = 0;
    let wSum = 0;
    let wMax = 0;
    for (let r = 0; r < n; r++) {
      let advantage = 0;
      for (const q of qs) advantage += q[r]! - q[n + r]!;
      advantage /= E;
      const w = Math.min(Math.exp(advantage / c.awrTemperature), c.awrMaxWeight);
      wSum += w;
      wMax = Math.max(wMax, w);
      loss -= (w * likelihood.logProb[r]!) / n;
      dLogProb[r] = -w / n;
    }
    if (metrics) {
      metrics.bc_loss = 0;
      metrics.q_term_scale = 1;
      metrics.adv_weight_mean = wSum / n;
      metrics.adv_weight_max = wMax;
    }
    return { loss, dHeads: actionLogProbBackward(likelihood, dLogProb) };
  }

  /** Sends the actor's hidden-layer weight gradients to a helper thread, when one is ready. */
  #offload(): WeightGradientOffload | undefined {
    const helper = this.#helpers.find((h) => h.ready);
    if (!helper) return undefined;
    return (x, dy) => {
      const [rows, cols] = x.shape;
      const input = read(x).slice();
      const other = read(dy).slice();
      const id = helper.post('product', [], { input, rows, cols, other, otherCols: dy.shape[1] }, [
        input.buffer,
        other.buffer,
      ]);
      return () => {
        const values = this.#steal && helper.steal(id) ? undefined : helper.wait(id)?.[0]!.values;
        return values ? { values, scale: 1 } : { tensor: weightGradient(x, dy), scale: 1 };
      };
    };
  }

  /**
   * UpdateMetrics' q_demo_action, q_policy_action and q_policy_spread on the last batch's demo
   * rows (from `fromOnline` on), with the critics and the actor as they are after the update.
   */
  #demoStateQ(
    fromOnline: number,
  ): Pick<UpdateMetrics, 'q_demo_action' | 'q_policy_action' | 'q_policy_spread'> {
    const b = this.#batch;
    const O = this.obsDim;
    const A = this.actionDim;
    const d = b.size - fromOnline;
    if (d <= 0) return {};
    const obs = b.obs.subarray(fromOnline * O);
    const qOf = (action: Float32Array): Float32Array[] => {
      const input = new Float32Array(d * (O + A));
      joinRowsInto(input, obs, action, d);
      if (this.#native) return rowsOf(this.#native.ensemble.qValues(input), d);
      return tf.tidy(() => {
        const t = tf.tensor2d(input, [d, O + A]);
        return this.#critics.map((critic) => targetQ(critic, t));
      });
    };
    const demoQs = qOf(b.action.subarray(fromOnline * A));
    const policyQs = qOf(this.act(obs, true));
    const E = demoQs.length;
    let demo = 0;
    let policy = 0;
    let spread = 0;
    for (let r = 0; r < d; r++) {
      let m = 0;
      let p = 0;
      let p2 = 0;
      for (let e = 0; e < E; e++) {
        m += demoQs[e]![r]!;
        p += policyQs[e]![r]!;
        p2 += policyQs[e]![r]! ** 2;
      }
      demo += m / E;
      policy += p / E;
      spread += Math.sqrt(Math.max(0, p2 / E - (p / E) ** 2));
    }
    return { q_demo_action: demo / d, q_policy_action: policy / d, q_policy_spread: spread / d };
  }

  /** Actions for a batch of observations [n, obsDim]: the mean action, or a sample. */
  act(obs: Float32Array, deterministic: boolean): Float32Array {
    const n = obs.length / this.obsDim;
    return tf.tidy(() => {
      const o = tf.tensor2d(obs, [n, this.obsDim]);
      const a = deterministic
        ? this.actor.meanAction(o)
        : this.actor.sample(o, this.#noise(n)).action;
      return a.dataSync() as Float32Array;
    });
  }

  dispose(): void {
    for (const helper of this.#helpers) helper.terminate();
    for (const net of [this.#actor, ...this.#critics, ...this.#targets]) net.dispose();
    this.#logAlpha.dispose();
    this.grasp?.dispose();
  }
}

/** #criticStep's stand-in pass with the native actor (which keeps its own). */
const NATIVE_PASS: ActorPass = {
  obs: undefined as unknown as tf.Tensor2D,
  tape: [],
  heads: new Float32Array(0),
};

/** The actor's forward pass on the batch's obs, done ahead for the actor update. */
interface ActorPass {
  obs: tf.Tensor2D;
  /** Hidden layers' outputs. */
  tape: tf.Tensor2D[];
  /** The heads' outputs [n, 2·A]. */
  heads: Float32Array;
}

/** The native update's figures under UpdateMetrics' names. */
function criticMetricsOf(m: CriticUpdateMetrics): Record<CriticMetric, number> {
  return {
    critic_loss: m.loss,
    q_mean: m.qMean,
    q_std: m.qStd,
    q_max: m.qMax,
    q_abs_mean: m.qAbsMean,
    td_target_mean: m.tdTargetMean,
    critic_grad_norm: m.gradNorm,
    reward_mean: m.rewardMean,
    reward_min: m.rewardMin,
    reward_max: m.rewardMax,
  };
}

/** [E, rows] as E views of `rows` each. */
function rowsOf(q: Float32Array, rows: number): Float32Array[] {
  return Array.from({ length: q.length / rows }, (_, e) => q.subarray(e * rows, (e + 1) * rows));
}

/**
 * The native critics' Q and dQ/da as the tfjs path's per-critic results: the summed input
 * gradient goes with the first critic, zeros with the others (#sacLoss sums them).
 */
function nativeInputGradient(
  ensemble: CriticEnsemble,
  sa: Float32Array,
  n: number,
  dq: number,
  from: number,
): { q: Float32Array; dInput: Float32Array }[] {
  const { q, dInput } = ensemble.inputGradient(sa, dq, from);
  const none = new Float32Array(dInput.length);
  return rowsOf(q, n).map((qe, e) => ({ q: qe, dInput: e === 0 ? dInput : none }));
}
