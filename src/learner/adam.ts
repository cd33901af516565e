import * as tf from '@tensorflow/tfjs';
import { make, read } from './heap.ts';

/**
 * A gradient for one variable: a tensor of its shape (or of its size), or values computed in JS,
 * times `scale` (so that a mean computed by the backend stands for a sum without another op).
 */
export type Grad = { tensor: tf.Tensor; scale: number } | { values: Float32Array; scale: number };

function valuesOf(g: Grad): Float32Array {
  return 'values' in g ? g.values : read(g.tensor);
}

/** Σ (scale·g)² over all gradients: the squared global norm. */
export function sumOfSquares(grads: readonly Grad[]): number {
  let total = 0;
  for (const g of grads) {
    const x = valuesOf(g);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const n4 = x.length & ~3;
    for (let i = 0; i < n4; i += 4) {
      const a = x[i]!;
      const b = x[i + 1]!;
      const c = x[i + 2]!;
      const d = x[i + 3]!;
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
    }
    for (let i = n4; i < x.length; i++) s0 += x[i]! * x[i]!;
    total += (s0 + s1 + s2 + s3) * g.scale * g.scale;
  }
  return total;
}

/**
 * Adam over a fixed list of variables, in plain JS over the values (one pass per variable and one
 * assign, where tf.train.adam runs a dozen kernels per variable). The arithmetic is tf.train.adam's:
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε), ε = 1e-7
 * (tfjs' float32 default). Moments are kept by the position of the variable.
 */
export class Adam {
  readonly variables: readonly tf.Variable[];
  readonly learningRate: number;
  readonly beta1 = 0.9;
  readonly beta2 = 0.999;
  readonly epsilon = 1e-7;
  #iterations = 0;
  #m: Float32Array[] | undefined;
  #v: Float32Array[] | undefined;

  constructor(variables: readonly tf.Variable[], learningRate: number) {
    this.variables = variables;
    this.learningRate = learningRate;
  }

  /** Updates done so far. */
  get iterations(): number {
    return this.#iterations;
  }

  getConfig(): { learningRate: number; beta1: number; beta2: number; epsilon: number } {
    const { learningRate, beta1, beta2, epsilon } = this;
    return { learningRate, beta1, beta2, epsilon };
  }

  /** The moments, one array per variable in order; undefined before the first update. */
  get moments(): { m: readonly Float32Array[]; v: readonly Float32Array[] } | undefined {
    return this.#m && this.#v ? { m: this.#m, v: this.#v } : undefined;
  }

  /** Puts back a saved state (moments undefined: not stepped yet). The arrays are copied. */
  restore(iterations: number, moments?: { m: Float32Array[]; v: Float32Array[] }): void {
    if (moments) {
      const ok = (list: Float32Array[]) =>
        list.length === this.variables.length &&
        list.every((a, i) => a.length === this.variables[i]!.size);
      if (!ok(moments.m) || !ok(moments.v))
        throw new Error('Adam.restore: moments do not match the variables');
    }
    this.#iterations = iterations;
    this.#m = moments?.m.map((a) => a.slice());
    this.#v = moments?.v.map((a) => a.slice());
  }

  /** One update with `grads[i]` (times `gradScale`, e.g. a clipping factor) for variable i. */
  step(grads: readonly Grad[], gradScale = 1): void {
    if (grads.length !== this.variables.length)
      throw new Error(
        `Adam.step: ${grads.length} gradients for ${this.variables.length} variables`,
      );
    const m = (this.#m ??= this.variables.map((v) => new Float32Array(v.size)));
    const v2 = (this.#v ??= this.variables.map((v) => new Float32Array(v.size)));
    const t = this.#iterations + 1;
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    // θ −= lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε), with the two bias corrections as factors
    const lr = this.learningRate / (1 - b1 ** t);
    const c2 = 1 / (1 - b2 ** t);
    this.variables.forEach((variable, k) => {
      const g = grads[k]!;
      const mk = m[k]!;
      const vk = v2[k]!;
      const s = g.scale * gradScale;
      const next = make(variable.shape, (out) => {
        const p = read(variable);
        const x = valuesOf(g);
        if (x.length !== p.length)
          throw new Error(
            `Adam.step: gradient ${k} has ${x.length} values, its variable ${p.length}`,
          );
        adamLoop(out, p, x, mk, vk, s, b1, b2, lr, c2, eps);
      });
      variable.assign(next);
      next.dispose();
    });
    this.#iterations = t;
  }
}

/** Adam's arithmetic over one variable (a plain function: V8 runs it ~2× faster than a closure). */
function adamLoop(
  out: Float32Array,
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  scale: number,
  b1: number,
  b2: number,
  lr: number,
  c2: number,
  eps: number,
): void {
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]! * scale;
    const mi = b1 * m[i]! + a1 * gi;
    const vi = b2 * v[i]! + a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    out[i] = p[i]! - (lr * mi) / (Math.sqrt(vi * c2) + eps);
  }
}

function polyakLoop(out: Float32Array, s: Float32Array, t: Float32Array, tau: number): void {
  const keep = 1 - tau;
  const n = t.length;
  for (let i = 0; i < n; i++) out[i] = s[i]! * tau + t[i]! * keep;
}

/** Variables from this size on are averaged with tf ops (3 kernels beat a JS loop there). */
const POLYAK_KERNELS_FROM = 4096;

/** θ̄ ← τ·θ + (1 − τ)·θ̄ for each pair, with one assign per target variable. */
export function polyak(
  targets: readonly tf.Variable[],
  sources: readonly tf.Variable[],
  tau: number,
): void {
  targets.forEach((target, k) => {
    const source = sources[k]!;
    const next =
      target.size >= POLYAK_KERNELS_FROM
        ? tf.tidy(() => tf.add(tf.mul(source, tau), tf.mul(target, 1 - tau)))
        : make(target.shape, (out) => polyakLoop(out, read(source), read(target), tau));
    target.assign(next);
    next.dispose();
  });
}
