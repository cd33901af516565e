import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** One figure of a benchmark: the median of its repeats, with what it is compared against. */
export interface Figure {
  name: string;
  unit: string;
  median: number;
  samples: number[];
  /** What the figure must reach (the bar), if any. */
  target?: number;
  /** The bar is an upper bound (e.g. a latency), not a lower one. */
  atMost?: boolean;
}

export interface BenchResult {
  title: string;
  figures: Figure[];
  /** Ratios measured side by side in this run, e.g. "batched / commit per step". */
  comparisons: { name: string; ratio: number; target?: number }[];
  notes: string[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function figure(
  name: string,
  unit: string,
  samples: number[],
  target?: number,
  atMost = false,
): Figure {
  return {
    name,
    unit,
    median: median(samples),
    samples,
    ...(target === undefined ? {} : { target }),
    ...(atMost ? { atMost } : {}),
  };
}

/** The target cell: the bar and whether the median meets it. */
function targetCell(f: Figure): string {
  if (f.target === undefined) return '';
  const met = f.atMost ? f.median <= f.target : f.median >= f.target;
  return `${f.atMost ? '≤' : '≥'} ${fmt(f.target)} ${met ? '✓' : '✗'}`;
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
}

/** The result as Markdown: a table of medians (with their spread) and the side-by-side ratios. */
export function toMarkdown(result: BenchResult, when = new Date()): string {
  const lines = [
    `## ${result.title}`,
    '',
    `Measured ${when.toISOString().slice(0, 10)} on ${machine()}.`,
    '',
    '| figure | median | range over repeats | target |',
    '|---|---|---|---|',
    ...result.figures.map(
      (f) =>
        `| ${f.name} | ${fmt(f.median)} ${f.unit} | ${fmt(Math.min(...f.samples))} – ${fmt(Math.max(...f.samples))} (n=${f.samples.length}) | ${targetCell(f)} |`,
    ),
    '',
    ...result.comparisons.map(
      (c) =>
        `- ${c.name}: **${c.ratio.toFixed(2)}×**` +
        (c.target === undefined ? '' : ` (bar ≥ ${c.target}× ${c.ratio >= c.target ? '✓' : '✗'})`),
    ),
    ...result.notes.map((n) => `- ${n}`),
    '',
  ];
  return lines.join('\n');
}

/** Replaces (or appends) the section of `docs/BENCHMARKS.md` that belongs to `key`. */
export function saveSection(path: string, key: string, markdown: string): void {
  const begin = `<!-- bench:${key}:begin -->`;
  const end = `<!-- bench:${key}:end -->`;
  const block = `${begin}\n${markdown}${end}`;
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\n';
  const at = old.indexOf(begin);
  const next =
    at >= 0
      ? old.slice(0, at) + block + old.slice(old.indexOf(end) + end.length)
      : `${old.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

const TANDEM_BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));

/** How a `tandem` child process ended, with its whole output. */
export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall seconds from spawn to exit. */
  seconds: number;
}

/**
 * Starts the real `tandem` command (bin/tandem.js, as the tests do) with its data folder in
 * `home`; `onLine` sees each output line as it comes. `exit` settles when the process has ended.
 */
export function startTandem(
  args: string[],
  home: string,
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void,
): { child: ChildProcess; startedAt: number; exit: Promise<CliExit> } {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [TANDEM_BIN, ...args], {
    env: { ...process.env, TANDEM_HOME: home, TANDEM_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: [] as string[], stderr: [] as string[] };
  const closed = (['stdout', 'stderr'] as const).map((stream) => {
    const lines = createInterface({ input: child[stream] });
    lines.on('line', (line) => {
      out[stream].push(line);
      onLine?.(line, stream);
    });
    return new Promise((resolve) => lines.once('close', resolve));
  });
  const exit = new Promise<CliExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      void Promise.all(closed).then(() =>
        resolve({
          code,
          signal,
          stdout: out.stdout.join('\n'),
          stderr: out.stderr.join('\n'),
          seconds: (Date.now() - startedAt) / 1000,
        }),
      );
    });
  });
  return { child, startedAt, exit };
}

/** Runs `tandem` to its end; a non-zero exit is an error quoting the end of its stderr. */
export async function runTandem(
  args: string[],
  home: string,
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void,
): Promise<CliExit> {
  const result = await startTandem(args, home, onLine).exit;
  if (result.code !== 0) {
    throw new Error(
      `tandem ${args.join(' ')} exited with ${result.code ?? result.signal}: ${result.stderr.split('\n').slice(-5).join(' | ')}`,
    );
  }
  return result;
}
