import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));

/** A `tandem` child process with its output kept line by line, to wait on. */
export interface Tandem {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the first line (from the start) matching `re`; rejects after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the first JSON progress line satisfying `ok`. */
  waitProgress(ok: (p: Progress) => boolean, timeoutMs?: number): Promise<Progress>;
  progress(): Progress[];
  exited: Promise<number | null>;
  output(): string;
}

/** What `tandem actor` prints about once a second. */
export interface Progress {
  progress: number;
  connected: boolean;
  acked: number;
  backlog: number;
  learnerSteps: number;
  policyVersion: number;
  periodErrorP99?: number;
  ticks?: number;
  missed?: number;
  /** Weights published → in use at a step (ms), over the last 100 swaps. */
  swapP50?: number;
  swapP99?: number;
  /** When the line came (ms, this process's clock). */
  at: number;
}

/** Runs `tandem args` (behind `prefix`, e.g. `ip netns exec NS`), its data folder in `home`. */
export function spawnTandem(args: string[], home: string, prefix: string[] = []): Tandem {
  const command = [...prefix, process.execPath, BIN, ...args];
  const proc = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, TANDEM_HOME: home, TANDEM_DEBUG: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const progress: Progress[] = [];
  const waiters = new Set<() => void>();
  const take = (chunk: Buffer, carry: { rest: string }) => {
    const text = carry.rest + chunk.toString('utf8');
    const parts = text.split('\n');
    carry.rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (line.startsWith('{"progress"'))
        progress.push({ ...(JSON.parse(line) as Progress), at: Date.now() });
    }
    waiters.forEach((w) => w());
  };
  const out = { rest: '' };
  const err = { rest: '' };
  proc.stdout!.on('data', (c: Buffer) => take(c, out));
  proc.stderr!.on('data', (c: Buffer) => take(c, err));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const until = <T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}; output:\n${lines.slice(-40).join('\n')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      void exited.then(() => setTimeout(check, 50));
      check();
    });
  return {
    proc,
    lines,
    exited,
    progress: () => progress,
    output: () => lines.join('\n'),
    waitFor: (re, timeoutMs = 60_000) =>
      until(
        () => {
          for (const l of lines) {
            const m = re.exec(l);
            if (m) return m;
          }
          return undefined;
        },
        String(re),
        timeoutMs,
      ),
    waitProgress: (ok, timeoutMs = 60_000) =>
      until(() => progress.find(ok), 'a progress line', timeoutMs),
  };
}

/** Kills what is still running (tests' cleanup). */
export function killAll(...ps: (Tandem | undefined)[]): void {
  for (const p of ps) if (p && p.proc.exitCode === null) p.proc.kill('SIGKILL');
}
