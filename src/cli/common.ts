import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LEARNER_BACKENDS, type LearnerBackend } from '../learner/backend.ts';
import { SafetyOptions } from '../robots/safety.ts';
import { Store, defaultDbPath } from '../store/index.ts';
import { UsageError } from './args.ts';

const ROOT = new URL('../../', import.meta.url);

/** The package version, plus the git commit when run from a checkout: stored with every run. */
export function codeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
    version: string;
  };
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return git.status === 0 ? `${pkg.version}+${git.stdout.trim()}` : pkg.version;
}

/** The database a command works on: --db, else the documented default in the data folder. */
export function dbPathFrom(flag: string | undefined): string {
  return flag ?? defaultDbPath();
}

export function openStore(flag: string | undefined, readonly = false): Store {
  return Store.open(dbPathFrom(flag), { readonly });
}

/** Prints rows as aligned columns (the first row is the header). */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows) {
    console.log(
      row
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    );
  }
}

/**
 * Repeated `--FLAG key=value` pairs as an object (values parsed as JSON where they are: numbers,
 * booleans, lists; else kept as text, e.g. actorLoss=sac+bc).
 */
export function keyValueFlags(flag: string, pairs: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--${flag} takes KEY=VALUE, got "${pair}"`);
      const raw = pair.slice(at + 1);
      let value: unknown = raw;
      try {
        value = JSON.parse(raw);
      } catch {
        // not JSON: keep the text
      }
      return [pair.slice(0, at), value];
    }),
  );
}

/**
 * The safety layer's settings from `--safety key=value` flags, validated now (a wrong key or
 * value is a usage error naming it), as given: stored with the run, resolved by the layer.
 */
export function safetyFlags(pairs: readonly string[] | undefined): Record<string, unknown> {
  const given = keyValueFlags('safety', pairs ?? []);
  const parsed = SafetyOptions.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(
      `--safety: ${issue.path.join('.') || 'settings'}: ${issue.message} (keys: staleMs, maxStepMetres, maxDelta)`,
    );
  }
  return given;
}

/** The help line of the `--safety` flag shared by the headless commands. */
export const SAFETY_FLAG_HELP = `  --safety KEY=VALUE   a safety-layer setting (repeatable): maxStepMetres (the largest tool-point
                       step, m), maxDelta (absolute robots: the largest change per step), staleMs`;

/** --backend of train and serve, checked before anything starts. */
export function backendFlag(value: string | undefined): LearnerBackend | undefined {
  if (value !== undefined && !(LEARNER_BACKENDS as readonly string[]).includes(value))
    throw new UsageError(`--backend must be one of ${LEARNER_BACKENDS.join(', ')}`);
  return value as LearnerBackend | undefined;
}
