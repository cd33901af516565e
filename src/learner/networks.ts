import * as tf from '@tensorflow/tfjs';
import type { Random } from '../util/random.ts';
import type { Grad } from './adam.ts';
import { read } from './heap.ts';
import { Dense, hiddenLayers, LayerNorm, LN_EPSILON } from './layers.ts';

/*
 * Each network has two forms of the same function: `apply`/`sample` in tf ops (differentiable by
 * tf.grad; used for acting, and the reference the tests hold the training passes to), and
 * hand-written forward and backward passes for training, written for tfjs-wasm (docs/LEARNER.md's speed
 * notes): every matmul plain (the fast XNNPACK path); weight-derived operands (transposes, centred
 * weights) cached per variable version, so that XNNPACK, which packs a matmul's right operand once
 * per tensor, packs each of them once per update; reductions over the batch as avgPool (tf.sum over
 * axis 0 transposes first); no gradient tape; and no gradient for what is not trained (the critics'
 * weights in the actor update, the critics' input in the critic update).
 */

/** A tensor computed from some variables, rebuilt only when one of them was assigned since. */
class Derived<T extends tf.Tensor> {
  readonly #sources: readonly tf.Variable[];
  readonly #build: () => T;
  #key: readonly unknown[] = [];
  #value: T | undefined;

  constructor(sources: readonly tf.Variable[], build: () => T) {
    this.#sources = sources;
    this.#build = build;
  }

  get(): T {
    if (this.#value && this.#sources.every((s, i) => s.dataId === this.#key[i])) return this.#value;
    this.#value?.dispose();
    this.#value = tf.keep(tf.tidy(this.#build));
    this.#key = this.#sources.map((s) => s.dataId);
    return this.#value;
  }

  dispose(): void {
    this.#value?.dispose();
    this.#value = undefined;
  }
}

/** Column means of [n, h] as [1, 1, 1, h] (a sum over the batch is n times it). */
function columnMean(t: tf.Tensor2D): tf.Tensor4D {
  const [n, h] = t.shape;
  return tf.avgPool(tf.reshape(t, [1, n, 1, h]), [n, 1], 1, 'valid');
}

/** Takes xᵀ·dy elsewhere: returns how to get it once computed, or undefined to decline. */
export type WeightGradientOffload = (x: tf.Tensor2D, dy: tf.Tensor2D) => (() => Grad) | undefined;

/**
 * xᵀ·dy for a layer y = x·W: XNNPACK packs the right operand afresh (~4 ns a value here), a
 * transpose costs less, so the smaller of x and dy is packed: for a narrow input (obs, [obs,
 * action]) as (dyᵀ·x)ᵀ, where packing x costs little and the product [out, in] is small to turn.
 */
export function weightGradient(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (x.shape[1] * 4 <= dy.shape[1])
    return tf.transpose(tf.matMul(tf.transpose(dy) as tf.Tensor2D, x)) as tf.Tensor2D;
  return tf.matMul(tf.transpose(x) as tf.Tensor2D, dy);
}

/** What a critic's training forward keeps of hidden layer l for the backward pass. */
export interface CriticLayerTape {
  /** The layer's input. */
  x: tf.Tensor2D;
  /** Normalised pre-activation (h − mean)/σ, and 1/σ per row [B, 1] (with LayerNorm only). */
  xhat?: tf.Tensor2D;
  rstd?: tf.Tensor2D;
  /** The layer's output relu(γ·xhat + β), or relu(h) without LayerNorm. */
  a: tf.Tensor2D;
}

/**
 * A Q network: [obs, action] → hidden layers (Dense → LayerNorm → ReLU) → Q. With `layerNorm`
 * false the hidden layers are Dense → ReLU (a critic that can diverge: for tests of the health
 * monitor and for comparison).
 *
 * The training passes fold LayerNorm's centring into the weights: h − mean_row(h) = x·W_c + b_c
 * with W_c = W − (row means of W) and b_c = b − mean(b) (centring is linear, h·(I − 11ᵀ/H)), so the
 * forward pass needs no mean of h, only the variance: mean_row(c²), a matrix-vector product with
 * 1/H. Backward, the gradient with respect to the centred c is dc = (g − x̂·mean(g·x̂))/σ
 * (g = dz·γ), and the centring goes to the weights' side: dW = centred rows of xᵀ·dc,
 * db = centred Σ dc, dx = dc·W_cᵀ (since (I − 11ᵀ/H) is symmetric). Same function, same gradients.
 */
export class Critic {
  readonly layerNorm: boolean;
  readonly #layers: { dense: Dense; norm: LayerNorm | undefined }[];
  readonly #out: Dense;
  /**
   * Per hidden layer: W_c and b_c (see above; with LayerNorm only), the transpose of the weights
   * in use (W_cᵀ, or Wᵀ without LayerNorm), γ/H as [H, 1], and 1/H as [H, 1].
   */
  readonly #centred: Derived<tf.Tensor2D>[];
  readonly #centredBias: Derived<tf.Tensor1D>[];
  readonly #weightT: Derived<tf.Tensor2D>[];
  readonly #gammaMean: Derived<tf.Tensor2D>[];
  readonly #mean: tf.Tensor2D[];
  readonly #epsilon: tf.Tensor1D;
  /** The first layer's weights in use from a column of the input on, transposed (dQ/d input). */
  readonly #inputRowsT = new Map<number, Derived<tf.Tensor2D>>();

  constructor(inDim: number, hidden: readonly number[], rng: Random, layerNorm = true) {
    this.layerNorm = layerNorm;
    this.#layers = hiddenLayers(inDim, hidden, rng, layerNorm);
    this.#out = new Dense(hidden.at(-1) ?? inDim, 1, rng, 0.01);
    this.#centred = this.#layers.map(
      ({ dense }) =>
        new Derived([dense.w], () => {
          const w = dense.w as tf.Tensor2D;
          return tf.sub(w, tf.mean(w, -1, true)) as tf.Tensor2D;
        }),
    );
    this.#centredBias = this.#layers.map(
      ({ dense }) => new Derived([dense.b], () => tf.sub(dense.b, tf.mean(dense.b)) as tf.Tensor1D),
    );
    this.#weightT = this.#layers.map(
      ({ dense }, l) => new Derived([dense.w], () => tf.transpose(this.#weight(l))),
    );
    this.#gammaMean = this.#layers.flatMap(({ norm }) =>
      norm
        ? [
            new Derived([norm.gamma], () =>
              tf.reshape(tf.div(norm.gamma, norm.gamma.size), [-1, 1]),
            ),
          ]
        : [],
    );
    this.#mean = hidden.map((h) => tf.keep(tf.fill([h, 1], 1 / h)) as tf.Tensor2D);
    this.#epsilon = tf.keep(tf.tensor1d([LN_EPSILON]));
  }

  /** Hidden layer l's weights as the training passes use them: W_c, or W without LayerNorm. */
  #weight(l: number): tf.Tensor2D {
    return this.layerNorm ? this.#centred[l]!.get() : (this.#layers[l]!.dense.w as tf.Tensor2D);
  }

  /** Q(s, a) as a [B] vector; `sa` is obs and action concatenated. In tf ops (differentiable). */
  apply(sa: tf.Tensor2D): tf.Tensor1D {
    let h = sa;
    for (const { dense, norm } of this.#layers) {
      const z = dense.apply(h);
      h = tf.relu(norm ? norm.apply(z) : z);
    }
    return tf.reshape(this.#out.apply(h), [-1]);
  }

  /**
   * The same Q as `apply`, [B, 1], for training: with `tape`, what `backward` needs is pushed
   * onto it, one entry per hidden layer.
   */
  forward(sa: tf.Tensor2D, tape?: CriticLayerTape[]): tf.Tensor2D {
    let x = sa;
    this.#layers.forEach(({ dense, norm }, l) => {
      if (!norm) {
        const a = tf.fused.matMul({
          a: x,
          b: dense.w as tf.Tensor2D,
          bias: dense.b,
          activation: 'relu',
        }) as tf.Tensor2D;
        tape?.push({ x, a });
        x = a;
        return;
      }
      const c = tf.fused.matMul({
        a: x,
        b: this.#centred[l]!.get(),
        bias: this.#centredBias[l]!.get(),
      }) as tf.Tensor2D;
      // 1/σ = 1/√(mean_row(c²) + ε): the mean as a product with 1/H, ε as its bias
      const variance = tf.fused.matMul({ a: tf.square(c), b: this.#mean[l]!, bias: this.#epsilon });
      const rstd = tf.rsqrt(variance) as tf.Tensor2D;
      const xhat = tf.mul(c, rstd) as tf.Tensor2D;
      const a = tf.relu(tf.add(tf.mul(xhat, norm.gamma), norm.beta)) as tf.Tensor2D;
      tape?.push({ x, xhat, rstd, a });
      x = a;
    });
    return tf.fused.matMul({
      a: x,
      b: this.#out.w as tf.Tensor2D,
      bias: this.#out.b,
    }) as tf.Tensor2D;
  }

  /**
   * Backward pass from dL/dQ ([B, 1]) through a `forward` tape. With `params`, the gradients of
   * every variable, in `variables` order; with `inputFrom`, dL/d(input columns from `inputFrom`
   * on) [B, in − inputFrom].
   */
  backward(
    tape: readonly CriticLayerTape[],
    dq: tf.Tensor2D,
    want: { params?: boolean; inputFrom?: number },
  ): { grads: Grad[]; dInput: tf.Tensor2D | undefined } {
    const n = dq.shape[0];
    const params = want.params === true;
    const grads: Grad[] = [];
    const last = tape.at(-1)!;
    if (params) {
      grads.push({ tensor: columnMean(tf.mul(last.a, dq) as tf.Tensor2D), scale: n });
      grads.push({ tensor: columnMean(dq), scale: n });
    }
    // dL/da of the last hidden layer: dq·w_outᵀ, a broadcast product ([B, 1] × [1, H]).
    let da = tf.mul(dq, tf.reshape(this.#out.w, [1, -1])) as tf.Tensor2D;
    let dInput: tf.Tensor2D | undefined;
    for (let l = tape.length - 1; l >= 0; l--) {
      const { x, xhat, rstd, a } = tape[l]!;
      const { norm } = this.#layers[l]!;
      const dz = tf.mul(da, tf.step(a)) as tf.Tensor2D;
      if (!norm || !xhat || !rstd) {
        // without LayerNorm: z = x·W + b, dW = xᵀ·dz, db = Σ dz, dx = dz·Wᵀ
        if (params) {
          grads.unshift(
            { tensor: weightGradient(x, dz), scale: 1 },
            { tensor: columnMean(dz), scale: n },
          );
        }
        if (l > 0) da = tf.matMul(dz, this.#weightT[l]!.get());
        else if (want.inputFrom !== undefined)
          dInput = tf.matMul(dz, this.#inputRows(want.inputFrom)) as tf.Tensor2D;
        continue;
      }
      // dc = (g − x̂·mean(g·x̂))/σ with g = dz·γ; mean(g·x̂) = (dz·x̂)·(γ/H)
      const dzXhat = tf.mul(dz, xhat) as tf.Tensor2D;
      const m = tf.matMul(dzXhat, this.#gammaMean[l]!.get());
      const dc = tf.mul(tf.sub(tf.mul(dz, norm.gamma), tf.mul(xhat, m)), rstd) as tf.Tensor2D;
      if (params) {
        const dw = weightGradient(x, dc);
        const db = tf.reshape(columnMean(dc), [-1]);
        grads.unshift(
          { tensor: tf.sub(dw, tf.mean(dw, -1, true)), scale: 1 },
          { tensor: tf.sub(db, tf.mean(db)), scale: n },
          { tensor: columnMean(dzXhat), scale: n },
          { tensor: columnMean(dz), scale: n },
        );
      }
      if (l > 0) da = tf.matMul(dc, this.#weightT[l]!.get());
      else if (want.inputFrom !== undefined)
        dInput = tf.matMul(dc, this.#inputRows(want.inputFrom)) as tf.Tensor2D;
    }
    return { grads, dInput };
  }

  #inputRows(from: number): tf.Tensor2D {
    let d = this.#inputRowsT.get(from);
    if (!d) {
      const [rows, cols] = this.#layers[0]!.dense.w.shape as [number, number];
      d = new Derived([this.#layers[0]!.dense.w], () =>
        tf.transpose(tf.slice(this.#weight(0), [from, 0], [rows - from, cols])),
      );
      this.#inputRowsT.set(from, d);
    }
    return d.get();
  }

  get variables(): tf.Variable[] {
    return [
      ...this.#layers.flatMap((l) => [...l.dense.variables, ...(l.norm?.variables ?? [])]),
      ...this.#out.variables,
    ];
  }

  /** Frees the variables, the cached derived tensors and the constants. */
  dispose(): void {
    for (const d of [
      ...this.#centred,
      ...this.#centredBias,
      ...this.#weightT,
      ...this.#gammaMean,
      ...this.#inputRowsT.values(),
    ])
      d.dispose();
    for (const t of [...this.#mean, this.#epsilon]) t.dispose();
    for (const v of this.variables) v.dispose();
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
const LOG_2 = Math.log(2);

/**
 * The largest |action| whose log-likelihood is taken: atanh(±1) is infinite, so actions on the
 * box's edge (an expert's clipped action) count as this close to it. A float32, so that the tf
 * form (float32 tensors) and the JS form clamp to the same value.
 */
export const ACTION_LIMIT = Math.fround(1 - 1e-6);

/** log(1 + eˣ) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * One action dimension's log π: log N(u; μ, σ) − log(1 − tanh²(u)) with z = (u − μ)/σ, the
 * latter as 2(log 2 − u − softplus(−2u)) for numerical safety.
 */
function logDensity(z: number, logStd: number, u: number): number {
  return -0.5 * z * z - logStd - HALF_LOG_2PI - 2 * (LOG_2 - u - softplus(-2 * u));
}

/** `logDensity` in tf ops, summed over the action dimensions: [B]. */
function logDensityOf(z: tf.Tensor, logStd: tf.Tensor, u: tf.Tensor): tf.Tensor1D {
  const gaussian = tf.sub(tf.sub(tf.mul(tf.square(z), -0.5), logStd), HALF_LOG_2PI);
  const squash = tf.mul(tf.sub(tf.sub(LOG_2, u), tf.softplus(tf.mul(u, -2))), 2);
  return tf.sum(tf.sub(gaussian, squash), 1) as tf.Tensor1D;
}

/** A tanh-squashed Gaussian policy: obs → hidden (Dense → ReLU) → mean and log-std per dimension. */
export class Actor {
  readonly actionDim: number;
  readonly #hidden: Dense[];
  readonly #mean: Dense;
  readonly #logStd: Dense;
  readonly #logStdMin: number;
  readonly #logStdMax: number;
  /** Both heads as one layer: [W_mean | W_logstd], [b_mean | b_logstd], and the weights' transpose. */
  readonly #headW: Derived<tf.Tensor2D>;
  readonly #headB: Derived<tf.Tensor1D>;
  readonly #headWT: Derived<tf.Tensor2D>;
  readonly #transposed: Derived<tf.Tensor2D>[];

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
    const [wm, ws] = [this.#mean.w, this.#logStd.w];
    this.#headW = new Derived([wm, ws], () => tf.concat([wm, ws], 1) as tf.Tensor2D);
    this.#headB = new Derived(
      [this.#mean.b, this.#logStd.b],
      () => tf.concat([this.#mean.b, this.#logStd.b]) as tf.Tensor1D,
    );
    this.#headWT = new Derived([wm, ws], () => tf.transpose(tf.concat([wm, ws], 1) as tf.Tensor2D));
    this.#transposed = this.#hidden.map(
      (d) => new Derived([d.w], () => tf.transpose(d.w as tf.Tensor2D)),
    );
  }

  /** The log-std range: log σ = lo + (tanh(raw) + 1)·(hi − lo)/2. */
  get logStdRange(): [number, number] {
    return [this.#logStdMin, this.#logStdMax];
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
    return {
      action: tf.tanh(u) as tf.Tensor2D,
      logProb: logDensityOf(noise, logStd, u),
      meanAction: tf.tanh(mean) as tf.Tensor2D,
    };
  }

  /**
   * log π(a|s) of given actions `action` [B, A] (clamped to ±ACTION_LIMIT), [B]: with u = atanh(a),
   * Σ [log N(u; μ, σ) − log(1 − a²)], the latter written as in `sample`. In tf ops
   * (differentiable): the reference for `actionLogProb`.
   */
  logProbOf(obs: tf.Tensor2D, action: tf.Tensor2D): tf.Tensor1D {
    const { mean, logStd } = this.#trunk(obs);
    const u = tf.atanh(tf.clipByValue(action, -ACTION_LIMIT, ACTION_LIMIT));
    return logDensityOf(tf.div(tf.sub(u, mean), tf.exp(logStd)), logStd, u);
  }

  /**
   * For training: the heads' outputs [n, 2·A] (mean, then the log-std pre-activation), read by
   * `samplePolicy`. With `tape`, each hidden layer's output is pushed onto it.
   */
  heads(obs: tf.Tensor2D, tape?: tf.Tensor2D[]): tf.Tensor2D {
    let h = obs;
    for (const d of this.#hidden) {
      h = tf.fused.matMul({
        a: h,
        b: d.w as tf.Tensor2D,
        bias: d.b,
        activation: 'relu',
      }) as tf.Tensor2D;
      tape?.push(h);
    }
    return tf.fused.matMul({ a: h, b: this.#headW.get(), bias: this.#headB.get() }) as tf.Tensor2D;
  }

  /**
   * Gradients of every variable (in `variables` order) from dL/d(heads) [n, 2·A], through a
   * `heads` tape whose rows are those of `dHeads` and `obs` (the input). `offload` may take a
   * hidden layer's weight gradient xᵀ·dy elsewhere (a helper thread): it returns how to get it
   * later, or undefined to have it computed here.
   */
  backward(
    obs: tf.Tensor2D,
    tape: readonly tf.Tensor2D[],
    dHeads: Float32Array,
    offload?: WeightGradientOffload,
  ): Grad[] {
    const n = obs.shape[0];
    const a2 = 2 * this.actionDim;
    const A = this.actionDim;
    const dOut = tf.tensor2d(dHeads, [n, a2]);
    const last = tape.at(-1)!;
    const hidden = last.shape[1];
    // Head weights: one matmul for both, split in JS; head biases: column sums in JS.
    const dW = read(tf.matMul(tf.transpose(last), dOut));
    const dWm = new Float32Array(hidden * A);
    const dWs = new Float32Array(hidden * A);
    for (let i = 0; i < hidden; i++) {
      for (let j = 0; j < A; j++) {
        dWm[i * A + j] = dW[i * a2 + j]!;
        dWs[i * A + j] = dW[i * a2 + A + j]!;
      }
    }
    const dbm = new Float32Array(A);
    const dbs = new Float32Array(A);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < A; j++) {
        dbm[j] = dbm[j]! + dHeads[r * a2 + j]!;
        dbs[j] = dbs[j]! + dHeads[r * a2 + A + j]!;
      }
    }
    const heads: Grad[] = [
      { values: dWm, scale: 1 },
      { values: dbm, scale: 1 },
      { values: dWs, scale: 1 },
      { values: dbs, scale: 1 },
    ];
    const layers: (() => Grad)[] = [];
    let dh = tf.matMul(dOut, this.#headWT.get());
    for (let l = this.#hidden.length - 1; l >= 0; l--) {
      const dz = tf.mul(dh, tf.step(tape[l]!)) as tf.Tensor2D;
      const x = l === 0 ? obs : tape[l - 1]!;
      let dw = l > 0 ? offload?.(x, dz) : undefined;
      if (!dw) {
        const g: Grad = { tensor: weightGradient(x, dz), scale: 1 };
        dw = () => g;
      }
      const db: Grad = { tensor: columnMean(dz), scale: n };
      layers.unshift(dw, () => db);
      if (l > 0) dh = tf.matMul(dz, this.#transposed[l]!.get());
    }
    return [...layers.map((get) => get()), ...heads];
  }

  get variables(): tf.Variable[] {
    return [
      ...this.#hidden.flatMap((d) => d.variables),
      ...this.#mean.variables,
      ...this.#logStd.variables,
    ];
  }

  /** Frees the variables and the cached derived tensors. */
  dispose(): void {
    for (const d of [this.#headW, this.#headB, this.#headWT, ...this.#transposed]) d.dispose();
    for (const v of this.variables) v.dispose();
  }
}

/** A batch of actions sampled from heads' outputs in JS, with what the backward pass needs. */
export interface PolicySample {
  rows: number;
  actionDim: number;
  /** tanh(u), u = μ + σ·ε [rows, A]. */
  action: Float32Array;
  /** log π(a|s) [rows]. */
  logProb: Float64Array;
  /** tanh(μ) [rows, A]. */
  meanAction: Float64Array;
  /** σ·ε and tanh of the log-std pre-activation, [rows, A]. */
  stdNoise: Float64Array;
  rawTanh: Float64Array;
  /** (hi − lo)/2 of the log-std squash. */
  span: number;
}

/**
 * `Actor.sample`'s arithmetic on rows `start … start+rows−1` of `heads` (Actor.heads' output,
 * read by the caller): a = tanh(μ + σ·ε), log π(a|s) = Σ [−ε²/2 − log σ − log √(2π)
 * − 2(log 2 − u − softplus(−2u))], log σ = lo + (tanh(raw) + 1)·(hi − lo)/2.
 */
export function samplePolicy(
  heads: Float32Array,
  start: number,
  rows: number,
  actionDim: number,
  noise: Float32Array,
  [lo, hi]: [number, number],
): PolicySample {
  const A = actionDim;
  const span = 0.5 * (hi - lo);
  const s: PolicySample = {
    rows,
    actionDim,
    action: new Float32Array(rows * A),
    logProb: new Float64Array(rows),
    meanAction: new Float64Array(rows * A),
    stdNoise: new Float64Array(rows * A),
    rawTanh: new Float64Array(rows * A),
    span,
  };
  for (let r = 0; r < rows; r++) {
    const o = (start + r) * 2 * A;
    let logProb = 0;
    for (let j = 0; j < A; j++) {
      const k = r * A + j;
      const mean = heads[o + j]!;
      const t = Math.tanh(heads[o + A + j]!);
      const logStd = (t + 1) * span + lo;
      const eps = noise[k]!;
      const stdNoise = Math.exp(logStd) * eps;
      const u = mean + stdNoise;
      s.action[k] = Math.tanh(u);
      s.meanAction[k] = Math.tanh(mean);
      s.stdNoise[k] = stdNoise;
      s.rawTanh[k] = t;
      logProb += logDensity(eps, logStd, u);
    }
    s.logProb[r] = logProb;
  }
  return s;
}

/**
 * dL/d(heads) [rows, 2·A] from dL/d action (optional), dL/d log π (the same for every row) and
 * dL/d tanh(μ) (optional). With u = μ + σε: d(log π)/du = 2·tanh(u) (from the squash term),
 * d(log π)/d log σ = −1, du/d log σ = σε, d log σ/d raw = (1 − tanh²(raw))·(hi − lo)/2.
 */
export function policyBackward(
  s: PolicySample,
  dAction: Float32Array | undefined,
  dLogProb: number,
  dMeanAction: Float32Array | undefined,
): Float32Array {
  const A = s.actionDim;
  const out = new Float32Array(s.rows * 2 * A);
  for (let r = 0; r < s.rows; r++) {
    for (let j = 0; j < A; j++) {
      const k = r * A + j;
      const act = s.action[k]!;
      const du = (dAction ? dAction[k]! * (1 - act * act) : 0) + dLogProb * 2 * act;
      const m = s.meanAction[k]!;
      const dMean = du + (dMeanAction ? dMeanAction[k]! * (1 - m * m) : 0);
      const dLogStd = du * s.stdNoise[k]! - dLogProb;
      const t = s.rawTanh[k]!;
      out[r * 2 * A + j] = dMean;
      out[r * 2 * A + A + j] = dLogStd * s.span * (1 - t * t);
    }
  }
  return out;
}

/** The log-likelihood of given actions under heads' outputs, with what its backward pass needs. */
export interface ActionLikelihood {
  rows: number;
  actionDim: number;
  /** log π(a|s) [rows]. */
  logProb: Float64Array;
  /** z = (atanh(a) − μ)/σ and 1/σ, [rows, A]. */
  z: Float64Array;
  invStd: Float64Array;
  /** tanh of the log-std pre-activation [rows, A]. */
  rawTanh: Float64Array;
  /** (hi − lo)/2 of the log-std squash. */
  span: number;
}

/**
 * `Actor.logProbOf`'s arithmetic on rows `start … start+rows−1` of `heads`, for the actions
 * `action` [rows, A] (clamped to ±ACTION_LIMIT): with u = atanh(a), z = (u − μ)/σ,
 * log π(a|s) = Σ [−z²/2 − log σ − log √(2π) − 2(log 2 − u − softplus(−2u))].
 */
export function actionLogProb(
  heads: Float32Array,
  start: number,
  rows: number,
  actionDim: number,
  action: Float32Array,
  [lo, hi]: [number, number],
): ActionLikelihood {
  const A = actionDim;
  const span = 0.5 * (hi - lo);
  const s: ActionLikelihood = {
    rows,
    actionDim,
    logProb: new Float64Array(rows),
    z: new Float64Array(rows * A),
    invStd: new Float64Array(rows * A),
    rawTanh: new Float64Array(rows * A),
    span,
  };
  for (let r = 0; r < rows; r++) {
    const o = (start + r) * 2 * A;
    let logProb = 0;
    for (let j = 0; j < A; j++) {
      const k = r * A + j;
      const t = Math.tanh(heads[o + A + j]!);
      const logStd = (t + 1) * span + lo;
      const u = Math.atanh(Math.max(-ACTION_LIMIT, Math.min(ACTION_LIMIT, action[k]!)));
      const invStd = Math.exp(-logStd);
      const z = (u - heads[o + j]!) * invStd;
      s.z[k] = z;
      s.invStd[k] = invStd;
      s.rawTanh[k] = t;
      logProb += logDensity(z, logStd, u);
    }
    s.logProb[r] = logProb;
  }
  return s;
}

/**
 * dL/d(heads) [rows, 2·A] from dL/d log π(a|s) per row (`actionLogProb`'s rows): the action is
 * data, so d(log π)/dμ = z/σ and d(log π)/d log σ = z² − 1, d log σ/d raw = (1 − tanh²(raw))·(hi − lo)/2.
 */
export function actionLogProbBackward(
  s: ActionLikelihood,
  dLogProb: ArrayLike<number>,
): Float32Array {
  const A = s.actionDim;
  const out = new Float32Array(s.rows * 2 * A);
  for (let r = 0; r < s.rows; r++) {
    const g = dLogProb[r]!;
    for (let j = 0; j < A; j++) {
      const k = r * A + j;
      const z = s.z[k]!;
      const t = s.rawTanh[k]!;
      out[r * 2 * A + j] = g * z * s.invStd[k]!;
      out[r * 2 * A + A + j] = g * (z * z - 1) * s.span * (1 - t * t);
    }
  }
  return out;
}
