import type { RobotSpec, SceneDescription } from '../protocol/index.ts';

/** What one control step returns. `done`: the task ended (success or failure); `truncated`: time limit. */
export interface StepResult {
  obs: Float64Array;
  reward: number;
  done: boolean;
  truncated: boolean;
  info: StepInfo;
}

export interface StepInfo {
  success: boolean;
  /**
   * Why the robot held still instead of acting (e.g. a ROS 2 topic silent past its timeout): the
   * studio raises an alarm and pauses. Absent or empty when it acted.
   */
  faults?: string[];
  /** Task-specific figures for telemetry and review (e.g. end-effector position). */
  [key: string]: unknown;
}

/**
 * A robot or task the studio can drive, sim or real. Deterministic for a given seed and sequence
 * of actions where the implementation can be (the sims are; a real arm is not).
 */
export interface Robot {
  readonly spec: RobotSpec;
  reset(seed: number): Float64Array;
  /** `action` must have `spec.action.names.length` finite entries; anything else throws ActionError. */
  step(action: ArrayLike<number>): StepResult;
  close(): void;
  /** What a viewer draws (sims describe themselves; a robot that cannot leaves this out). */
  scene?(): SceneDescription;
  /** The world pose of each body of `scene()` now: x, y, z, qw, qx, qy, qz a body. */
  poses?(): Float64Array;
}

/** An action the robot refuses (wrong length, NaN or infinite entries). Nothing was applied. */
export class ActionError extends Error {
  override name = 'ActionError';
}

/** Throws ActionError unless `action` has `dim` finite entries. */
export function checkAction(action: ArrayLike<number>, dim: number): void {
  if (action.length !== dim) {
    throw new ActionError(`action has ${action.length} entries, this task takes ${dim}`);
  }
  for (let i = 0; i < dim; i++) {
    if (!Number.isFinite(action[i])) {
      throw new ActionError(`action[${i}] is ${action[i]}: every entry must be a finite number`);
    }
  }
}
