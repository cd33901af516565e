import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Store, defaultDbPath } from '../store/index.ts';

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
