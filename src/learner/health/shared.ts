import type { HealthPathology } from '../../protocol/index.ts';
import type { HealthContext, HealthOptions, LearnerMetrics } from './options.ts';

/** What a detector found on one record: the figures in words and as numbers. */
export interface Finding {
  evidence: string;
  metrics: Record<string, number>;
  /** A more specific cause than the table's, when the signal tells which branch it is. */
  probableCause?: string;
}

/** One pathology's watcher. The monitor turns its findings into raise-once, clear-later events. */
export interface Detector {
  readonly pathology: HealthPathology;
  /** Reads one record; a finding when the raise condition holds on it. */
  check(m: LearnerMetrics): Finding | undefined;
  /** While raised: a finding when the signal looks recovered on the latest record. */
  recovery(): Finding | undefined;
  /** After a clear: forget the episode, so a new raise needs fresh evidence. */
  rearm(): void;
}

/**
 * The range of Q a bounded critic can reach: [r_min + α·H⁻, r_max + α·H⁺]/(1−γ), the α·H terms
 * being the entropy bonus a soft backup adds per step (its extremes over the recent records).
 */
export class QBound {
  readonly #context: HealthContext;
  readonly #o: HealthOptions;
  /** 1/(1−γ): the discounted sum of a reward paid every step, per unit of it. */
  readonly horizon: number;
  #rHigh = Number.NEGATIVE_INFINITY;
  #rLow = Number.POSITIVE_INFINITY;
  readonly #bonus: Window;

  constructor(context: HealthContext, o: HealthOptions) {
    this.#context = context;
    this.#o = o;
    this.horizon = context.gamma < 1 ? 1 / (1 - context.gamma) : Number.POSITIVE_INFINITY;
    this.#bonus = new Window(o.qRiseWindow);
  }

  observe(m: LearnerMetrics): void {
    if (Number.isFinite(m.reward_max)) this.#rHigh = Math.max(this.#rHigh, m.reward_max);
    if (Number.isFinite(m.reward_min)) this.#rLow = Math.min(this.#rLow, m.reward_min);
    this.#bonus.push(m.temperature * m.entropy, m.step);
  }

  /** Largest reward per step after scaling: the context's r_max, or the largest seen if larger. */
  get rMax(): number {
    const { rMax, rewardScale } = this.#context;
    return rMax === undefined ? this.#rHigh : Math.max(rMax * rewardScale, this.#rHigh);
  }

  get bonusHigh(): number {
    return this.#bonus.length > 0 ? Math.max(0, this.#bonus.max()) : 0;
  }

  /** Highest Q a bounded critic reaches; +Infinity while nothing is known. */
  get upper(): number {
    const rMax = this.rMax;
    if (!Number.isFinite(rMax)) return Number.POSITIVE_INFINITY;
    return (rMax + this.bonusHigh) * this.horizon;
  }

  /** Lowest Q a bounded critic reaches; −Infinity while nothing is known. */
  get lower(): number {
    if (!Number.isFinite(this.#rLow)) return Number.NEGATIVE_INFINITY;
    const bonusLow = this.#bonus.length > 0 ? Math.min(0, this.#bonus.min()) : 0;
    return (this.#rLow + bonusLow) * this.horizon;
  }

  /** Largest |Q| a bounded critic reaches: the unit of Q margins and spreads. */
  get scale(): number {
    const ends = [this.upper, this.lower].filter(Number.isFinite).map(Math.abs);
    return Math.max(this.#o.minQScale, ...ends);
  }
}

/** Exponential moving average that ignores non-finite samples. */
export class Ema {
  readonly #weight: number;
  #value = Number.NaN;

  constructor(weight: number) {
    this.#weight = weight;
  }

  /** NaN until the first finite sample. */
  get value(): number {
    return this.#value;
  }

  push(x: number): number {
    if (!Number.isFinite(x)) return this.#value;
    this.#value = Number.isNaN(this.#value) ? x : this.#value + this.#weight * (x - this.#value);
    return this.#value;
  }
}

/** The last `size` finite samples with the learner step of each, oldest first. */
export class Window {
  readonly values: number[] = [];
  readonly steps: number[] = [];
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  push(value: number, step: number): void {
    if (!Number.isFinite(value)) return;
    this.values.push(value);
    this.steps.push(step);
    if (this.values.length > this.#size) {
      this.values.shift();
      this.steps.shift();
    }
  }

  get length(): number {
    return this.values.length;
  }

  get full(): boolean {
    return this.values.length >= this.#size;
  }

  get first(): number {
    return this.values[0] ?? Number.NaN;
  }

  get last(): number {
    return this.values.at(-1) ?? Number.NaN;
  }

  /** Learner steps between the oldest and the newest sample. */
  span(): number {
    return (this.steps.at(-1) ?? 0) - (this.steps[0] ?? 0);
  }

  min(): number {
    return Math.min(...this.values);
  }

  max(): number {
    return Math.max(...this.values);
  }

  argmin(): number {
    return this.values.indexOf(this.min());
  }

  argmax(): number {
    return this.values.indexOf(this.max());
  }

  median(): number {
    return median(this.values);
  }

  clear(): void {
    this.values.length = 0;
    this.steps.length = 0;
  }
}

/** Least-squares line y = intercept + slope·i through samples at i = 0..n−1, its R² and slope t. */
export function fitLine(ys: readonly number[]): {
  slope: number;
  intercept: number;
  r2: number;
  t: number;
} {
  const n = ys.length;
  const xMean = (n - 1) / 2;
  const yMean = ys.reduce((s, y) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  ys.forEach((y, i) => {
    sxx += (i - xMean) ** 2;
    sxy += (i - xMean) * (y - yMean);
    syy += (y - yMean) ** 2;
  });
  const slope = sxx > 0 ? sxy / sxx : 0;
  const residual = Math.max(0, syy - slope * sxy);
  const r2 = syy > 0 ? 1 - residual / syy : 0;
  // t = slope / standard error of the slope; a perfect line has an infinite t
  const se = n > 2 ? Math.sqrt(residual / (n - 2) / sxx) : Number.NaN;
  const t = se > 0 ? slope / se : slope === 0 ? 0 : Math.sign(slope) * Number.POSITIVE_INFINITY;
  return { slope, intercept: yMean - slope * xMean, r2, t };
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Entropy smoothed over the records against the target: how many records in a row it has stayed
 * far below it (by more than the gap), and whether it is back near it.
 */
export class EntropyShortfall {
  /** Shortfall in nats that is far: entropyGapPerDim per action dimension, at least entropyGapMin. */
  readonly gap: number;
  readonly #entropy: Ema;
  target = Number.NaN;
  /** Consecutive records far below the target. */
  lowRun = 0;

  constructor(context: HealthContext, o: HealthOptions) {
    this.gap = Math.max(o.entropyGapMin, o.entropyGapPerDim * context.actionDim);
    this.#entropy = new Ema(o.emaWeight);
  }

  /** The smoothed entropy (NaN before the first finite one). */
  get entropy(): number {
    return this.#entropy.value;
  }

  /** Reads one record: the smoothed entropy, or undefined when its entropy or target is not finite. */
  push(m: LearnerMetrics): number | undefined {
    if (!Number.isFinite(m.entropy) || !Number.isFinite(m.target_entropy)) return undefined;
    const entropy = this.#entropy.push(m.entropy);
    this.target = m.target_entropy;
    this.lowRun = entropy < this.target - this.gap ? this.lowRun + 1 : 0;
    return entropy;
  }

  /** The evidence of a recovery, when the entropy is back within half the gap of the target. */
  recovered(): string | undefined {
    const entropy = this.entropy;
    if (!(entropy >= this.target - this.gap / 2)) return undefined;
    return `entropy ${fig(entropy)} back within ${fig(this.gap / 2)} nats of the target ${fig(this.target)}`;
  }
}

/** Findings of one record's sub-checks as one: evidence joined, metrics combined. */
export function merge(findings: (Finding | undefined)[]): Finding | undefined {
  const found = findings.filter((f): f is Finding => f !== undefined);
  if (found.length === 0) return undefined;
  return {
    evidence: found.map((f) => f.evidence).join('; '),
    metrics: Object.assign({}, ...found.map((f) => f.metrics)) as Record<string, number>,
    probableCause: found.find((f) => f.probableCause)?.probableCause,
  };
}

/** A figure for evidence text: three significant digits, e.g. 412, 0.0213, 1.5e+6. */
export function fig(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(3)));
}

/** A count of learner steps: 950, 5k, 1.2M. */
export function steps(n: number): string {
  if (n >= 1e6) return `${fig(n / 1e6)}M`;
  if (n >= 1e3) return `${fig(n / 1e3)}k`;
  return String(n);
}
