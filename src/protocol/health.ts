import { z } from 'zod';

/** The learner failure modes the studio watches for (docs/LEARNER.md, "Health"). */
export const HealthPathology = z.enum([
  'q_divergence',
  'temperature_runaway',
  'entropy_collapse',
  'bc_swamped',
  'adv_weights_degenerate',
  'reward_design_trap',
  'critic_blowup',
  // The studio's, not the learner's: the policy's own success fell after BC-warmup → autonomous.
  'handover_regression',
]);
export type HealthPathology = z.infer<typeof HealthPathology>;

/**
 * A health event: a pathology `raised` when its signal crossed its threshold, or `cleared` once the
 * signal stayed recovered. `evidence` quotes the figures in words; `metrics` holds them as numbers
 * (finite only: a NaN is named in the evidence instead).
 */
export const HealthAlert = z.object({
  pathology: HealthPathology,
  state: z.enum(['raised', 'cleared']),
  /** Learner step of the record that raised or cleared it. */
  step: z.number().int().nonnegative(),
  evidence: z.string().min(1),
  probableCause: z.string().min(1),
  whatToTry: z.array(z.string().min(1)),
  metrics: z.record(z.string(), z.number()),
});
export type HealthAlert = z.infer<typeof HealthAlert>;
