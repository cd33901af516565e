import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** One figure of a benchmark: the median of its repeats, with what it is compared against. */
export interface Figure {
  name: string;
  unit: string;
  median: number;
  samples: number[];
  /** What the figure must reach (the issue's bar), if any. */
  target?: number;
}

export interface BenchResult {
  title: string;
  figures: Figure[];
  /** Ratios measured side by side in this run, e.g. "batched / commit per step". */
  comparisons: { name: string; ratio: number }[];
  notes: string[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function figure(name: string, unit: string, samples: number[], target?: number): Figure {
  return {
    name,
    unit,
    median: median(samples),
    samples,
    ...(target === undefined ? {} : { target }),
  };
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
        `| ${f.name} | ${fmt(f.median)} ${f.unit} | ${fmt(Math.min(...f.samples))} – ${fmt(Math.max(...f.samples))} (n=${f.samples.length}) | ${
          f.target === undefined ? '' : `≥ ${fmt(f.target)} ${f.median >= f.target ? '✓' : '✗'}`
        } |`,
    ),
    '',
    ...result.comparisons.map((c) => `- ${c.name}: **${c.ratio.toFixed(2)}×**`),
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
