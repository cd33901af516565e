import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how the command was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}

/**
 * Parses `argv` strictly against `options` (plus --help). Unknown flags and missing values are
 * UsageErrors. Returns undefined when --help was asked for (after printing `usage`).
 */
export function parse<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
  allowPositionals = false,
):
  | ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean; strict: true }>>
  | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(
      (err as Error).message.split('\n')[0]!.replace(/^TypeError \[\w+\]: /, ''),
    );
  }
  if ((parsed.values as Record<string, unknown>).help) {
    console.log(usage.trim());
    return undefined;
  }
  return parsed as never;
}

/** A whole, non-negative number from a flag, or a UsageError naming the flag. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min = 0,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be a whole number ≥ ${min}, got "${value}"`);
  }
  return n;
}
