import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
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
    } else {
      console.log('The desktop shell is not built yet; starting the browser host instead.');
    }
    await serveStudio(args.values);
  },
};
