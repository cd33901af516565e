import { z } from 'zod';

/**
 * A box space with one named dimension per entry; `low[i] <= high[i]` for every i. Bounds are
 * finite (they are stored as JSON and used to normalise): give a generous physical range.
 */
export const BoxSpec = z
  .object({
    names: z.array(z.string().min(1)).min(1),
    low: z.array(z.number()),
    high: z.array(z.number()),
  })
  .superRefine((box, ctx) => {
    if (box.low.length !== box.names.length || box.high.length !== box.names.length) {
      ctx.addIssue({
        code: 'custom',
        message: `names, low and high must have one entry per dimension (got ${box.names.length}, ${box.low.length}, ${box.high.length})`,
      });
      return;
    }
    box.low.forEach((lo, i) => {
      if (!(lo <= (box.high[i] as number))) {
        ctx.addIssue({
          code: 'custom',
          path: ['low', i],
          message: `low > high for ${box.names[i]}`,
        });
      }
    });
  });
export type BoxSpec = z.infer<typeof BoxSpec>;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const xyz = z.tuple([finite, finite, finite]);
const index = z.number().int().nonnegative();

/**
 * The kinematic facts the safety layer (src/robots/safety.ts) needs about a robot's action.
 *
 * - `ee-delta`: the action moves the end effector. `translation` are the action indices of x, y, z
 *   (one unit moves `metresPerUnit` metres per control step) and `eeObs` the observation names of
 *   the measured tool point. `workspace` is the box (same frame, metres) the tool point is kept in.
 *   `gripper` is the action index of an absolute gripper command and `atReset` the command that
 *   keeps the gripper as a reset leaves it (held until the first executed action). `targetLead`:
 *   the robot adds each delta to a target it keeps within `targetLead` units of the measured tool
 *   point per axis, so the layer tracks that target; absent: the target is the measured point plus
 *   the delta. Any other action entry is a delta too: holding still sends it as 0.
 * - `absolute`: the action is a position command. `rest` is the action that holds the robot as a
 *   reset leaves it, used for a hold before any action was executed (default: the box centre).
 */
export const SafetySpec = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('ee-delta'),
      eeObs: z.tuple([z.string().min(1), z.string().min(1), z.string().min(1)]),
      translation: z.tuple([index, index, index]),
      metresPerUnit: z.number().positive(),
      gripper: z.object({ index, atReset: finite }).strict().optional(),
      targetLead: z.number().positive().optional(),
      workspace: z
        .object({ low: xyz, high: xyz })
        .strict()
        .refine((w) => w.low.every((lo, i) => lo <= w.high[i]!), 'workspace low > high'),
    })
    .strict(),
  z.object({ kind: z.literal('absolute'), rest: z.array(finite).optional() }).strict(),
]);
export type SafetySpec = z.infer<typeof SafetySpec>;

/** What a robot (sim or real) or task offers: its spaces, control rate and episode length. */
export const RobotSpec = z
  .object({
    task: z.string().min(1),
    observation: BoxSpec,
    action: BoxSpec,
    rateHz: z.number().positive().max(1000),
    maxSteps: z.number().int().positive(),
    /** What the safety layer needs to know; a robot without it cannot be driven live. */
    safety: SafetySpec.optional(),
  })
  .superRefine((spec, ctx) => {
    for (const message of safetySpecProblems(spec)) {
      ctx.addIssue({ code: 'custom', path: ['safety'], message });
    }
  });
export type RobotSpec = z.infer<typeof RobotSpec>;

/** Why `spec.safety` does not fit the spec's own spaces (empty when it fits or is absent). */
export function safetySpecProblems(spec: {
  observation: { names: readonly string[] };
  action: { names: readonly string[]; low: readonly number[]; high: readonly number[] };
  safety?: SafetySpec | undefined;
}): string[] {
  const { safety, action } = spec;
  if (!safety) return [];
  const dim = action.names.length;
  const problems: string[] = [];
  const inBox = (i: number, v: number) => action.low[i]! <= v && v <= action.high[i]!;
  if (safety.kind === 'absolute') {
    if (safety.rest && safety.rest.length !== dim) {
      problems.push(`rest has ${safety.rest.length} entries, the action has ${dim}`);
    } else if (safety.rest && !safety.rest.every((v, i) => inBox(i, v))) {
      problems.push('rest lies outside the action box');
    }
    return problems;
  }
  for (const name of safety.eeObs) {
    if (!spec.observation.names.includes(name)) problems.push(`no observation named ${name}`);
  }
  const used = [...safety.translation, ...(safety.gripper ? [safety.gripper.index] : [])];
  for (const i of used) {
    if (i >= dim) problems.push(`action index ${i} is out of range (the action has ${dim})`);
  }
  if (new Set(used).size !== used.length) problems.push('action indices repeat');
  for (let i = 0; i < dim; i++) {
    if (i !== safety.gripper?.index && !inBox(i, 0)) {
      problems.push(`the action box of ${action.names[i]} must contain 0 (holding still)`);
    }
  }
  if (
    safety.gripper &&
    safety.gripper.index < dim &&
    !inBox(safety.gripper.index, safety.gripper.atReset)
  ) {
    problems.push('gripper.atReset lies outside the action box');
  }
  return problems;
}

/** A box over `names` with the same bounds on every dimension, or one bound per dimension. */
export function box(
  names: readonly string[],
  low: number | readonly number[],
  high: number | readonly number[],
): BoxSpec {
  const fill = (v: number | readonly number[]) =>
    typeof v === 'number' ? names.map(() => v) : [...v];
  return { names: [...names], low: fill(low), high: fill(high) };
}
