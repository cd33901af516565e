import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { rendererBuilt } from '../../server/http.ts';
import { type Command, parse } from '../args.ts';
import { serveOptions, serveStudio } from './serve.ts';

const usage = `
Usage: tandem start [serve options: see tandem serve --help]

Opens the desktop studio (Electron). Without the Electron binary it says so and starts the
browser host instead (same as tandem serve).
`;

/** The Electron binary's path, or why there is none. */
export function electronBinary(): { path: string } | { missing: string } {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    if (typeof path === 'string' && existsSync(path)) return { path };
    return { missing: 'the electron package has no binary' };
  } catch (err) {
    return { missing: (err as Error).message.split('\n')[0]! };
  }
}

export const start: Command = {
  name: 'start',
  summary: 'open the desktop studio (falls back to the browser host)',
  usage,
  async run(argv) {
    const args = parse(argv, serveOptions, usage);
    if (!args) return;
    const electron = electronBinary();
    if ('missing' in electron) {
      console.log(
        `Electron binary not installed (${electron.missing}); starting the browser host instead. ` +
          'Run `npx install-electron` for the desktop app.',
      );
      await serveStudio(args.values);
      return;
    }
    process.exitCode = await runDesktop(electron.path, argv);
  },
};

/**
 * The desktop app: bundles src/main (dist/main) and runs Electron on it; its main process starts
 * `tandem serve ARGV` with this Node and opens the window on it. Resolves with Electron's exit code.
 * src/main is loaded only here, and only its build step: Electron's module stays inside Electron.
 */
async function runDesktop(electronPath: string, argv: readonly string[]): Promise<number> {
  if (!rendererBuilt()) {
    throw new Error('the UI is not built: run `npm run build` (npm start does it for you)');
  }
  const { buildShell } = await import('../../main/build.ts');
  const { main } = await buildShell();
  const child = spawn(electronPath, [main], {
    stdio: 'inherit',
    env: {
      ...process.env,
      TANDEM_NODE: process.execPath,
      TANDEM_BIN: fileURLToPath(new URL('../../../bin/tandem.js', import.meta.url)),
      TANDEM_SERVE_ARGS: JSON.stringify(argv),
    },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.once('SIGINT', forward('SIGINT'));
  process.once('SIGTERM', forward('SIGTERM'));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
