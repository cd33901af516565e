import { z } from 'zod';

/** Who chose the executed action of a step. */
export const ActionSource = z.enum(['policy', 'human', 'scripted']);
export type ActionSource = z.infer<typeof ActionSource>;

/** Why an episode exists: operator demonstrations, online training, or evaluation of the policy. */
export const EpisodeKind = z.enum(['demo', 'train', 'eval']);
export type EpisodeKind = z.infer<typeof EpisodeKind>;

/**
 * How an episode ended. `interrupted`: the process died before it ended (set on the next open);
 * `discarded`: the operator threw it away (rerecord).
 */
export const EpisodeOutcome = z.enum(['success', 'failure', 'timeout', 'interrupted', 'discarded']);
export type EpisodeOutcome = z.infer<typeof EpisodeOutcome>;

const finiteArray = z.array(z.number().refine(Number.isFinite, 'must be a finite number'));

/**
 * One control step as recorded: the observation the action was chosen on, the executed action
 * (after safety), the policy's proposal (also when a human drove), and what the robot returned.
 */
export const Step = z.object({
  index: z.number().int().nonnegative(),
  /** Seconds since the episode started. */
  t: z.number().nonnegative(),
  obs: finiteArray,
  action: finiteArray,
  proposed: finiteArray.nullable(),
  reward: z.number().refine(Number.isFinite, 'must be a finite number'),
  done: z.boolean(),
  truncated: z.boolean(),
  source: ActionSource,
  intervened: z.boolean(),
  policyVersion: z.number().int().nonnegative(),
});
export type Step = z.infer<typeof Step>;

/** An episode row as the store returns it. `outcome` is undefined while it runs. */
export const Episode = z.object({
  id: z.number().int().positive(),
  runId: z.number().int().positive(),
  task: z.string(),
  kind: EpisodeKind,
  seed: z.number().int(),
  startedAt: z.number(),
  endedAt: z.number().optional(),
  outcome: EpisodeOutcome.optional(),
  numSteps: z.number().int().nonnegative(),
  return: z.number(),
  intervenedSteps: z.number().int().nonnegative(),
  label: z.enum(['success', 'failure']).optional(),
  notes: z.string().optional(),
  /** The steps kept for learning, [start, end): the operator trimmed the rest (all are stored). */
  trim: z
    .object({ start: z.number().int().nonnegative(), end: z.number().int().positive() })
    .optional(),
  deleted: z.boolean(),
});
export type Episode = z.infer<typeof Episode>;

/** A learner-ready transition (s, a, r, s', done), built from two consecutive steps. */
export interface Transition {
  obs: Float32Array;
  action: Float32Array;
  reward: number;
  nextObs: Float32Array;
  /** True only on termination (success); a time-limit truncation still bootstraps. */
  done: boolean;
  intervened: boolean;
  source: ActionSource;
}
