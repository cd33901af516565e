// The desktop shell put together: one instance, the studio process, the CSP, the IPC bridge and
// the window. Electron's objects come in as `electron`, so the whole flow runs in the tests with
// fakes; main.ts passes the real ones.
import { basename, dirname, join } from 'node:path';
import type { App, IpcMain, Session } from 'electron';
import type { StudioClient } from '../../renderer/api/client.ts';
import { forwardEvents, serveCalls } from './ipc.ts';
import { contentSecurityPolicy, type CspSession, denyPermissions, installCsp } from './security.ts';
import {
  connectStudio,
  type StudioProcess,
  type StudioProcessOptions,
  startStudioProcess,
} from './studio-process.ts';
import { claimSingleInstance, createMainWindow, type WindowFactory } from './window.ts';

export interface ShellElectron extends WindowFactory {
  app: Pick<App, 'requestSingleInstanceLock' | 'quit' | 'on' | 'whenReady' | 'exit'>;
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  session: {
    defaultSession: CspSession &
      Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>;
  };
}

export interface ShellOptions {
  /** The Node binary that runs the studio, and bin/tandem.js. */
  node: string;
  bin: string;
  /** `tandem serve` flags. */
  serveArgs: string[];
  /** Extra environment for the studio process (ELECTRON_RUN_AS_NODE in a packaged app). */
  studioEnv: Record<string, string>;
  /** The bundled preload (dist/main/preload.cjs). */
  preload: string;
  /** Injected by the tests. */
  startStudio?: (opts: StudioProcessOptions) => Promise<StudioProcess>;
  connect?: (rpcUrl: string) => Promise<StudioClient>;
  log?: (message: string) => void;
}

/** Where the Electron main process runs from: main.ts passes Electron's answers. */
export interface AppLocation {
  /** `app.isPackaged`: started from a package built by `npm run dist`. */
  packaged: boolean;
  /** `process.execPath`: the packaged app's own executable. */
  execPath: string;
  /** `app.getAppPath()`: resources/app, or resources/app.asar if the app is archived. */
  appRoot: string;
}

/**
 * The app's files on the real file system: the studio process loads them with Node's ESM loader
 * (and tsx's), which cannot read inside an asar archive, so an archived app's must be unpacked.
 */
export function unpackedRoot(appRoot: string): string {
  return basename(appRoot).endsWith('.asar')
    ? join(dirname(appRoot), `${basename(appRoot)}.unpacked`)
    : appRoot;
}

/**
 * The shell's settings: from the environment `tandem start` sets (TANDEM_NODE, TANDEM_BIN,
 * TANDEM_SERVE_ARGS); else, in a packaged app, the studio runs on Electron's own binary as Node
 * (ELECTRON_RUN_AS_NODE=1, which is why the package's native modules are built for Electron)
 * from the app's bin/tandem.js.
 */
export function shellOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  preload: string,
  location: AppLocation,
): Pick<ShellOptions, 'node' | 'bin' | 'serveArgs' | 'preload' | 'studioEnv'> {
  let node = env.TANDEM_NODE;
  let bin = env.TANDEM_BIN;
  let studioEnv: Record<string, string> = {};
  if ((!node || !bin) && location.packaged) {
    node = location.execPath;
    bin = join(unpackedRoot(location.appRoot), 'bin', 'tandem.js');
    studioEnv = { ELECTRON_RUN_AS_NODE: '1' };
  }
  if (!node || !bin) {
    throw new Error('start the desktop studio with `tandem start` (TANDEM_NODE, TANDEM_BIN unset)');
  }
  const args: unknown = JSON.parse(env.TANDEM_SERVE_ARGS ?? '[]');
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
    throw new Error('TANDEM_SERVE_ARGS must be a JSON array of strings');
  }
  return { node, bin, serveArgs: args, preload, studioEnv };
}

/** What a running shell holds (for the tests; main.ts only waits). */
export interface RunningShell {
  studio: StudioProcess;
  /** The main process's one link to the studio: the window's calls and events go through it. */
  link: StudioClient;
  shutdown(): Promise<void>;
}

/**
 * Runs the desktop studio: quits at once (undefined) when another instance runs, which then comes
 * to the front; else starts the studio process, sets the CSP and the permission and IPC rules,
 * and opens the window on the studio's URL. Closing the window stops the studio (Ctrl-C style:
 * the running episode is kept) and quits; the studio ending on its own quits too.
 */
export async function runShell(
  electron: ShellElectron,
  opts: ShellOptions,
): Promise<RunningShell | undefined> {
  const { app } = electron;
  const log = opts.log ?? ((m: string) => console.error(m));
  const shown: { window?: Awaited<ReturnType<typeof createMainWindow>> } = {};
  if (!claimSingleInstance(app, () => shown.window)) return undefined;
  await app.whenReady();

  const studio = await (opts.startStudio ?? startStudioProcess)({
    node: opts.node,
    bin: opts.bin,
    args: opts.serveArgs,
    env: opts.studioEnv,
    echo: (text) => process.stdout.write(text),
  });
  let link: StudioClient;
  try {
    link = await (opts.connect ?? connectStudio)(studio.rpcUrl);
  } catch (err) {
    await studio.stop();
    throw err;
  }
  const origin = new URL(studio.url).origin;
  const defaultSession = electron.session.defaultSession;
  installCsp(defaultSession, contentSecurityPolicy(origin));
  denyPermissions(defaultSession);
  const stopCalls = serveCalls(electron.ipcMain, link, origin);
  let stopEvents = () => {};

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      stopEvents();
      stopCalls();
      link.close();
      await studio.stop();
      app.quit();
    })());
  app.on('window-all-closed', () => void shutdown());
  void studio.exited.then((code) => {
    if (stopping) return;
    log(`tandem: the studio stopped (exit code ${code}); closing the window`);
    void shutdown();
  });

  shown.window = await createMainWindow(electron, { url: studio.url, preload: opts.preload });
  stopEvents = forwardEvents(link, shown.window.webContents);
  return { studio, link, shutdown };
}
