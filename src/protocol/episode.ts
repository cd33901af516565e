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

/** What the safety layer did to a step's action: passed it, clamped it, or held the robot still. */
export const SafetyVerdict = z.enum(['pass', 'clamped', 'held']);
export type SafetyVerdict = z.infer<typeof SafetyVerdict>;

/**
 * Why an action was held or changed. Holds: `missing` (no action), `length` (wrong number of
 * entries), `nan` (NaN or infinite entry), `bad-obs` (the tool point is not in the observation or
 * not finite), `e-stop`, `paused`, `stale-operator`, `no-packet` (the operator's newest packet
 * already drove a tick and no new one came: a teleop packet is one tick's motion). Clamps: `bounds` (the action box), `delta`
 * (per-step limit), `workspace` (motion toward outside the workspace box shrunk).
 */
export const SAFETY_REASONS = [
  'missing',
  'length',
  'nan',
  'bad-obs',
  'e-stop',
  'paused',
  'stale-operator',
  'no-packet',
  'bounds',
  'delta',
  'workspace',
] as const;
export const SafetyReason = z.enum(SAFETY_REASONS);
export type SafetyReason = z.infer<typeof SafetyReason>;

/** The safety layer's verdict on one step, stored with it. */
export const StepSafety = z.object({ verdict: SafetyVerdict, reasons: z.array(SafetyReason) });
export type StepSafety = z.infer<typeof StepSafety>;

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
  /** The safety layer's verdict; absent on steps recorded before it was stored (schema < 3). */
  safety: StepSafety.optional(),
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

/** A float vector as the step path passes it: any array-like of numbers (Float32Array, Float64Array…). */
const Floats = z.custom<ArrayLike<number>>(
  (v) =>
    (Array.isArray(v) || ArrayBuffer.isView(v)) &&
    typeof (v as ArrayLike<number>).length === 'number',
  'must be an array of numbers',
);

/**
 * One transition (s, a, r, s′) as every loop makes it (the step function, src/studio/step.ts) and
 * hands it on: to the recorder (a step row), the learner (online buffer, and the demo buffer when
 * the operator or the expert drove) and telemetry. `action` is the executed action, after safety;
 * `proposed` the policy's proposal (also when the operator drove). Read back from SQLite, steps
 * pair into transitions with the next step's observation as `nextObs`.
 */
export const Transition = z.object({
  obs: Floats,
  action: Floats,
  proposed: Floats.nullable(),
  reward: z.number(),
  nextObs: Floats,
  /** True only on termination (success or failure); a time-limit truncation still bootstraps. */
  done: z.boolean(),
  truncated: z.boolean(),
  source: ActionSource,
  intervened: z.boolean(),
  policyVersion: z.number().int().nonnegative(),
  safety: StepSafety.optional(),
});
export type Transition = z.infer<typeof Transition>;
