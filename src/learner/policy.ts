import type { Random } from '../util/random.ts';
import { CLOSE, commandOf, type GripperChoice, STAY } from './grasp.ts';
import { LN_EPSILON } from './layers.ts';
import type { PolicyWeights } from './messages.ts';

/**
 * The actor on the control side, in plain TypeScript over the published weights: no tensor
 * library on the control thread, and a weight swap is one assignment between ticks. Mirrors
 * `Actor` (Dense → ReLU hidden layers, then mean and log-std heads; tanh squash), and with a
 * discrete gripper `GraspNet` (the gripper entry is its argmax choice, see src/learner/grasp.ts).
 */
export class PolicyRunner {
  readonly obsDim: number;
  readonly actionDim: number;
  readonly #logStd: [number, number];
  #weights: PolicyWeights | undefined;
  #staged: PolicyWeights | undefined;
  #scratch: Float32Array[] = [];
  #graspScratch: Float32Array[] = [];

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
    const outputs = t[t.length - 1]!.data.length;
    const wanted = weights.grasp ? this.actionDim - 1 : this.actionDim;
    if (outputs !== wanted)
      throw new Error(
        `policy weights output ${outputs} action entries, the task takes ${wanted}${weights.grasp ? ' besides the discrete gripper' : ''}`,
      );
    if (weights.grasp && weights.grasp.index >= this.actionDim)
      throw new Error(`the policy's gripper index ${weights.grasp.index} is outside the action`);
    this.#scratch = t.filter((_, i) => i % 2 === 1).map((b) => new Float32Array(b.data.length));
    this.#graspScratch = (weights.grasp?.tensors ?? [])
      .filter((x) => x.shape.length === 2)
      .map((w) => new Float32Array(w.shape[1]!));
    this.#weights = weights;
  }

  /**
   * The mean action tanh(μ(s)), or a sample tanh(μ + σ·ε) with ε from `rng`. With a discrete
   * gripper, its entry is the grasp critic's choice: `heldGripper` (the command in force, the
   * safety layer's; a reset's when left out) for "stay".
   */
  act(obs: ArrayLike<number>, rng?: Random, heldGripper?: number): Float32Array {
    const w = this.#weights;
    if (!w) throw new Error('the policy has no weights yet');
    const continuous = this.#continuous(w, obs, rng);
    if (!w.grasp) return continuous;
    const action = new Float32Array(this.actionDim);
    const g = w.grasp.index;
    for (let i = 0, j = 0; i < this.actionDim; i++) if (i !== g) action[i] = continuous[j++]!;
    action[g] = commandOf(this.graspChoice(obs), heldGripper ?? w.grasp.atReset);
    return action;
  }

  /** The discrete gripper's choice argmax Q_g(s, ·) (open 0, stay 1, close 2). */
  graspChoice(obs: ArrayLike<number>): GripperChoice {
    const grasp = this.#weights?.grasp;
    if (!grasp) throw new Error('the policy has no discrete gripper');
    let x: ArrayLike<number> = obs;
    const t = grasp.tensors;
    const scratch = this.#graspScratch;
    // per hidden layer W, b, γ, β (LayerNorm) or W, b; then the output's W, b
    const hidden = scratch.length - 1;
    const perLayer = (t.length - 2) / hidden;
    for (let l = 0; l < hidden; l++) {
      const k = l * perLayer;
      const h = dense(x, t[k]!, t[k + 1]!, scratch[l]!, perLayer === 2);
      if (perLayer === 4) layerNormRelu(h, t[k + 2]!.data, t[k + 3]!.data);
      x = h;
    }
    const q = dense(x, t[t.length - 2]!, t[t.length - 1]!, scratch[hidden]!, false);
    let best: GripperChoice = STAY;
    for (let c = 0; c <= CLOSE; c++) if (q[c]! > q[best]!) best = c as GripperChoice;
    return best;
  }

  #continuous(w: PolicyWeights, obs: ArrayLike<number>, rng: Random | undefined): Float32Array {
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
    const dim = mean.length;
    const action = new Float32Array(dim);
    if (!rng) {
      for (let i = 0; i < dim; i++) action[i] = Math.tanh(mean[i]!);
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
    for (let i = 0; i < dim; i++) {
      const logStd = (Math.tanh(raw[i]!) + 1) * 0.5 * (hi - lo) + lo;
      action[i] = Math.tanh(mean[i]! + Math.exp(logStd) * rng.normal());
    }
    return action;
  }
}

/** In place: ReLU(γ·(h − mean)/√(var + ε) + β), as LayerNorm then ReLU in tfjs. */
function layerNormRelu(h: Float32Array, gamma: Float32Array, beta: Float32Array): void {
  const n = h.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += h[i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (h[i]! - mean) ** 2;
  const inv = 1 / Math.sqrt(variance / n + LN_EPSILON);
  for (let i = 0; i < n; i++) h[i] = Math.max(0, gamma[i]! * (h[i]! - mean) * inv + beta[i]!);
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
