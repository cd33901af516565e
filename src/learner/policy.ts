import type { Random } from '../util/random.ts';
import type { PolicyWeights } from './messages.ts';

/**
 * The actor on the control side, in plain TypeScript over the published weights: no tensor
 * library on the control thread, and a weight swap is one assignment between ticks. Mirrors
 * `Actor` (Dense → ReLU hidden layers, then mean and log-std heads; tanh squash).
 */
export class PolicyRunner {
  readonly obsDim: number;
  readonly actionDim: number;
  readonly #logStd: [number, number];
  #weights: PolicyWeights | undefined;
  #staged: PolicyWeights | undefined;
  #scratch: Float32Array[] = [];

  constructor(obsDim: number, actionDim: number, logStdRange: [number, number]) {
    this.obsDim = obsDim;
    this.actionDim = actionDim;
    this.#logStd = logStdRange;
  }

  /** The learner step the weights come from; 0 before any arrived. */
  get version(): number {
    return this.#weights?.version ?? 0;
  }

  get ready(): boolean {
    return this.#weights !== undefined;
  }

  /** Keeps weights for the next `swap()` (newer ones replace older ones not swapped in yet). */
  stage(weights: PolicyWeights): void {
    this.#staged = weights;
  }

  /** Takes the staged weights, if any: the control loop calls this between ticks. */
  swap(): PolicyWeights | undefined {
    const staged = this.#staged;
    if (!staged) return undefined;
    this.#staged = undefined;
    this.load(staged);
    return staged;
  }

  load(weights: PolicyWeights): void {
    const t = weights.tensors;
    if (t.length < 6 || t.length % 2 !== 0)
      throw new Error(`policy weights have ${t.length} tensors, expected pairs of weight and bias`);
    if (t[0]!.shape[0] !== this.obsDim)
      throw new Error(
        `policy weights take ${t[0]!.shape[0]} observations, the task has ${this.obsDim}`,
      );
    this.#scratch = t.filter((_, i) => i % 2 === 1).map((b) => new Float32Array(b.data.length));
    this.#weights = weights;
  }

  /** The mean action tanh(μ(s)), or a sample tanh(μ + σ·ε) with ε from `rng`. */
  act(obs: ArrayLike<number>, rng?: Random): Float32Array {
    const w = this.#weights;
    if (!w) throw new Error('the policy has no weights yet');
    const layers = w.tensors.length / 2;
    const hiddenLayers = layers - 2;
    let x: ArrayLike<number> = obs;
    for (let l = 0; l < hiddenLayers; l++)
      x = dense(x, w.tensors[2 * l]!, w.tensors[2 * l + 1]!, this.#scratch[l]!, true);
    const mean = dense(
      x,
      w.tensors[2 * hiddenLayers]!,
      w.tensors[2 * hiddenLayers + 1]!,
      this.#scratch[hiddenLayers]!,
      false,
    );
    const action = new Float32Array(this.actionDim);
    if (!rng) {
      for (let i = 0; i < this.actionDim; i++) action[i] = Math.tanh(mean[i]!);
      return action;
    }
    const raw = dense(
      x,
      w.tensors[2 * hiddenLayers + 2]!,
      w.tensors[2 * hiddenLayers + 3]!,
      this.#scratch[hiddenLayers + 1]!,
      false,
    );
    const [lo, hi] = this.#logStd;
    for (let i = 0; i < this.actionDim; i++) {
      const logStd = (Math.tanh(raw[i]!) + 1) * 0.5 * (hi - lo) + lo;
      action[i] = Math.tanh(mean[i]! + Math.exp(logStd) * rng.normal());
    }
    return action;
  }
}

/** out = x·W + b (W row-major [in, out]), with ReLU if asked. */
function dense(
  x: ArrayLike<number>,
  w: { shape: number[]; data: Float32Array },
  b: { data: Float32Array },
  out: Float32Array,
  relu: boolean,
): Float32Array {
  const [inDim, outDim] = w.shape as [number, number];
  out.set(b.data);
  for (let i = 0; i < inDim; i++) {
    const xi = x[i]!;
    if (xi === 0) continue;
    const row = i * outDim;
    for (let j = 0; j < outDim; j++) out[j]! += xi * w.data[row + j]!;
  }
  if (relu) for (let j = 0; j < outDim; j++) if (out[j]! < 0) out[j] = 0;
  return out;
}
