import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureRendererBuilt } from './renderer.ts';

const BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A real `tandem serve` child process (the user-visible thing: its exit is the bug these tests
 * guard against), on a free port, its data folder in `home`.
 */
export interface ServeChild {
  child: ChildProcess;
  port: number;
  /** ws://127.0.0.1:PORT/ws */
  url: string;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Its exit code once it exited (null: killed by a signal); undefined while it runs. */
  exitCode(): number | null | undefined;
  /** Resolves with the exit code when it exits. */
  exited: Promise<number | null>;
  /** Its resident set (bytes), from /proc. */
  rssBytes(): number;
  /** Ctrl-C (a kill if it is stuck 20 s later); resolves with its exit code. */
  stop(): Promise<number | null>;
}

export async function startServe(home: string, args: string[] = []): Promise<ServeChild> {
  ensureRendererBuilt();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    env: { ...process.env, TANDEM_HOME: home, TANDEM_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let code: number | null | undefined;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (c) => resolve((code = c))),
  );
  const deadline = Date.now() + 90_000;
  let url: string | undefined;
  while (!url) {
    if (code !== undefined || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tandem serve printed no RPC address (exit ${code}): ${out} ${err}`);
    }
    url = /RPC (ws:\/\/\S+)/.exec(out)?.[1];
    await sleep(100);
  }
  const port = Number(new URL(url).port);
  return {
    child,
    port,
    url,
    exited,
    stdout: () => out,
    stderr: () => err,
    exitCode: () => code,
    rssBytes: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    stop: async () => {
      if (code !== undefined) return code;
      child.kill('SIGINT');
      const stuck = setTimeout(() => child.kill('SIGKILL'), 20_000);
      try {
        return await exited;
      } finally {
        clearTimeout(stuck);
      }
    },
  };
}

/** Polls `ready` every 50 ms until it holds; throws `what` (and the last value) past `ms`. */
export async function until<T>(
  ready: () => T | Promise<T>,
  ms: number,
  what: () => string,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await ready();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what()} (after ${ms} ms)`);
    await sleep(50);
  }
}

/** `promise`, or a rejection naming `what` past `ms` (a dead server must fail a test, not hang it). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
