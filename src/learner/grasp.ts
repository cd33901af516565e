import * as tf from '@tensorflow/tfjs';
import type { Random } from '../util/random.ts';
import { Adam, type Grad, polyak } from './adam.ts';
import type { Batch } from './buffer.ts';
import { Dense, type HiddenLayer, hiddenLayers } from './layers.ts';

/**
 * The discrete gripper (LearnerConfig.gripper 'discrete', HIL-SERL's and LeRobot's grasp critic):
 * the gripper is not an output of the actor but one of three choices, open / stay / close, taken by
 * argmax of a DQN-style critic Q_g(s, ·) beside the continuous ones. A change of the gripper's state
 * costs `gripperPenalty` in that critic's reward, so it does not chatter.
 *
 * The robot's gripper command stays absolute (+1 closes, −1 opens, src/protocol/spaces.ts): "stay"
 * sends the command in force (the safety layer's held one, `SafetyLayer.gripperCommand`). A
 * recorded transition's choice is read off its command against the command in force before it:
 * the previous transition's, when that one ends where this one starts (same episode), else the
 * command a reset leaves (`atReset`).
 */
export const GRIPPER_CHOICES = ['open', 'stay', 'close'] as const;
export type GripperChoice = 0 | 1 | 2;
export const OPEN: GripperChoice = 0;
export const STAY: GripperChoice = 1;
export const CLOSE: GripperChoice = 2;

/** Where the gripper command sits in the task's action, and the command a reset leaves. */
export interface GripperAction {
  index: number;
  atReset: number;
}

const closed = (command: number) => command > 0;

/** The choice that turns the command in force `held` into `command`. */
export function choiceOf(command: number, held: number): GripperChoice {
  if (closed(command) === closed(held)) return STAY;
  return closed(command) ? CLOSE : OPEN;
}

/** The absolute command a choice sends, with `held` in force. */
export function commandOf(choice: GripperChoice, held: number): number {
  return choice === STAY ? held : choice === CLOSE ? 1 : -1;
}

/**
 * Splits task actions into the continuous part (every entry but the gripper's) and the gripper
 * choice, following episodes by continuity (see above). One per replay buffer.
 */
export class GripperSplitter {
  readonly #gripper: GripperAction;
  #lastNextObs: Float32Array | undefined;
  #held: number;

  constructor(gripper: GripperAction) {
    this.#gripper = gripper;
    this.#held = gripper.atReset;
  }

  /** The continuous action (written into `out`) and the choice of one transition. */
  split(
    obs: ArrayLike<number>,
    action: ArrayLike<number>,
    nextObs: ArrayLike<number>,
    out: Float32Array,
  ): GripperChoice {
    const g = this.#gripper.index;
    const last = this.#lastNextObs;
    let sameEpisode = last !== undefined && last.length === obs.length;
    for (let i = 0; sameEpisode && i < obs.length; i++) {
      if (last![i] !== Math.fround(obs[i]!)) sameEpisode = false;
    }
    const held = sameEpisode ? this.#held : this.#gripper.atReset;
    const command = action[g]!;
    for (let i = 0, j = 0; i < action.length; i++) if (i !== g) out[j++] = action[i]!;
    this.#lastNextObs = Float32Array.from(nextObs);
    this.#held = command;
    return choiceOf(command, held);
  }
}

/** The grasp critic's network: Dense → LayerNorm → ReLU hidden layers (as a critic's), 3 outputs. */
export class GraspNet {
  readonly #layers: HiddenLayer[];
  readonly #out: Dense;

  constructor(obsDim: number, hidden: readonly number[], rng: Random, layerNorm: boolean) {
    this.#layers = hiddenLayers(obsDim, hidden, rng, layerNorm);
    this.#out = new Dense(hidden.at(-1) ?? obsDim, GRIPPER_CHOICES.length, rng, 0.01);
  }

  /** Q_g(s, ·) [B, 3]. */
  apply(obs: tf.Tensor2D): tf.Tensor2D {
    let h = obs;
    for (const { dense, norm } of this.#layers) {
      const z = dense.apply(h);
      h = tf.relu(norm ? norm.apply(z) : z);
    }
    return this.#out.apply(h);
  }

  /** In order: per hidden layer W, b (and LayerNorm's γ, β), then the output's W, b. */
  get variables(): tf.Variable[] {
    return [
      ...this.#layers.flatMap((l) => [...l.dense.variables, ...(l.norm?.variables ?? [])]),
      ...this.#out.variables,
    ];
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** What one grasp critic update reports. */
export interface GraspMetrics {
  grasp_loss: number;
  grasp_q_mean: number;
  /** Share of the batch's transitions whose choice changed the gripper (open or close). */
  grasp_change_rate: number;
}

/**
 * The grasp critic and its target, trained by double DQN on the continuous critics' batches:
 * y = r·scale + shift − penalty·[choice ≠ stay] + γ(1 − done)·Q̄_g(s', argmax_c Q_g(s', c)),
 * L = mean((Q_g(s, choice) − y)²).
 */
export class GraspCritic {
  readonly net: GraspNet;
  readonly target: GraspNet;
  readonly optimizer: Adam;

  constructor(
    obsDim: number,
    hidden: readonly number[],
    rng: Random,
    options: { layerNorm: boolean; lr: number },
  ) {
    this.net = new GraspNet(obsDim, hidden, rng, options.layerNorm);
    this.target = new GraspNet(obsDim, hidden, rng, options.layerNorm);
    this.target.variables.forEach((v, i) => v.assign(this.net.variables[i]!));
    this.optimizer = new Adam(this.net.variables, options.lr);
  }

  update(
    b: Batch,
    obsDim: number,
    c: {
      gamma: number;
      tau: number;
      rewardScale: number;
      rewardShift: number;
      gripperPenalty: number;
    },
  ): GraspMetrics {
    const choice = b.label;
    if (!choice) throw new Error('the grasp critic needs a batch with gripper choices');
    const n = b.size;
    const y = new Float32Array(n);
    let changes = 0;
    tf.tidy(() => {
      const next = tf.tensor2d(b.nextObs, [n, obsDim]);
      const best = (tf.argMax(this.net.apply(next), 1).dataSync() as Int32Array).slice();
      const nextQ = this.target.apply(next).dataSync() as Float32Array;
      for (let r = 0; r < n; r++) {
        const changed = choice[r] !== STAY;
        if (changed) changes++;
        y[r] =
          b.reward[r]! * c.rewardScale +
          c.rewardShift -
          (changed ? c.gripperPenalty : 0) +
          (1 - b.done[r]!) * c.gamma * nextQ[r * GRIPPER_CHOICES.length + best[r]!]!;
      }
    });
    const pick = tf.tidy(() =>
      tf.oneHot(tf.tensor1d(Int32Array.from(choice), 'int32'), GRIPPER_CHOICES.length),
    );
    const obs = tf.tensor2d(b.obs, [n, obsDim]);
    const target = tf.tensor1d(y);
    let qMean = 0;
    const { value, grads } = tf.variableGrads(() => {
      const q = tf.sum(tf.mul(this.net.apply(obs), pick), 1);
      qMean = tf.mean(q).dataSync()[0]!;
      return tf.mean(tf.square(tf.sub(q, target))) as tf.Scalar;
    }, this.net.variables);
    const list: Grad[] = this.net.variables.map((v) => ({ tensor: grads[v.name]!, scale: 1 }));
    this.optimizer.step(list);
    polyak(this.target.variables, this.net.variables, c.tau);
    const loss = value.dataSync()[0]!;
    tf.dispose([value, pick, obs, target, ...Object.values(grads)]);
    return { grasp_loss: loss, grasp_q_mean: qMean, grasp_change_rate: changes / n };
  }

  dispose(): void {
    this.net.dispose();
    this.target.dispose();
  }
}
