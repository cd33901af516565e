import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Where Tandem keeps its data: `$TANDEM_HOME`, else `$XDG_DATA_HOME/tandem`, else
 * `~/.local/share/tandem`. Empty variables count as unset, and a relative `XDG_DATA_HOME` is
 * ignored, as the XDG base-directory spec asks.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TANDEM_HOME) return resolve(env.TANDEM_HOME);
  const xdg = env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'tandem');
  return join(homedir(), '.local', 'share', 'tandem');
}

export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultDataDir(env), 'tandem.db');
}
