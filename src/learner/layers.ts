import * as tf from '@tensorflow/tfjs';
import type { Random } from '../util/random.ts';

/**
 * y = x·W + b with a hand-written gradient whose matmuls are all plain (explicit transposes):
 * tfjs-wasm runs a transposed matmul 10–20× slower than a plain one (docs/LEARNER.md, speed notes).
 */
const denseOp = tf.customGrad((...args) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(sw)),
        tf.matMul(tf.transpose(sx), dy as tf.Tensor2D),
        tf.sum(dy, 0),
      ];
    },
  };
});

/** Variables are left unnamed: tfjs refuses a second variable of the same name in a process. */
export class Dense {
  readonly w: tf.Variable;
  readonly b: tf.Variable;

  /** Uniform ±scale/√fan_in initialisation from the seeded generator (scale 1: LeCun-uniform-like). */
  constructor(inDim: number, outDim: number, rng: Random, scale = 1) {
    const bound = (scale * Math.sqrt(3)) / Math.sqrt(inDim);
    const w = Float32Array.from({ length: inDim * outDim }, () => rng.uniform(-bound, bound));
    // In tidy: the initial values are not kept alive beside the variables' own copies.
    this.w = tf.tidy(() => tf.variable(tf.tensor2d(w, [inDim, outDim]), true));
    this.b = tf.tidy(() => tf.variable(tf.zeros([outDim]), true));
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return denseOp(x, this.w, this.b) as tf.Tensor2D;
  }

  get variables(): tf.Variable[] {
    return [this.w, this.b];
  }
}

/** A critic's hidden layer: Dense, then LayerNorm when on (ReLU follows, by the caller). */
export interface HiddenLayer {
  dense: Dense;
  norm: LayerNorm | undefined;
}

/** A critic's hidden layers over `inDim` inputs, drawn in order from `rng` (the critics', grasp.ts). */
export function hiddenLayers(
  inDim: number,
  hidden: readonly number[],
  rng: Random,
  layerNorm: boolean,
): HiddenLayer[] {
  return hidden.map((h, l) => ({
    dense: new Dense(l === 0 ? inDim : hidden[l - 1]!, h, rng, 1),
    norm: layerNorm ? new LayerNorm(h) : undefined,
  }));
}

/** Added to the variance in LayerNorm. */
export const LN_EPSILON = 1e-6;

/** Layer normalisation over the last axis with a learned scale and offset. */
export class LayerNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(dim: number) {
    this.gamma = tf.tidy(() => tf.variable(tf.ones([dim]), true));
    this.beta = tf.tidy(() => tf.variable(tf.zeros([dim]), true));
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(
      tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, LN_EPSILON))), this.gamma),
      this.beta,
    );
  }

  get variables(): tf.Variable[] {
    return [this.gamma, this.beta];
  }
}

/** The identity whose gradient is zero: the `.detach()` of the losses (e.g. CPQL's mean|Q|). */
export const stopGradient = tf.customGrad((...args) => {
  const [x] = args as [tf.Tensor];
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)] };
});
