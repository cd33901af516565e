import * as tf from '@tensorflow/tfjs';
import { Random } from '../util/random.ts';
import { allocBatch, type Batch, ReplayBuffer, sampleMixed } from './buffer.ts';
import { type LearnerConfig, targetEntropyOf } from './config.ts';
import { stopGradient } from './layers.ts';
import { Actor, Critic } from './networks.ts';

/** What one learner step reports (when asked to); names are the metric names stored in SQLite. */
export interface LearnerMetrics {
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
}

const ACTOR_METRIC = { actor_loss: 1, entropy: 1, bc_loss: 1, q_term_scale: 1, actor_grad_norm: 1 };

/** Scales gradients so that their global norm is at most `clip`; returns the norm before. */
function clipByGlobalNorm(
  grads: tf.NamedTensorMap,
  clip: number,
): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
  if (!Number.isFinite(clip)) return { grads, norm };
  const scale = tf.minimum(1, tf.div(clip, tf.add(norm, 1e-6)));
  return {
    grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)])),
    norm,
  };
}

/**
 * RLPD: SAC with an ensemble of LayerNorm critics, `utd` critic updates per learner step on their
 * own minibatches, symmetric online/demo sampling, and optional BC terms (LEARNER.md).
 */
export class Sac {
  readonly config: LearnerConfig;
  readonly obsDim: number;
  readonly actionDim: number;
  readonly online: ReplayBuffer;
  readonly demo: ReplayBuffer;
  readonly actor: Actor;
  readonly critics: Critic[];
  readonly targets: Critic[];
  readonly logAlpha: tf.Variable;
  readonly criticOptimizer: tf.Optimizer;
  readonly actorOptimizer: tf.Optimizer;
  readonly alphaOptimizer: tf.Optimizer;
  readonly targetEntropy: number;
  readonly rng: Random;
  /** Learner steps and actor updates done so far. */
  steps = 0;
  actorUpdates = 0;
  readonly #lastActor: Record<string, number> = {};
  readonly #batch: Batch;
  readonly #criticVars: tf.Variable[];

  constructor(obsDim: number, actionDim: number, config: LearnerConfig) {
    this.config = config;
    this.obsDim = obsDim;
    this.actionDim = actionDim;
    this.rng = new Random(config.seed);
    const init = new Random(config.seed ^ 0x5eed);
    this.online = new ReplayBuffer(config.onlineCapacity, obsDim, actionDim);
    this.demo = new ReplayBuffer(config.demoCapacity, obsDim, actionDim);
    this.actor = new Actor(obsDim, actionDim, config.hidden, init, [
      config.logStdMin,
      config.logStdMax,
    ]);
    const critic = () => new Critic(obsDim + actionDim, config.hidden, init);
    this.critics = Array.from({ length: config.ensembleSize }, () => critic());
    this.targets = Array.from({ length: config.ensembleSize }, () => critic());
    this.targets.forEach((t, e) =>
      t.variables.forEach((v, i) => v.assign(this.critics[e]!.variables[i]!)),
    );
    this.#criticVars = this.critics.flatMap((c) => c.variables);
    this.logAlpha = tf.variable(tf.scalar(Math.log(config.initTemperature)), true);
    this.criticOptimizer = tf.train.adam(config.lr);
    this.actorOptimizer = tf.train.adam(config.lr);
    this.alphaOptimizer = tf.train.adam(config.lr);
    this.targetEntropy = targetEntropyOf(config, actionDim);
    this.#batch = allocBatch(config.batchSize, obsDim, actionDim);
  }

  get temperature(): number {
    return Math.exp(this.logAlpha.dataSync()[0]!);
  }

  /** β of sac+bc at this point of the schedule: linear decay to 0 over bcDecaySteps actor updates. */
  get bcWeight(): number {
    const { actorLoss, bcWeight, bcDecaySteps } = this.config;
    if (actorLoss === 'sac') return 0;
    if (actorLoss === 'bc') return 1;
    return bcWeight * Math.max(0, 1 - this.actorUpdates / bcDecaySteps);
  }

  #noise(rows: number): tf.Tensor2D {
    const eps = new Float32Array(rows * this.actionDim);
    for (let i = 0; i < eps.length; i++) eps[i] = this.rng.normal();
    return tf.tensor2d(eps, [rows, this.actionDim]);
  }

  #tensors(b: Batch) {
    const { size: n } = b;
    return {
      obs: tf.tensor2d(b.obs, [n, this.obsDim]),
      action: tf.tensor2d(b.action, [n, this.actionDim]),
      reward: tf.tensor1d(b.reward),
      nextObs: tf.tensor2d(b.nextObs, [n, this.obsDim]),
      done: tf.tensor1d(b.done),
    };
  }

  /** m distinct critic indices out of E, drawn with the learner's generator. */
  #subset(): number[] {
    const all = this.targets.map((_, i) => i);
    for (let i = all.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, this.config.minSubset);
  }

  /**
   * One learner step: `utd` critic updates, then (every `actorEvery` steps) one actor and one
   * temperature update. Returns metrics when `report` is set (reading them back costs a sync).
   */
  update(report = false): LearnerMetrics | undefined {
    if (this.online.size + this.demo.size === 0)
      throw new Error('the learner has no data to train on');
    const c = this.config;
    const scalars: Record<string, tf.Scalar> = {};
    let fromOnline = 0;
    for (let k = 0; k < c.utd; k++) {
      fromOnline = sampleMixed(
        this.online,
        this.demo,
        c.onlineRatio,
        this.#batch,
        this.rng,
      ).fromOnline;
      const last = k === c.utd - 1;
      tf.tidy(() => {
        const b = this.#tensors(this.#batch);
        const alpha = tf.exp(this.logAlpha);
        const noise = this.#noise(this.#batch.size);
        const subset = this.#subset();
        // y = r·scale + shift + γ(1 − done)·(min_{i∈subset} Q̄_i(s', a') − [backup] α·log π(a'|s'))
        const reward = tf.add(tf.mul(b.reward, c.rewardScale), c.rewardShift);
        const next = this.actor.sample(b.nextObs, noise);
        const nextSa = tf.concat([b.nextObs, next.action], 1);
        let nextQ = subset
          .map((i) => this.targets[i]!.apply(nextSa))
          .reduce((m, q) => tf.minimum(m, q));
        if (c.backupEntropy) nextQ = tf.sub(nextQ, tf.mul(alpha, next.logProb));
        const y = tf.add(reward, tf.mul(tf.mul(tf.sub(1, b.done), c.gamma), nextQ));
        const sa = tf.concat([b.obs, b.action], 1);
        let qs: tf.Tensor1D[] = [];
        // L = Σ_e mean((Q_e(s, a) − y)²)
        const { value, grads } = tf.variableGrads(() => {
          qs = this.critics.map((q) => tf.keep(q.apply(sa))); // read after the gradient scope
          return tf.addN(qs.map((q) => tf.mean(tf.square(tf.sub(q, y))))) as tf.Scalar;
        }, this.#criticVars);
        const clipped = clipByGlobalNorm(grads, c.gradClip);
        this.criticOptimizer.applyGradients(clipped.grads);
        this.#polyak();
        if (report && last) {
          const stacked = tf.stack(qs);
          const keep = (name: string, t: tf.Tensor) => (scalars[name] = tf.keep(t as tf.Scalar));
          keep('critic_loss', value);
          keep('q_mean', tf.mean(stacked));
          keep('q_std', tf.mean(tf.sqrt(tf.moments(stacked, 0).variance)));
          keep('q_max', tf.max(stacked));
          keep('q_abs_mean', tf.mean(tf.abs(stacked)));
          keep('td_target_mean', tf.mean(y));
          keep('critic_grad_norm', clipped.norm);
          keep('reward_mean', tf.mean(reward));
          keep('reward_min', tf.min(reward));
          keep('reward_max', tf.max(reward));
        }
        for (const q of qs) q.dispose();
      });
    }
    this.steps++;
    if (this.steps % c.actorEvery === 0)
      this.#updateActor(fromOnline, report ? scalars : undefined);
    if (!report) return undefined;
    const read = (name: string) => {
      const t = scalars[name];
      // Actor figures on a step without an actor update (actorEvery > 1): the last ones measured.
      if (!t) return this.#lastActor[name] ?? 0;
      const v = t.dataSync()[0]!;
      t.dispose();
      if (name in ACTOR_METRIC) this.#lastActor[name] = v;
      return v;
    };
    return {
      step: this.steps,
      critic_loss: read('critic_loss'),
      q_mean: read('q_mean'),
      q_std: read('q_std'),
      q_max: read('q_max'),
      q_abs_mean: read('q_abs_mean'),
      td_target_mean: read('td_target_mean'),
      actor_loss: read('actor_loss'),
      entropy: read('entropy'),
      temperature: this.temperature,
      target_entropy: this.targetEntropy,
      bc_loss: read('bc_loss'),
      bc_weight: this.bcWeight,
      q_term_scale: read('q_term_scale'),
      critic_grad_norm: read('critic_grad_norm'),
      actor_grad_norm: read('actor_grad_norm'),
      reward_mean: read('reward_mean'),
      reward_min: read('reward_min'),
      reward_max: read('reward_max'),
      online_size: this.online.size,
      demo_size: this.demo.size,
    };
  }

  /** θ̄ ← τ·θ + (1 − τ)·θ̄ for every target critic. */
  #polyak(): void {
    const tau = this.config.tau;
    this.targets.forEach((target, e) => {
      const source = this.critics[e]!.variables;
      target.variables.forEach((v, i) =>
        v.assign(tf.add(tf.mul(source[i]!, tau), tf.mul(v, 1 - tau))),
      );
    });
  }

  #updateActor(fromOnline: number, scalars: Record<string, tf.Scalar> | undefined): void {
    const c = this.config;
    const beta = this.bcWeight;
    const demoRows = this.#batch.size - fromOnline;
    tf.tidy(() => {
      const b = this.#tensors(this.#batch);
      const alpha = tf.exp(this.logAlpha);
      const noise = this.#noise(this.#batch.size);
      let logProb: tf.Tensor1D | undefined;
      let bc: tf.Scalar = tf.scalar(0);
      let qScale: tf.Scalar = tf.scalar(1);
      const { value, grads } = tf.variableGrads(() => {
        const pi = this.actor.sample(b.obs, noise);
        logProb = tf.keep(pi.logProb); // read after the gradient scope
        let loss = tf.mean(tf.mul(alpha, pi.logProb)) as tf.Scalar;
        if (c.actorLoss !== 'bc') {
          const sa = tf.concat([b.obs, pi.action], 1);
          const q = tf.div(
            tf.addN(this.critics.map((critic) => critic.apply(sa))),
            this.critics.length,
          );
          // sac: α·log π − Q; sac+bc: −Q / mean|Q|.detach() (CPQL's normalisation) + β·BC
          if (c.actorLoss === 'sac+bc') {
            qScale = tf.keep(
              tf.div(1, tf.add(stopGradient(tf.mean(tf.abs(q))), 1e-6)) as tf.Scalar,
            );
          }
          loss = tf.sub(loss, tf.mul(tf.mean(q), qScale));
        }
        if (beta > 0 && demoRows > 0) {
          // BC on the demo rows: ‖tanh(μ(s)) − a_demo‖², summed over dims, averaged over rows
          const mu = tf.slice(pi.meanAction, [fromOnline, 0], [demoRows, this.actionDim]);
          const target = tf.slice(b.action, [fromOnline, 0], [demoRows, this.actionDim]);
          bc = tf.keep(tf.mean(tf.sum(tf.square(tf.sub(mu, target)), 1)));
          loss = tf.add(loss, tf.mul(bc, beta));
        }
        return loss as tf.Scalar;
      }, this.actor.variables);
      const clipped = clipByGlobalNorm(grads, c.gradClip);
      this.actorOptimizer.applyGradients(clipped.grads);
      // α loss = −log α · (log π + H̄), log π detached: gradient −(mean log π + H̄)
      const meanLogProb = tf.mean(logProb!);
      const alphaGrad = tf.neg(tf.add(meanLogProb, this.targetEntropy));
      this.alphaOptimizer.applyGradients({ [this.logAlpha.name]: alphaGrad });
      if (scalars) {
        scalars.actor_loss = tf.keep(value);
        scalars.entropy = tf.keep(tf.neg(meanLogProb) as tf.Scalar);
        scalars.bc_loss = tf.keep(tf.clone(bc));
        scalars.q_term_scale = tf.keep(tf.clone(qScale));
        scalars.actor_grad_norm = tf.keep(clipped.norm);
      }
      for (const t of [logProb!, bc, qScale]) t.dispose();
    });
    this.actorUpdates++;
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
    for (const v of [
      ...this.actor.variables,
      ...this.#criticVars,
      ...this.targets.flatMap((t) => t.variables),
      this.logAlpha,
    ])
      v.dispose();
    this.criticOptimizer.dispose();
    this.actorOptimizer.dispose();
    this.alphaOptimizer.dispose();
  }
}
