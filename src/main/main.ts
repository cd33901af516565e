// Electron's main process (bundled by build.ts into dist/main/main.js and started by
// `tandem start`, or by a package built by `npm run dist`). The only module here that loads
// Electron itself; everything it does is in shell.ts, with Electron's objects passed in.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, ipcMain, session } from 'electron';
import { runShell, shellOptionsFromEnv } from './shell.ts';

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const options = shellOptionsFromEnv(process.env, join(here, 'preload.cjs'), {
    packaged: app.isPackaged,
    execPath: process.execPath,
    appRoot: app.getAppPath(),
  });
  await runShell({ app, BrowserWindow, ipcMain, session }, options);
}

main().catch((err: unknown) => {
  console.error(`tandem: ${err instanceof Error ? err.message : String(err)}`);
  app.exit(1);
});
