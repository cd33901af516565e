import type { ActionSource, Mode, Transition } from '../protocol/index.ts';
import type { SafeRobot } from '../robots/index.ts';
import type { SafetyResult } from '../robots/safety.ts';
import type { Recorder } from '../store/index.ts';

/** What one step is made of: who drives, what they propose, and when. */
export interface StepInputs {
  /** The policy's proposal, stored on every step (null: the policy has none yet). */
  proposal: ArrayLike<number> | null;
  /**
   * The operator's action when the operator drives (`human`: teleop or headset packets,
   * `scripted`: the task's expert); absent when the policy drives. `action` null: none yet.
   */
  operator?: {
    kind: 'human' | 'scripted';
    action: ArrayLike<number> | null;
    /** When the human operator's newest packet arrived (ms, the clock of `now`). */
    receivedAt?: number | undefined;
    /** The human operator's newest packet already drove a tick: hold until the next. */
    repeated?: boolean;
  };
  mode: Mode;
  /** Now (ms), for the safety layer's stale-input hold. */
  now: number;
  /** An intervention: the operator took over from the policy. */
  intervened: boolean;
  policyVersion: number;
}

/** One step taken: the transition as stored and learned from, and what the studio must know. */
export interface StepOutput {
  transition: Transition;
  /** The safety layer's result (its alarm, set on the tick an alarming hold begins). */
  safety: SafetyResult;
  /** The task ended with success on this step. */
  success: boolean;
  /** Why the robot held still instead of acting (StepInfo.faults); empty when it acted. */
  faults: string[];
}

/**
 * The one step every loop takes (the live session, headless training, evaluation, recording):
 * the driver's action through the robot's safety layer, executed, and the transition built from
 * what was executed. It reads nothing but its arguments and the robot.
 */
export function takeStep(robot: SafeRobot, inputs: StepInputs): StepOutput {
  const op = inputs.operator;
  const source: ActionSource = op ? op.kind : 'policy';
  const step = robot.apply(op ? op.action : inputs.proposal, {
    source: op ? (op.kind === 'human' ? 'operator' : 'expert') : 'policy',
    mode: inputs.mode,
    now: inputs.now,
    lastOperatorPacketAt: op?.kind === 'human' ? op.receivedAt : inputs.now,
    repeated: op?.repeated === true,
  });
  const { safety } = step;
  return {
    transition: {
      obs: step.prevObs,
      action: safety.action,
      proposed: inputs.proposal,
      reward: step.reward,
      nextObs: step.obs,
      done: step.done,
      truncated: step.truncated,
      source,
      intervened: inputs.intervened,
      policyVersion: inputs.policyVersion,
      safety: { verdict: safety.verdict, reasons: safety.reasons },
    },
    safety,
    success: step.info.success,
    faults: step.info.faults ?? [],
  };
}

/** Records `transition` as step `index` of `episodeId` (t = index / rate). */
export function recordTransition(
  recorder: Recorder,
  episodeId: number,
  index: number,
  rateHz: number,
  transition: Transition,
): void {
  recorder.record(episodeId, { ...transition, index, t: index / rateHz });
}
