import type { TaskName } from '../protocol/index.ts';

/**
 * Learner settings per task, over LearnerConfig's defaults (printed with each run).
 * probe: no dynamics and a reward in [−1, 0], so a small net, a low initial α (α = 1 would pay
 * more for entropy than the task pays for anything) and a faster lr converge in a CI budget.
 * sim/panda-lift: sparse reward, so no entropy in the backup (docs/LEARNER.md), RLPD's ensemble.
 * ros2: a real robot, as panda-lift.
 * Both name their gripper setting: continuous (an actor output) beats the discrete grasp critic
 * after BC-warmup on panda-lift (docs/BENCHMARKS.md, hil); --set gripper=discrete picks the other.
 */
export const LEARNER_PRESETS: Record<TaskName, Record<string, unknown>> = {
  probe: { hidden: [64, 64], batchSize: 128, initTemperature: 0.05, lr: 1e-3, gamma: 0.9 },
  'sim/panda-lift': {
    ensembleSize: 10,
    minSubset: 2,
    backupEntropy: false,
    initTemperature: 0.1,
    gamma: 0.97,
    gripper: 'continuous',
  },
  // A real robot: panda-lift's settings (sparse reward from the operator, RLPD's ensemble).
  ros2: {
    ensembleSize: 10,
    minSubset: 2,
    backupEntropy: false,
    initTemperature: 0.1,
    gamma: 0.97,
    gripper: 'continuous',
  },
};
