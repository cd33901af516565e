import { Probe } from './probe/probe.ts';
import type { Robot } from './robot.ts';
import { PandaLiftExpert } from './sim/expert.ts';
import { PandaLift } from './sim/panda-lift.ts';

/** A scripted operator: the stand-in for a human in tests, demos and benchmarks. */
export interface Expert {
  reset(): void;
  act(obs: ArrayLike<number>): number[];
}

/** The task's scripted expert: pick-and-lift for panda-lift, the target action for probe. */
export function createExpert(robot: Robot | { expert(): Expert }): Expert {
  if ('expert' in robot) return robot.expert();
  if (robot instanceof PandaLift) return new PandaLiftExpert(robot.spec, robot.options.actionScale);
  if (robot instanceof Probe) {
    const target = Array.from(robot.target);
    return { reset() {}, act: () => [...target] };
  }
  throw new Error(`task ${robot.spec.task} has no scripted expert`);
}
