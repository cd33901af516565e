// The studio behind the desktop window: `tandem serve` in a child process, and the main process's
// one link to its RPC (the window reaches the studio through it, over the preload bridge). Under
// `tandem start` the child runs on the system's Node (the native modules are built for Node's ABI);
// in a packaged app on Electron's own binary as Node (ELECTRON_RUN_AS_NODE=1; the package's native
// modules are rebuilt for Electron). Never in Electron's main process: a studio that stalls must
// not freeze the window.
import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { WebSocket } from 'ws';
import type { StudioClient } from '../../renderer/api/client.ts';
import { WsStudioClient } from '../../renderer/api/ws-client.ts';

/** The addresses `tandem serve` prints, once both lines are out. */
export function parseAddresses(output: string): { url: string; rpcUrl: string } | undefined {
  const url = /tandem studio: (http:\/\/\S+)/.exec(output)?.[1];
  const rpcUrl = /RPC (ws:\/\/\S+)/.exec(output)?.[1];
  return url && rpcUrl ? { url, rpcUrl } : undefined;
}

export interface StudioProcess {
  url: string;
  rpcUrl: string;
  child: ChildProcess;
  /** Settles with the exit code when the process ends (for any reason). */
  exited: Promise<number | null>;
  /** Stops it as Ctrl-C does (the running episode is kept) and waits; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StudioProcessOptions {
  /** The Node binary (`tandem start` passes its own). */
  node: string;
  /** bin/tandem.js */
  bin: string;
  /** `tandem serve` flags (--port, --db, --operator, …). */
  args: readonly string[];
  /** Extra environment for the child, over this process's (e.g. ELECTRON_RUN_AS_NODE). */
  env?: Readonly<Record<string, string>>;
  /** How long to wait for the addresses. */
  timeoutMs?: number;
  spawn?: typeof nodeSpawn;
  /** Where the studio's own output goes (the terminal that ran `tandem start`). */
  echo?: (text: string) => void;
}

/** Starts `tandem serve ARGS` and resolves once it prints its addresses; rejects if it exits. */
export function startStudioProcess(opts: StudioProcessOptions): Promise<StudioProcess> {
  const spawn = opts.spawn ?? nodeSpawn;
  const child = spawn(opts.node, [opts.bin, 'serve', ...opts.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const stop = async (graceMs = 20_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    let output = '';
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      void stop(1000);
      reject(
        new Error(`the studio printed no address in ${opts.timeoutMs ?? 60_000} ms:\n${output}`),
      );
    }, opts.timeoutMs ?? 60_000);
    const take = (data: Buffer) => {
      const text = data.toString();
      opts.echo?.(text);
      if (settled) return;
      output += text;
      const addresses = parseAddresses(output);
      if (addresses) {
        settled = true;
        clearTimeout(timer);
        resolve({ ...addresses, child, exited, stop });
      }
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`the studio could not be started: ${err.message}`));
    });
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`the studio exited (code ${code}) before it served:\n${output.trim()}`));
    });
  });
}

/**
 * The main process's link to the studio: the renderer's own WsStudioClient over `ws` (a non-browser
 * client: no Origin; local, so it may drive), through which the window's calls and events pass.
 * Resolves once connected; rejects (and gives up) if the RPC does not open within `timeoutMs`.
 */
export async function connectStudio(rpcUrl: string, timeoutMs = 10_000): Promise<StudioClient> {
  const link = new WsStudioClient({ url: rpcUrl, WebSocket });
  try {
    await link.whenOpen(timeoutMs);
  } catch (err) {
    link.close();
    throw err;
  }
  return link;
}
