import { resolve } from 'node:path';
import { isTaskName, UnknownTaskError } from '../robots/index.ts';
import type { TaskName } from '../protocol/index.ts';
import { UsageError } from './args.ts';

/** The --task flag: required, and one of the tasks that exist. */
export function taskFlag(value: string | undefined): TaskName {
  if (value === undefined) {
    throw new UsageError('--task is required (sim/panda-lift, probe or ros2)');
  }
  if (!isTaskName(value)) throw new UnknownTaskError(value);
  return value;
}

/** Help text for the task-option flags shared by the commands that build a task. */
export const taskOptionFlags = `Task options (each task takes its own; defaults are printed at start):
  --reward R           panda-lift: sparse | dense; probe: mse | shaped
  --action-scale M     panda-lift: metres per unit of action per step (default 0.025)
  --max-steps N        steps per episode (panda-lift 100, probe 200)
  --action-dim N       probe: action dimensions (default 6)
  --target V           probe: target action, one value or comma-separated per dimension (default 0)
  --observation O      probe: zero | random
  --config FILE        ros2: the robot's config file (JSON; see docs/ROS2.md)`;

const numberFlags = {
  'action-scale': 'actionScale',
  'max-steps': 'maxSteps',
  'action-dim': 'actionDim',
} as const;

/** Turns the task-option flags into the options object the task's schema then validates. */
export const taskOptionsFrom = {
  options: {
    reward: { type: 'string' },
    'action-scale': { type: 'string' },
    'max-steps': { type: 'string' },
    'action-dim': { type: 'string' },
    target: { type: 'string' },
    observation: { type: 'string' },
    config: { type: 'string' },
  },
  parse(values: Record<string, unknown>): Record<string, unknown> {
    const options: Record<string, unknown> = {};
    for (const [flag, key] of Object.entries(numberFlags)) {
      const raw = values[flag];
      if (raw === undefined) continue;
      const n = Number(raw);
      if (!Number.isFinite(n))
        throw new UsageError(`--${flag} must be a number, got "${String(raw)}"`);
      options[key] = n;
    }
    if (values.reward !== undefined) options.reward = values.reward;
    if (values.observation !== undefined) options.observation = values.observation;
    // Resolved now: the run's stored config then names the file wherever the studio runs from.
    if (typeof values.config === 'string') options.config = resolve(values.config);
    if (typeof values.target === 'string') {
      const parts = values.target.split(',').map(Number);
      if (parts.some((p) => !Number.isFinite(p))) {
        throw new UsageError(
          `--target must be numbers separated by commas, got "${values.target}"`,
        );
      }
      options.target = parts.length === 1 ? parts[0] : parts;
    }
    return options;
  },
} as const;
