// The desktop shell put together: one instance, the studio process, the CSP, the IPC bridge and
// the window. Electron's objects come in as `electron`, so the whole flow runs in the tests with
// fakes; main.ts passes the real ones.
import type { App, IpcMain, Session } from 'electron';
import type { StudioBackend } from './api.ts';
import { forwardEvents, serveCalls } from './ipc.ts';
import { contentSecurityPolicy, type CspSession, denyPermissions, installCsp } from './security.ts';
import {
  connectStudio,
  type StudioLink,
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
  /** The bundled preload (dist/main/preload.cjs). */
  preload: string;
  /** Injected by the tests. */
  startStudio?: (opts: StudioProcessOptions) => Promise<StudioProcess>;
  connect?: (rpcUrl: string) => Promise<StudioLink>;
  log?: (message: string) => void;
}

/** The shell's settings from the environment `tandem start` sets (TANDEM_NODE, …). */
export function shellOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  preload: string,
): Pick<ShellOptions, 'node' | 'bin' | 'serveArgs' | 'preload'> {
  const node = env.TANDEM_NODE;
  const bin = env.TANDEM_BIN;
  if (!node || !bin) {
    throw new Error('start the desktop studio with `tandem start` (TANDEM_NODE, TANDEM_BIN unset)');
  }
  const args: unknown = JSON.parse(env.TANDEM_SERVE_ARGS ?? '[]');
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
    throw new Error('TANDEM_SERVE_ARGS must be a JSON array of strings');
  }
  return { node, bin, serveArgs: args, preload };
}

/** What a running shell holds (for the tests; main.ts only waits). */
export interface RunningShell {
  studio: StudioProcess;
  link: StudioBackend;
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
    echo: (text) => process.stdout.write(text),
  });
  let link: StudioLink;
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
