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

/** What a robot (sim or real) or task offers: its spaces, control rate and episode length. */
export const RobotSpec = z.object({
  task: z.string().min(1),
  observation: BoxSpec,
  action: BoxSpec,
  rateHz: z.number().positive().max(1000),
  maxSteps: z.number().int().positive(),
});
export type RobotSpec = z.infer<typeof RobotSpec>;

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
