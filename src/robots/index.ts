import { TaskConfig, TASK_NAMES, type TaskName } from '../protocol/index.ts';
import { Probe } from './probe/probe.ts';
import type { Robot } from './robot.ts';
import { createRos2Robot } from './ros2/index.ts';
import { PandaLift } from './sim/panda-lift.ts';
import { SafeRobot } from './safe-robot.ts';
import type { SafetyOptionsInput } from './safety.ts';

export type { Robot, StepResult } from './robot.ts';
export { createExpert, type Expert } from './expert.ts';
export { SafeRobot, type ActionContext, type SafeStep } from './safe-robot.ts';

/** A task name nobody knows; the message lists the ones that exist. */
export class UnknownTaskError extends Error {
  override name = 'UnknownTaskError';
  constructor(task: string) {
    super(`unknown task "${task}"; tasks: ${TASK_NAMES.join(', ')}`);
  }
}

export function isTaskName(task: string): task is TaskName {
  return (TASK_NAMES as readonly string[]).includes(task);
}

/**
 * Builds the robot for a task config (options validated by the task's schema), wrapped in the
 * safety layer with `safety` (SafetyOptions input): the only robot a loop can step. `ros2` loads
 * rclnodejs only here, and throws Ros2UnavailableError (the fix in its message) without ROS 2.
 */
export async function createRobot(
  config: { task: string; options?: unknown },
  safety: SafetyOptionsInput = {},
): Promise<SafeRobot> {
  const robot = await createBareRobot(config);
  try {
    return new SafeRobot(robot, safety);
  } catch (err) {
    robot.close(); // bad safety settings: nothing may keep the bare robot
    throw err;
  }
}

async function createBareRobot(config: { task: string; options?: unknown }): Promise<Robot> {
  if (!isTaskName(config.task)) throw new UnknownTaskError(config.task);
  const parsed = TaskConfig.parse({ task: config.task, options: config.options ?? {} });
  switch (parsed.task) {
    case 'sim/panda-lift':
      return PandaLift.create(parsed.options);
    case 'probe':
      return new Probe(parsed.options);
    case 'ros2':
      return createRos2Robot(parsed.options.config);
  }
}

/**
 * Why an episode of `task` cannot be replayed (re-run from its seed and actions), or undefined
 * when it can: the simulations can; replaying a real robot's episode would drive the robot again.
 */
export function replayRefusal(task: string, episodeId: number): string | undefined {
  if (task !== 'ros2') return undefined;
  return `episode ${episodeId} was recorded on a real robot (ros2): it cannot be re-simulated, and replaying it would move the robot; its recorded steps are in the review and in \`tandem episodes show\``;
}
