import { z } from 'zod';
import { ActionSource, RobotSpec, RunConfig, StepSafety } from '../protocol/index.ts';
import { StoreError } from './errors.ts';

/** A run as the store returns it. */
export const Run = z.object({
  id: z.number().int().positive(),
  createdAt: z.number(),
  command: z.string(),
  task: z.string(),
  config: RunConfig,
  spec: RobotSpec,
  codeVersion: z.string().optional(),
  backend: z.string().optional(),
});
export type Run = z.infer<typeof Run>;

/** Something that happened during a run (mode change, alarm, e-stop, recovery). */
export const StoredEvent = z.object({
  id: z.number().int().positive(),
  runId: z.number().int().positive(),
  episodeId: z.number().int().positive().optional(),
  t: z.number(),
  kind: z.string().min(1),
  payload: z.unknown(),
});
export type StoredEvent = z.infer<typeof StoredEvent>;

/** One scalar of a run's training curve; `value` may be NaN or ±Infinity (a diverged loss is worth keeping). */
export const Metric = z.object({
  runId: z.number().int().positive(),
  step: z.number().int(),
  name: z.string().min(1),
  value: z.custom<number>((v) => typeof v === 'number', 'must be a number'),
  t: z.number(),
});
export type Metric = z.infer<typeof Metric>;

const flag = z.union([z.literal(0), z.literal(1)]).transform((v) => v === 1);
const blob = z.custom<Buffer>((v) => Buffer.isBuffer(v), 'must be a blob');

/** A `steps` row as SQLite returns it, before its blobs are decoded. */
export const StepRow = z.object({
  idx: z.number().int().nonnegative(),
  t: z.number().nonnegative(),
  obs: blob,
  action: blob,
  proposed: blob.nullable(),
  reward: z.number(),
  done: flag,
  truncated: flag,
  source: ActionSource,
  intervened: flag,
  policy_version: z.number().int().nonnegative(),
  safety: z
    .string()
    .nullable()
    .transform((v, ctx) => {
      if (v === null) return undefined;
      const [verdict, reasons] = v.split(':');
      const parsed = StepSafety.safeParse({
        verdict,
        reasons: reasons ? reasons.split(',') : [],
      });
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a safety verdict` });
      return z.NEVER;
    }),
});
export type StepRow = z.infer<typeof StepRow>;

/** Parses a value read back from SQLite; a mismatch is a StoreError naming `what` and the field. */
export function parseRow<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new StoreError(`${what} cannot be read: ${describeIssue(result.error)}`, {
    cause: result.error,
  });
}

/** Parses a value handed to the store; a mismatch is a StoreError naming `what` and the field. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new StoreError(`${what} is invalid: ${describeIssue(result.error)}`, {
    cause: result.error,
  });
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'unknown problem';
  const field = issue.path.map(String).join('.');
  return field ? `${field}: ${issue.message}` : issue.message;
}

/** SQL NULL → undefined, the store's TypeScript convention. */
export function optional<T>(value: T | null): T | undefined {
  return value ?? undefined;
}
