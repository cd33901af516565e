import * as tf from '@tensorflow/tfjs';
import type { Random } from '../util/random.ts';
import { Dense, LayerNorm } from './layers.ts';

/** A Q network: [obs, action] → hidden layers (Dense → LayerNorm → ReLU) → Q. */
export class Critic {
  readonly #layers: { dense: Dense; norm: LayerNorm }[];
  readonly #out: Dense;

  constructor(inDim: number, hidden: readonly number[], rng: Random) {
    let dim = inDim;
    this.#layers = hidden.map((h) => {
      const layer = { dense: new Dense(dim, h, rng, 1), norm: new LayerNorm(h) };
      dim = h;
      return layer;
    });
    this.#out = new Dense(dim, 1, rng, 0.01);
  }

  /** Q(s, a) as a [B] vector; `sa` is obs and action concatenated. */
  apply(sa: tf.Tensor2D): tf.Tensor1D {
    let h = sa;
    for (const { dense, norm } of this.#layers) h = tf.relu(norm.apply(dense.apply(h)));
    return tf.reshape(this.#out.apply(h), [-1]);
  }

  get variables(): tf.Variable[] {
    return [
      ...this.#layers.flatMap((l) => [...l.dense.variables, ...l.norm.variables]),
      ...this.#out.variables,
    ];
  }
}

export interface PolicyOutput {
  /** tanh-squashed action. */
  action: tf.Tensor2D;
  /** log π(a|s), corrected for the tanh squash, [B]. */
  logProb: tf.Tensor1D;
  /** tanh(mean): the deterministic action. */
  meanAction: tf.Tensor2D;
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** A tanh-squashed Gaussian policy: obs → hidden (Dense → ReLU) → mean and log-std per dimension. */
export class Actor {
  readonly actionDim: number;
  readonly #hidden: Dense[];
  readonly #mean: Dense;
  readonly #logStd: Dense;
  readonly #logStdMin: number;
  readonly #logStdMax: number;

  constructor(
    obsDim: number,
    actionDim: number,
    hidden: readonly number[],
    rng: Random,
    logStd: [number, number],
  ) {
    this.actionDim = actionDim;
    let dim = obsDim;
    this.#hidden = hidden.map((h) => {
      const layer = new Dense(dim, h, rng, 1);
      dim = h;
      return layer;
    });
    this.#mean = new Dense(dim, actionDim, rng, 0.01);
    this.#logStd = new Dense(dim, actionDim, rng, 0.01);
    [this.#logStdMin, this.#logStdMax] = logStd;
  }

  #trunk(obs: tf.Tensor2D): { mean: tf.Tensor2D; logStd: tf.Tensor2D } {
    let h = obs;
    for (const dense of this.#hidden) h = tf.relu(dense.apply(h));
    const mean = this.#mean.apply(h);
    // log-std squashed into [min, max] with tanh, so its gradient never dies at a clip.
    const span = 0.5 * (this.#logStdMax - this.#logStdMin);
    const logStd = tf.add(
      tf.mul(tf.add(tf.tanh(this.#logStd.apply(h)), 1), span),
      this.#logStdMin,
    ) as tf.Tensor2D;
    return { mean, logStd };
  }

  /** The deterministic action tanh(μ(s)). */
  meanAction(obs: tf.Tensor2D): tf.Tensor2D {
    return tf.tanh(this.#trunk(obs).mean);
  }

  /**
   * a = tanh(μ + σ·ε), ε ~ N(0, I) (reparameterised; `noise` is ε, drawn by the caller's seeded
   * generator). log π(a|s) = Σ [log N(u; μ, σ) − log(1 − tanh(u)²)], the latter as
   * 2(log 2 − u − softplus(−2u)) for numerical safety.
   */
  sample(obs: tf.Tensor2D, noise: tf.Tensor2D): PolicyOutput {
    const { mean, logStd } = this.#trunk(obs);
    const u = tf.add(mean, tf.mul(tf.exp(logStd), noise));
    const gaussian = tf.sub(tf.sub(tf.mul(tf.square(noise), -0.5), logStd), HALF_LOG_2PI);
    const squash = tf.mul(tf.sub(tf.sub(Math.log(2), u), tf.softplus(tf.mul(u, -2))), 2);
    return {
      action: tf.tanh(u) as tf.Tensor2D,
      logProb: tf.sum(tf.sub(gaussian, squash), 1) as tf.Tensor1D,
      meanAction: tf.tanh(mean) as tf.Tensor2D,
    };
  }

  get variables(): tf.Variable[] {
    return [
      ...this.#hidden.flatMap((d) => d.variables),
      ...this.#mean.variables,
      ...this.#logStd.variables,
    ];
  }
}
