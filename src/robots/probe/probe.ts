import { box, ProbeOptions, type RobotSpec } from '../../protocol/index.ts';
import { Random } from '../../util/random.ts';
import { checkAction, type Robot, type StepResult } from '../robot.ts';

/**
 * `probe`: a task with no dynamics that asks for one fixed target action (docs/LEARNER.md, "The
 * probe", from seed 002). Reward `mse` = −mean((a − t)²); `shaped` = 1 / (1 + ‖a − t‖). A learner
 * that cannot solve it with the MSE reward is broken.
 */
export class Probe implements Robot {
  readonly spec: RobotSpec;
  readonly options: ProbeOptions;
  readonly target: Float64Array;
  #rng = new Random(0);
  #steps = 0;

  constructor(options: Partial<ProbeOptions> = {}) {
    this.options = ProbeOptions.parse(options);
    const { actionDim, obsDim, target, maxSteps } = this.options;
    if (Array.isArray(target) && target.length !== actionDim) {
      throw new Error(`probe target has ${target.length} entries, the action has ${actionDim}`);
    }
    this.target = Float64Array.from({ length: actionDim }, (_, i) =>
      Array.isArray(target) ? target[i]! : target,
    );
    if (this.target.some((t) => Math.abs(t) > 1)) {
      throw new Error('probe target must lie in the action box [−1, 1]');
    }
    const names = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    this.spec = {
      task: 'probe',
      observation: box(names('o', obsDim), -1, 1),
      action: box(names('a', actionDim), -1, 1),
      rateHz: 10,
      maxSteps,
      safety: { kind: 'absolute' }, // no dynamics: holding repeats the last action
    };
  }

  reset(seed: number): Float64Array {
    this.#rng = new Random(seed);
    this.#steps = 0;
    return this.#observe();
  }

  step(action: ArrayLike<number>): StepResult {
    checkAction(action, this.target.length);
    let sq = 0;
    for (let i = 0; i < this.target.length; i++) {
      const d = Math.max(-1, Math.min(1, action[i]!)) - this.target[i]!;
      sq += d * d;
    }
    const reward =
      this.options.reward === 'mse' ? 0 - sq / this.target.length : 1 / (1 + Math.sqrt(sq)); // 0 − x: never −0
    this.#steps++;
    return {
      obs: this.#observe(),
      reward,
      done: false,
      truncated: this.#steps >= this.options.maxSteps,
      info: { success: false, distance: Math.sqrt(sq) },
    };
  }

  close(): void {}

  #observe(): Float64Array {
    const obs = new Float64Array(this.options.obsDim);
    if (this.options.observation === 'random') {
      for (let i = 0; i < obs.length; i++) obs[i] = this.#rng.uniform(-1, 1);
    }
    return obs;
  }
}
