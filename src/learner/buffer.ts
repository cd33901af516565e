import type { Transition } from '../protocol/index.ts';
import type { Random } from '../util/random.ts';

/** A sampled minibatch, laid out row-major for tensors: obs [B, O], action [B, A], … */
export interface Batch {
  size: number;
  obs: Float32Array;
  action: Float32Array;
  reward: Float32Array;
  nextObs: Float32Array;
  /** 1 on termination (no bootstrap), 0 otherwise. */
  done: Float32Array;
  /** The gripper choice of each row (a discrete gripper only, src/learner/grasp.ts). */
  label?: Uint8Array;
}

export function allocBatch(
  size: number,
  obsDim: number,
  actionDim: number,
  labelled = false,
): Batch {
  return {
    size,
    obs: new Float32Array(size * obsDim),
    action: new Float32Array(size * actionDim),
    reward: new Float32Array(size),
    nextObs: new Float32Array(size * obsDim),
    done: new Float32Array(size),
    ...(labelled ? { label: new Uint8Array(size) } : {}),
  };
}

/** A ring buffer of transitions in typed arrays; the oldest are overwritten when full. */
export class ReplayBuffer {
  readonly capacity: number;
  readonly obsDim: number;
  readonly actionDim: number;
  readonly #obs: Float32Array;
  readonly #action: Float32Array;
  readonly #reward: Float32Array;
  readonly #nextObs: Float32Array;
  readonly #done: Float32Array;
  readonly #label: Uint8Array | undefined;
  #size = 0;
  #cursor = 0;

  /** `labelled`: each transition also holds a gripper choice (a discrete gripper). */
  constructor(capacity: number, obsDim: number, actionDim: number, labelled = false) {
    this.capacity = capacity;
    this.obsDim = obsDim;
    this.actionDim = actionDim;
    this.#obs = new Float32Array(capacity * obsDim);
    this.#action = new Float32Array(capacity * actionDim);
    this.#reward = new Float32Array(capacity);
    this.#nextObs = new Float32Array(capacity * obsDim);
    this.#done = new Float32Array(capacity);
    this.#label = labelled ? new Uint8Array(capacity) : undefined;
  }

  get size(): number {
    return this.#size;
  }

  /** Where the next transition goes; with `size`, all a checkpoint needs to know of the ring. */
  get cursor(): number {
    return this.#cursor;
  }

  add(t: Pick<Transition, 'obs' | 'action' | 'reward' | 'nextObs' | 'done'>, label?: number): void {
    const { obsDim: o, actionDim: a } = this;
    if (t.obs.length !== o || t.nextObs.length !== o || t.action.length !== a) {
      throw new Error(
        `transition has obs ${t.obs.length}/${t.nextObs.length} and action ${t.action.length}; the buffer takes ${o} and ${a}`,
      );
    }
    const i = this.#cursor;
    this.#obs.set(t.obs, i * o);
    this.#action.set(t.action, i * a);
    this.#nextObs.set(t.nextObs, i * o);
    this.#reward[i] = t.reward;
    this.#done[i] = t.done ? 1 : 0;
    if (this.#label) {
      if (label === undefined) throw new Error('this buffer holds gripper choices: give one');
      this.#label[i] = label;
    }
    this.#cursor = (i + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** Copies `count` uniformly drawn transitions into rows `from … from+count−1` of `out`. */
  sampleInto(out: Batch, from: number, count: number, rng: Random): void {
    if (count > 0 && this.#size === 0) throw new Error('cannot sample from an empty buffer');
    const { obsDim: o, actionDim: a } = this;
    for (let r = from; r < from + count; r++) {
      const i = rng.int(this.#size);
      out.obs.set(this.#obs.subarray(i * o, (i + 1) * o), r * o);
      out.nextObs.set(this.#nextObs.subarray(i * o, (i + 1) * o), r * o);
      out.action.set(this.#action.subarray(i * a, (i + 1) * a), r * a);
      out.reward[r] = this.#reward[i]!;
      out.done[r] = this.#done[i]!;
      if (out.label) out.label[r] = this.#label![i]!;
    }
  }
}

/**
 * Symmetric sampling (RLPD): `onlineRatio` of each batch from the online buffer, the rest from the
 * demo buffer; all from whichever one has data while the other is empty.
 */
export function sampleMixed(
  online: ReplayBuffer,
  demo: ReplayBuffer,
  onlineRatio: number,
  out: Batch,
  rng: Random,
): { fromOnline: number } {
  let fromOnline = Math.round(out.size * onlineRatio);
  if (demo.size === 0) fromOnline = out.size;
  if (online.size === 0) fromOnline = 0;
  online.sampleInto(out, 0, fromOnline, rng);
  demo.sampleInto(out, fromOnline, out.size - fromOnline, rng);
  return { fromOnline };
}
