import { TaskConfig, TASK_NAMES, type TaskName } from '../protocol/index.ts';
import { Probe } from './probe/probe.ts';
import type { Robot } from './robot.ts';
import { createRos2Robot } from './ros2/index.ts';
import { PandaLiftExpert } from './sim/expert.ts';
import { PandaLift } from './sim/panda-lift.ts';

export type { Robot, StepResult } from './robot.ts';

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
 * Builds the robot for a task config (options validated by the task's schema). `ros2` loads
 * rclnodejs only here, and throws Ros2UnavailableError (the fix in its message) without ROS 2.
 */
export async function createRobot(config: { task: string; options?: unknown }): Promise<Robot> {
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

/** A scripted operator: the stand-in for a human in tests, demos and benchmarks. */
export interface Expert {
  reset(): void;
  act(obs: ArrayLike<number>): number[];
}

/** The task's scripted expert: pick-and-lift for panda-lift, the target action for probe. */
export function createExpert(robot: Robot): Expert {
  if (robot instanceof PandaLift) return new PandaLiftExpert(robot.spec, robot.options.actionScale);
  if (robot instanceof Probe) {
    const target = Array.from(robot.target);
    return { reset() {}, act: () => [...target] };
  }
  throw new Error(`task ${robot.spec.task} has no scripted expert`);
}
