import type { Mode, RobotSpec, SceneDescription } from '../protocol/index.ts';
import { createExpert, type Expert } from './expert.ts';
import type { Robot, StepResult } from './robot.ts';
import {
  SafetyLayer,
  type SafetyOptionsInput,
  type SafetyResult,
  type SafetySource,
} from './safety.ts';

/**
 * Who proposes an action and under which mode, and (operator actions) when the newest operator
 * packet arrived. Headless loops leave it out: the policy proposes, nobody is stale.
 */
export interface ActionContext {
  source?: SafetySource;
  mode?: Mode;
  /** Now (ms), on the same clock as `lastOperatorPacketAt`. */
  now?: number;
  /** When the newest operator packet arrived (ms); undefined: none has. Policy actions: ignored. */
  lastOperatorPacketAt?: number | undefined;
  /** Operator actions: the newest packet already drove a tick, none came since (hold, no alarm). */
  repeated?: boolean;
}

/** One step through the safety layer: what the robot returned, and what the layer did. */
export interface SafeStep extends StepResult {
  /** The observation the action was filtered on and executed from. */
  prevObs: Float64Array;
  /** The safety layer's result: the executed action (finite, float32, inside the box) and why. */
  safety: SafetyResult;
}

/**
 * A robot that cannot be stepped unsafely: the only way to move it is `apply`, which sends the
 * proposed action through the safety layer (workspace box, per-step delta limit, NaN rejection,
 * stale-operator hold, e-stop and paused hold) and executes exactly what the layer returns.
 * `createRobot` builds every robot wrapped like this, so no loop (live, headless training,
 * recording, replay) ever sees a bare `Robot.step`.
 */
export class SafeRobot {
  readonly spec: RobotSpec;
  /** The layer this robot's actions go through (its settings, counters, the held gripper). */
  readonly safety: SafetyLayer;
  readonly #robot: Robot;
  #obs: Float64Array | undefined;

  constructor(robot: Robot, options: SafetyOptionsInput = {}) {
    this.#robot = robot;
    this.spec = robot.spec;
    this.safety = new SafetyLayer(robot.spec, options);
  }

  /** The current observation (from the last reset or step); undefined before the first reset. */
  get observation(): Float64Array | undefined {
    return this.#obs;
  }

  /** Resets the robot to episode `seed` and the safety layer with it. */
  reset(seed: number): Float64Array {
    const obs = this.#robot.reset(seed);
    this.safety.reset();
    this.#obs = obs;
    return obs;
  }

  /**
   * Filters `action` (null: none was proposed) through the safety layer and executes the result.
   * A NaN, wrong-length or missing action, stale operator input, e-stop or paused mode holds the
   * robot still; an action outside the box, the step limit or the workspace is clamped.
   */
  apply(action: ArrayLike<number> | null, context: ActionContext = {}): SafeStep {
    const obs = this.#obs;
    if (!obs) throw new Error(`task ${this.spec.task}: reset the robot before stepping it`);
    const now = context.now ?? 0;
    const safety = this.safety.filter({
      action,
      source: context.source ?? 'policy',
      obs,
      now,
      lastOperatorPacketAt: 'lastOperatorPacketAt' in context ? context.lastOperatorPacketAt : now,
      estop: false,
      mode: context.mode ?? 'autonomous',
      repeated: context.repeated === true,
    });
    const result = this.#robot.step(safety.action);
    this.#obs = result.obs;
    return { ...result, prevObs: obs, safety };
  }

  /** The task's scripted expert for this robot (sims and probe; others have none). */
  expert(): Expert {
    return createExpert(this.#robot);
  }

  scene(): SceneDescription | undefined {
    return this.#robot.scene?.();
  }

  /** The bodies' world poses now, when the robot can tell them. */
  poses(): Float64Array | undefined {
    return this.#robot.poses?.();
  }

  close(): void {
    this.#robot.close();
  }
}
