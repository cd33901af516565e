import type { HealthAlert, HealthPathology } from '../protocol/index.ts';
import type { UpdateMetrics } from './sac.ts';

type BcTerms = 'bc_loss' | 'bc_weight' | 'q_term_scale';

/**
 * One metrics record: a learner step's metrics plus what the training loop knows (env steps,
 * rates, probes). Any value may be NaN or ±Infinity (a diverged run); the optional ones are absent
 * when the loss in use has no such term.
 */
export type LearnerMetrics = Omit<UpdateMetrics, BcTerms> &
  Partial<Pick<UpdateMetrics, BcTerms>> & {
    /** Environment steps so far. */
    envSteps: number;
    updates_per_s: number;
    /** Mean reward the task paid for uniformly random actions (a probe run at the start), if known. */
    random_reward_mean?: number;
    /** Only for advantage-weighted actor losses. */
    adv_weight_mean?: number;
    adv_weight_max?: number;
  };

/** What the monitor knows about the run besides its metrics. */
export interface HealthContext {
  gamma: number;
  rewardScale: number;
  actionDim: number;
  /** Largest reward one step can pay, before scaling; when absent, the largest batch reward seen. */
  rMax?: number;
}

/** Every threshold of the detectors. Windows and counts are in metric records, not learner steps. */
export const DEFAULT_HEALTH_OPTIONS = {
  /** Records a signal must stay recovered before its alert clears: hysteresis against flapping. */
  clearAfterRecords: 10,
  /** EMA weight of the newest record: a ~10-record memory averages out batch-to-batch noise. */
  emaWeight: 0.2,

  /** How far past the bound mean Q may go, as a fraction of the bound's size: critic noise, bound lag. */
  qBoundMargin: 0.25,
  /** Consecutive records past the bound: a brief overshoot while learning fast is not divergence. */
  qBoundRecords: 20,
  /** Records over which a steady rise of Q is judged: long enough for a healthy critic to settle. */
  qRiseWindow: 100,
  /** R² of a line through Q over that window: only a steady climb counts, not noise. */
  qRiseSteadiness: 0.8,
  /** Rise over the window, relative to |Q| at its start, that counts (seed 001: 5 → 25). */
  qRiseFactor: 1,
  /** t-statistic of the reward's slope above which the reward is rising too and explains Q. */
  qRewardTrendT: 2,
  /** |Q| below this fraction of the bound counts as ≈ 0 when judging relative rises and spreads. */
  qFloorFraction: 0.1,
  /** Floor of the bound's size, for rewards that are all ≈ 0 so far (sparse task, no success yet). */
  minQScale: 1,
  /** Growth of the ensemble spread (std/|Q|) over its recent minimum that counts (seed 000: 8×). */
  qSpreadRiseFactor: 5,
  /** Records over which the spread's minimum is taken. */
  qSpreadWindow: 50,
  /** Smallest spread (std/|Q|) that counts: a 5× rise of a negligible spread is still negligible. */
  qSpreadMin: 0.1,

  /** Shortfall below the target entropy, nats per action dimension, that is far (seed 000: 44/56). */
  entropyGapPerDim: 0.5,
  /** Floor of that shortfall in nats, for one- or two-dimensional actions. */
  entropyGapMin: 1,
  /** Records α must have kept rising for, with entropy far below target all along. */
  temperatureWindow: 30,
  /** Growth of α over that window that is a runaway, not regulation (seed 000: 1 → 15). */
  temperatureRiseFactor: 3,
  /** Fraction of record-to-record changes of α that must be rises: a climb, not an excursion. */
  temperatureRisingFraction: 0.7,
  /** α has stopped rising once it grew less than this fraction over clearAfterRecords records. */
  temperatureSteadyFraction: 0.1,
  /** Records within which a fast fall of entropy is looked for. */
  entropyFallWindow: 30,
  /** Fall within that window, nats per action dimension, that is fast (seed 000: +10 → −40 on 56). */
  entropyFallPerDim: 1,
  /** Consecutive records entropy must stay far below target: a dip is not a collapse. */
  entropyLowRecords: 10,

  /** Multiple of the Q bound mean|Q| must pass for λ = c/mean|Q| to count as → 0. */
  bcBoundFactor: 2,
  /** Consecutive records past it. */
  bcRecords: 10,

  /** max/mean of the advantage weights below which they are ≈ uniform: the loss is plain BC. */
  advUniformRatio: 1.1,
  /** max/mean above which a few samples dominate (seed 000: max 50–230 at mean 1.5). */
  advOutlierRatio: 20,
  /** Consecutive records either must hold. */
  advRecords: 20,

  /** Largest |reward| after scaling that SAC's defaults (α, lr, init) tolerate well. */
  rewardScaleLimit: 10,
  /** Mean reward of random actions, as a fraction of r_max, that means the reward pays for anything. */
  randomPayFraction: 0.1,
  /** Records the reward checks look back over. */
  rewardRecords: 20,

  /** Jump of critic loss or gradient norm over its recent median that is a blow-up (two decades). */
  blowupFactor: 100,
  /** Records in that median. */
  blowupWindow: 50,
  /** Records the median needs before jumps are judged. */
  blowupMinBaseline: 10,
  /** Consecutive records the jump must last: one bad batch is not a blow-up. */
  blowupRecords: 3,
  /** Floor of the median: a jump from converged noise (e.g. 1e-6 → 1e-4) is still small. */
  blowupFloor: 1e-3,
  /** A blow-up has recovered once the values are back under this multiple of the median. */
  blowupRecoverFactor: 10,
};
export type HealthOptions = typeof DEFAULT_HEALTH_OPTIONS;

/** The table's probable cause and fixes for each pathology (LEARNER.md, "Health"). */
const GUIDE: Record<HealthPathology, { probableCause: string; whatToTry: string[] }> = {
  q_divergence: {
    probableCause:
      'the actor exploits out-of-distribution actions the critic overestimates: too strong a Q term or too high an update-to-data ratio',
    whatToTry: [
      'more critics, with the target a min over a random subset',
      'LayerNorm in the critic',
      'lower the update-to-data ratio',
      'add a BC term on the demos',
      'normalise the Q term of the actor loss (−Q / mean|Q|)',
    ],
  },
  temperature_runaway: {
    probableCause:
      'α cannot reach the actor loss (AWR/IQL-style losses), or the target entropy is unreachable (e.g. a high-dimensional action chunk)',
    whatToTry: [
      'fix the target entropy',
      'clamp α',
      'use the reparameterised actor loss α·log π − Q',
    ],
  },
  entropy_collapse: {
    probableCause: 'the actor is exploiting a narrow peak of Q',
    whatToTry: ['lower the actor learning rate', 'more α', 'add a BC term'],
  },
  bc_swamped: {
    probableCause:
      'the Q scale exploded, so λ = c/mean|Q| → 0 and the Q and BC terms no longer balance',
    whatToTry: ['normalise the Q loss', 'clamp Q'],
  },
  adv_weights_degenerate: {
    probableCause: 'the advantages are too small or too noisy',
    whatToTry: ['tune the temperature of the weights', 'clip the weights'],
  },
  reward_design_trap: {
    probableCause: 'a shaped reward that pays for doing anything (seed 002), or a reward scale ≫ 1',
    whatToTry: [
      'a penalty-form reward (e.g. −MSE to the target)',
      'a sparse success reward',
      'check the reward scale (|r| ≲ 1 after scaling)',
    ],
  },
  critic_blowup: {
    probableCause: 'too high a learning rate, too large a reward scale, or no gradient clipping',
    whatToTry: [
      'clip the gradient norm',
      'lower the learning rate',
      'roll back to the last good checkpoint',
    ],
  },
};

/** What a detector found on one record: the figures in words and as numbers. */
interface Finding {
  evidence: string;
  metrics: Record<string, number>;
  /** A more specific cause than the table's, when the signal tells which branch it is. */
  probableCause?: string;
}

/** One pathology's watcher. The monitor turns its findings into raise-once, clear-later events. */
interface Detector {
  readonly pathology: HealthPathology;
  /** Reads one record; a finding when the raise condition holds on it. */
  check(m: LearnerMetrics): Finding | undefined;
  /** While raised: a finding when the signal looks recovered on the latest record. */
  recovery(): Finding | undefined;
  /** After a clear: forget the episode, so a new raise needs fresh evidence. */
  rearm(): void;
}

/** The learner's health: feed it every metrics record, show its events and its summary. */
export class HealthMonitor {
  readonly options: HealthOptions;
  readonly #bound: QBound;
  readonly #detectors: Detector[];
  readonly #active = new Map<HealthPathology, HealthAlert>();
  readonly #recovered = new Map<HealthPathology, number>();

  constructor(
    readonly context: HealthContext,
    options: Partial<HealthOptions> = {},
  ) {
    this.options = { ...DEFAULT_HEALTH_OPTIONS, ...options };
    const o = this.options;
    this.#bound = new QBound(context, o);
    this.#detectors = [
      new CriticBlowup(o),
      new QDivergence(context, o, this.#bound),
      new BcSwamped(o, this.#bound),
      new TemperatureRunaway(context, o),
      new EntropyCollapse(context, o),
      new AdvWeightsDegenerate(o),
      new RewardDesignTrap(context, o, this.#bound),
    ];
  }

  /** Reads one record; returns the alerts it raised or cleared. */
  observe(m: LearnerMetrics): HealthAlert[] {
    this.#bound.observe(m);
    const events: HealthAlert[] = [];
    for (const detector of this.#detectors) {
      const { pathology } = detector;
      const finding = detector.check(m);
      if (!this.#active.has(pathology)) {
        if (!finding) continue;
        const alert = toAlert(pathology, 'raised', m.step, finding);
        this.#active.set(pathology, alert);
        this.#recovered.set(pathology, 0);
        events.push(alert);
        continue;
      }
      const recovery = finding ? undefined : detector.recovery();
      const count = recovery ? (this.#recovered.get(pathology) ?? 0) + 1 : 0;
      this.#recovered.set(pathology, count);
      if (!recovery || count < this.options.clearAfterRecords) continue;
      const evidence = `${recovery.evidence} for ${count} records`;
      events.push(toAlert(pathology, 'cleared', m.step, { ...recovery, evidence }));
      this.#active.delete(pathology);
      detector.rearm();
    }
    return events;
  }

  /** The alerts raised and not yet cleared, in detector order. */
  active(): HealthAlert[] {
    return this.#detectors.flatMap((d) => this.#active.get(d.pathology) ?? []);
  }

  /** One line for the progress display: "healthy" or "2 alerts: q_divergence, entropy_collapse". */
  summary(): string {
    const names = this.active().map((a) => a.pathology);
    if (names.length === 0) return 'healthy';
    return `${names.length} alert${names.length === 1 ? '' : 's'}: ${names.join(', ')}`;
  }
}

function toAlert(
  pathology: HealthPathology,
  state: HealthAlert['state'],
  step: number,
  finding: Finding,
): HealthAlert {
  const guide = GUIDE[pathology];
  const metrics = Object.fromEntries(
    Object.entries(finding.metrics).filter(([, v]) => Number.isFinite(v)),
  );
  return {
    pathology,
    state,
    step,
    evidence: finding.evidence,
    probableCause: finding.probableCause ?? guide.probableCause,
    whatToTry: [...guide.whatToTry],
    metrics,
  };
}

// ---------------------------------------------------------------------------------------------
// Detectors

/** Divergent critic: mean Q past the bound, Q climbing while the reward is not, or critics splitting. */
class QDivergence implements Detector {
  readonly pathology = 'q_divergence';
  readonly #o: HealthOptions;
  readonly #bound: QBound;
  readonly #horizon: number;
  readonly #q: Ema;
  readonly #recent: Window;
  #outside = 0;
  #outsideSince = 0;
  readonly #rise: Window;
  readonly #reward: Window;
  readonly #softReward: Window;
  readonly #spreadEma: Ema;
  readonly #stdEma: Ema;
  readonly #spread: Window;
  readonly #std: Window;
  #spreadBaseline: number | undefined;
  /** Q's climb per record when the steady-rise check raised. */
  #riseRate: number | undefined;

  constructor(context: HealthContext, o: HealthOptions, bound: QBound) {
    this.#o = o;
    this.#bound = bound;
    this.#horizon = 1 / (1 - context.gamma);
    this.#q = new Ema(o.emaWeight);
    this.#recent = new Window(o.clearAfterRecords + 1);
    this.#rise = new Window(o.qRiseWindow);
    this.#reward = new Window(o.qRiseWindow);
    this.#softReward = new Window(o.qRiseWindow);
    this.#spreadEma = new Ema(o.emaWeight);
    this.#stdEma = new Ema(o.emaWeight);
    this.#spread = new Window(o.qSpreadWindow);
    this.#std = new Window(o.qSpreadWindow);
  }

  check(m: LearnerMetrics): Finding | undefined {
    if (!Number.isFinite(m.q_mean)) return undefined;
    const q = this.#q.push(m.q_mean);
    this.#recent.push(q, m.step);
    const finding = merge([
      this.#pastBound(q, m.step),
      this.#risingWithoutReward(m),
      this.#spreadRising(q, m),
    ]);
    if (finding && this.#spreadBaseline === undefined) {
      this.#spreadBaseline = this.#spread.length > 0 ? this.#spread.min() : undefined;
    }
    return finding;
  }

  #lastQ = Number.POSITIVE_INFINITY;

  /** Mean Q outside [r_min, r_max + α·H⁺]/(1−γ) by the margin, for qBoundRecords records. */
  #pastBound(q: number, step: number): Finding | undefined {
    const { upper, lower, scale } = this.#bound;
    const margin = this.#o.qBoundMargin * scale;
    const above = q > upper + margin;
    // Below the bound counts only while Q is not climbing: a critic starts near 0 and rises to
    // large positive returns; falling below the worst possible return is the pathology.
    const falling = q <= this.#lastQ;
    this.#lastQ = q;
    if (!above && !(q < lower - margin && falling)) {
      this.#outside = 0;
      return undefined;
    }
    if (this.#outside++ === 0) this.#outsideSince = step;
    if (this.#outside < this.#o.qBoundRecords) return undefined;
    const bonus = this.#bound.bonusHigh;
    const formula = above
      ? bonus > 0
        ? `(r_max + α·H)/(1−γ) = ${fig(upper)} (r_max ${fig(this.#bound.rMax)}, α·H ${fig(bonus)})`
        : `r_max/(1−γ) = ${fig(upper)}`
      : `r_min/(1−γ) = ${fig(lower)}`;
    return {
      evidence: `mean Q ${fig(q)} ${above ? 'above' : 'below'} the bound ${formula} for ${this.#outside} records (${steps(step - this.#outsideSince)} steps)`,
      metrics: { q_mean: q, q_bound_upper: upper, q_bound_lower: lower, records: this.#outside },
    };
  }

  /** A steady climb of Q that no upward trend of the (soft) reward explains. */
  #risingWithoutReward(m: LearnerMetrics): Finding | undefined {
    if (!Number.isFinite(m.reward_mean)) return undefined;
    const bonus = m.temperature * m.entropy;
    this.#rise.push(m.q_mean, m.step);
    this.#reward.push(m.reward_mean, m.step);
    this.#softReward.push(m.reward_mean + (Number.isFinite(bonus) ? bonus : 0), m.step);
    if (!this.#rise.full) return undefined;
    const q = fitLine(this.#rise.values);
    const n = this.#rise.length;
    const start = q.intercept;
    const rise = q.slope * (n - 1);
    const floor = this.#o.qFloorFraction * this.#bound.scale;
    if (q.r2 < this.#o.qRiseSteadiness) return undefined;
    if (rise < this.#o.qRiseFactor * Math.max(Math.abs(start), floor)) return undefined;
    // Q still climbing toward the value its rewards support (r̄/(1−γ), e.g. from its init) is learning
    const supported = Math.max(this.#reward.max(), this.#softReward.max()) * this.#horizon;
    if (start + rise <= supported) return undefined;
    const r = fitLine(this.#reward.values);
    const soft = fitLine(this.#softReward.values);
    if (Math.max(r.t, soft.t) > this.#o.qRewardTrendT) return undefined;
    const rEnd = r.intercept + r.slope * (n - 1);
    this.#riseRate ??= q.slope;
    // the figures a user sees on the curve: medians of the window's first and last tenth
    const tenth = Math.max(1, Math.floor(n / 10));
    const from = median(this.#rise.values.slice(0, tenth));
    const to = median(this.#rise.values.slice(-tenth));
    return {
      evidence: `mean Q rose steadily from ${fig(from)} to ${fig(to)} over ${n} records (${steps(this.#rise.span())} steps) while the mean reward did not rise (${fig(r.intercept)} → ${fig(rEnd)}; it supports Q ≈ ${fig(supported)} at most)`,
      metrics: {
        q_start: from,
        q_end: to,
        reward_start: r.intercept,
        reward_end: rEnd,
        q_supported: supported,
      },
    };
  }

  /** The ensemble's std relative to |Q| grew qSpreadRiseFactor× over its recent minimum. */
  #spreadRising(q: number, m: LearnerMetrics): Finding | undefined {
    if (!Number.isFinite(m.q_std)) return undefined;
    const ref = Math.max(Math.abs(q), this.#o.qFloorFraction * this.#bound.scale);
    const spread = this.#spreadEma.push(m.q_std / ref);
    const std = this.#stdEma.push(m.q_std);
    this.#spread.push(spread, m.step);
    this.#std.push(std, m.step);
    if (!this.#spread.full) return undefined;
    const i = this.#spread.argmin();
    const base = this.#spread.values[i]!;
    const factor = spread / base;
    if (!(factor >= this.#o.qSpreadRiseFactor) || spread < this.#o.qSpreadMin) return undefined;
    return {
      evidence: `ensemble std of Q rose ${fig(factor)}× relative to |Q| in ${steps(m.step - this.#spread.steps[i]!)} steps (std ${fig(this.#std.values[i]!)} → ${fig(std)} at mean Q ${fig(q)})`,
      metrics: { q_std: std, q_std_before: this.#std.values[i]!, spread, spread_before: base },
    };
  }

  recovery(): Finding | undefined {
    const q = this.#q.value;
    const { upper, lower, scale } = this.#bound;
    const slack = (this.#o.qBoundMargin * scale) / 2;
    if (q > upper + slack || q < lower - slack) return undefined;
    // stopped climbing: under half the rate it climbed at when raised, or half the rate that raises
    const ref = Math.max(Math.abs(q), this.#o.qFloorFraction * scale);
    const rate = this.#riseRate ?? (this.#o.qRiseFactor * ref) / this.#o.qRiseWindow;
    const climb = this.#recent.last - this.#recent.first;
    if (!this.#recent.full || climb > (rate * (this.#recent.length - 1)) / 2) return undefined;
    const spread = this.#spreadEma.value;
    const base = this.#spreadBaseline ?? spread;
    const spreadLimit = Math.max(base * this.#o.qSpreadRiseFactor, this.#o.qSpreadMin) / 2;
    if (spread > spreadLimit) return undefined;
    return {
      evidence: `mean Q ${fig(q)} steady within the bound [${fig(lower)}, ${fig(upper)}], ensemble std ${fig(spread)} of |Q|`,
      metrics: { q_mean: q, q_bound_upper: upper, q_bound_lower: lower, spread },
    };
  }

  rearm(): void {
    this.#outside = 0;
    this.#rise.clear();
    this.#reward.clear();
    this.#softReward.clear();
    this.#spread.clear();
    this.#std.clear();
    this.#spreadBaseline = undefined;
    this.#riseRate = undefined;
  }
}

/** α keeps climbing while entropy stays far below target: the regulator cannot reach the policy. */
class TemperatureRunaway implements Detector {
  readonly pathology = 'temperature_runaway';
  readonly #o: HealthOptions;
  readonly #gap: number;
  readonly #alpha: Window;
  readonly #entropy: Ema;
  #target = Number.NaN;
  #lowRun = 0;

  constructor(context: HealthContext, o: HealthOptions) {
    this.#o = o;
    this.#gap = entropyGap(context, o);
    this.#alpha = new Window(o.temperatureWindow + 1);
    this.#entropy = new Ema(o.emaWeight);
  }

  check(m: LearnerMetrics): Finding | undefined {
    if (m.temperature > 0) this.#alpha.push(m.temperature, m.step);
    if (!Number.isFinite(m.entropy) || !Number.isFinite(m.target_entropy)) return undefined;
    const entropy = this.#entropy.push(m.entropy);
    this.#target = m.target_entropy;
    this.#lowRun = entropy < this.#target - this.#gap ? this.#lowRun + 1 : 0;
    if (this.#lowRun < this.#o.temperatureWindow || !this.#alpha.full) return undefined;
    const a = this.#alpha.values;
    const factor = this.#alpha.last / this.#alpha.first;
    const rises = a.filter((v, i) => i > 0 && v > a[i - 1]!).length / (a.length - 1);
    if (factor < this.#o.temperatureRiseFactor || rises < this.#o.temperatureRisingFraction) {
      return undefined;
    }
    return {
      evidence: `temperature α rose from ${fig(this.#alpha.first)} to ${fig(this.#alpha.last)} (${fig(factor)}×) over ${a.length - 1} records (${steps(this.#alpha.span())} steps) while entropy stayed at ${fig(entropy)}, ${fig(this.#target - entropy)} nats below the target ${fig(this.#target)}`,
      metrics: {
        temperature_start: this.#alpha.first,
        temperature: this.#alpha.last,
        entropy,
        target_entropy: this.#target,
      },
    };
  }

  recovery(): Finding | undefined {
    const entropy = this.#entropy.value;
    const metrics = { temperature: this.#alpha.last, entropy, target_entropy: this.#target };
    if (entropy >= this.#target - this.#gap / 2) {
      return {
        evidence: `entropy ${fig(entropy)} back within ${fig(this.#gap / 2)} nats of the target ${fig(this.#target)}`,
        metrics,
      };
    }
    const a = this.#alpha.values;
    const then = a[a.length - 1 - this.#o.clearAfterRecords];
    if (then === undefined || this.#alpha.last > then * (1 + this.#o.temperatureSteadyFraction)) {
      return undefined;
    }
    return {
      evidence: `α stopped rising (${fig(then)} → ${fig(this.#alpha.last)} over ${this.#o.clearAfterRecords} records)`,
      metrics,
    };
  }

  rearm(): void {
    this.#alpha.clear();
    this.#lowRun = 0;
  }
}

/** Entropy fell fast and stays far below target: the actor sits on a narrow peak of Q. */
class EntropyCollapse implements Detector {
  readonly pathology = 'entropy_collapse';
  readonly #o: HealthOptions;
  readonly #gap: number;
  readonly #fall: number;
  readonly #entropy: Ema;
  readonly #window: Window;
  #target = Number.NaN;
  #lowRun = 0;

  constructor(context: HealthContext, o: HealthOptions) {
    this.#o = o;
    this.#gap = entropyGap(context, o);
    this.#fall = Math.max(o.entropyGapMin, o.entropyFallPerDim * context.actionDim);
    this.#entropy = new Ema(o.emaWeight);
    this.#window = new Window(o.entropyFallWindow);
  }

  check(m: LearnerMetrics): Finding | undefined {
    if (!Number.isFinite(m.entropy) || !Number.isFinite(m.target_entropy)) return undefined;
    const entropy = this.#entropy.push(m.entropy);
    this.#target = m.target_entropy;
    this.#window.push(entropy, m.step);
    this.#lowRun = entropy < this.#target - this.#gap ? this.#lowRun + 1 : 0;
    if (this.#lowRun < this.#o.entropyLowRecords) return undefined;
    const i = this.#window.argmax();
    const from = this.#window.values[i]!;
    if (from - entropy < this.#fall) return undefined;
    return {
      evidence: `entropy fell from ${fig(from)} to ${fig(entropy)} in ${steps(m.step - this.#window.steps[i]!)} steps and has stayed far below the target ${fig(this.#target)} (by ${fig(this.#target - entropy)} nats) for ${this.#lowRun} records`,
      metrics: { entropy_before: from, entropy, target_entropy: this.#target },
    };
  }

  recovery(): Finding | undefined {
    const entropy = this.#entropy.value;
    if (!(entropy >= this.#target - this.#gap / 2)) return undefined;
    return {
      evidence: `entropy ${fig(entropy)} back within ${fig(this.#gap / 2)} nats of the target ${fig(this.#target)}`,
      metrics: { entropy, target_entropy: this.#target },
    };
  }

  rearm(): void {
    this.#window.clear();
    this.#lowRun = 0;
  }
}

/** A BC-regularised actor whose critic's |Q| is far past the bound: λ = c/mean|Q| → 0. */
class BcSwamped implements Detector {
  readonly pathology = 'bc_swamped';
  readonly #o: HealthOptions;
  readonly #bound: QBound;
  readonly #absQ: Ema;
  #run = 0;
  #bcOn = false;

  constructor(o: HealthOptions, bound: QBound) {
    this.#o = o;
    this.#bound = bound;
    this.#absQ = new Ema(o.emaWeight);
  }

  check(m: LearnerMetrics): Finding | undefined {
    if (!Number.isFinite(m.q_abs_mean)) return undefined;
    const absQ = this.#absQ.push(m.q_abs_mean);
    this.#bcOn = m.bc_weight !== undefined && m.bc_weight > 0;
    const scale = this.#bound.scale;
    this.#run = this.#bcOn && absQ > this.#o.bcBoundFactor * scale ? this.#run + 1 : 0;
    if (this.#run < this.#o.bcRecords) return undefined;
    const beta = m.bc_weight ?? 0;
    const bcTerm = beta * (m.bc_loss ?? Number.NaN);
    const lambda = m.q_term_scale;
    const metrics: Record<string, number> = { q_abs_mean: absQ, q_bound: scale, bc_weight: beta };
    const past = `mean |Q| ${fig(absQ)} is ${fig(absQ / scale)}× the largest |Q| a bounded critic reaches (${fig(scale)}) for ${this.#run} records`;
    if (lambda !== undefined && Number.isFinite(lambda) && lambda !== 1) {
      const c = lambda * m.q_abs_mean;
      metrics.q_term_scale = lambda;
      return {
        evidence: `λ = c/mean|Q| fell to ${fig(lambda)} (c = ${fig(c)}, so λ ≥ ${fig(c / scale)} for a bounded critic): ${past}; BC weight β ${fig(beta)}`,
        metrics,
      };
    }
    metrics.bc_term = bcTerm;
    return {
      evidence: `${past}, against a BC term β·bc_loss = ${fig(bcTerm)}: the Q term is ${fig(absQ / bcTerm)}× the BC term`,
      metrics,
    };
  }

  recovery(): Finding | undefined {
    const absQ = this.#absQ.value;
    const scale = this.#bound.scale;
    if (!this.#bcOn) return { evidence: 'the BC term is off', metrics: { q_abs_mean: absQ } };
    if (!(absQ <= scale)) return undefined;
    return {
      evidence: `mean |Q| ${fig(absQ)} back within the bound ${fig(scale)}`,
      metrics: { q_abs_mean: absQ, q_bound: scale },
    };
  }

  rearm(): void {
    this.#run = 0;
  }
}

/** Advantage weights that are all ≈ equal (plain BC) or dominated by a few outliers. */
class AdvWeightsDegenerate implements Detector {
  readonly pathology = 'adv_weights_degenerate';
  readonly #o: HealthOptions;
  readonly #ratio: Ema;
  #uniformRun = 0;
  #outlierRun = 0;
  #present = false;

  constructor(o: HealthOptions) {
    this.#o = o;
    this.#ratio = new Ema(o.emaWeight);
  }

  check(m: LearnerMetrics): Finding | undefined {
    const mean = m.adv_weight_mean;
    const max = m.adv_weight_max;
    this.#present = mean !== undefined && max !== undefined;
    if (mean === undefined || max === undefined || !(mean > 0) || !Number.isFinite(max)) {
      return undefined;
    }
    const ratio = this.#ratio.push(max / mean);
    this.#uniformRun = ratio < this.#o.advUniformRatio ? this.#uniformRun + 1 : 0;
    this.#outlierRun = ratio >= this.#o.advOutlierRatio ? this.#outlierRun + 1 : 0;
    const metrics = { adv_weight_mean: mean, adv_weight_max: max, ratio };
    if (this.#uniformRun >= this.#o.advRecords) {
      return {
        evidence: `advantage weights ≈ uniform: the largest is only ${fig(ratio)}× the mean (smoothed; latest max ${fig(max)}, mean ${fig(mean)}) for ${this.#uniformRun} records, so the weighted loss is plain BC`,
        metrics,
        probableCause: 'the advantages are too small to tell actions apart',
      };
    }
    if (this.#outlierRun >= this.#o.advRecords) {
      return {
        evidence: `the largest advantage weight is ${fig(ratio)}× the mean (smoothed; latest max ${fig(max)}, mean ${fig(mean)}) for ${this.#outlierRun} records: a few samples dominate the actor loss`,
        metrics,
        probableCause: 'the advantages are too noisy: a few outliers get extreme weights',
      };
    }
    return undefined;
  }

  recovery(): Finding | undefined {
    if (!this.#present) return { evidence: 'advantage weights no longer reported', metrics: {} };
    const ratio = this.#ratio.value;
    const low = 1 + 2 * (this.#o.advUniformRatio - 1);
    const high = this.#o.advOutlierRatio / 2;
    if (!(ratio >= low && ratio <= high)) return undefined;
    return {
      evidence: `max/mean of the advantage weights ${fig(ratio)} back in [${fig(low)}, ${fig(high)}]`,
      metrics: { ratio },
    };
  }

  rearm(): void {
    this.#uniformRun = 0;
    this.#outlierRun = 0;
  }
}

/** A reward that pays random actions (seed 002's 1/(1+‖a−t‖)) or whose scale is ≫ 1. */
class RewardDesignTrap implements Detector {
  readonly pathology = 'reward_design_trap';
  readonly #context: HealthContext;
  readonly #o: HealthOptions;
  readonly #bound: QBound;
  readonly #min: Window;
  readonly #absMax: Window;
  #random: number | undefined;

  constructor(context: HealthContext, o: HealthOptions, bound: QBound) {
    this.#context = context;
    this.#o = o;
    this.#bound = bound;
    this.#min = new Window(o.rewardRecords);
    this.#absMax = new Window(o.rewardRecords);
  }

  check(m: LearnerMetrics): Finding | undefined {
    if (m.random_reward_mean !== undefined && Number.isFinite(m.random_reward_mean)) {
      this.#random = m.random_reward_mean;
    }
    this.#min.push(m.reward_min, m.step);
    this.#absMax.push(Math.max(Math.abs(m.reward_min), Math.abs(m.reward_max)), m.step);
    return merge([this.#paysForAnything(), this.#scaleTooLarge()]);
  }

  #paysForAnything(): Finding | undefined {
    if (!this.#min.full) return undefined;
    const lowest = this.#min.min();
    const n = this.#min.length;
    const cause =
      'the reward pays for doing anything (seed 002: 1/(1+‖a−t‖)), so reaching the target is worth little more than acting at random';
    const random = this.#random;
    if (random === undefined) {
      if (!(lowest > 0)) return undefined;
      return {
        evidence: `every sampled reward over the last ${n} records was positive (lowest ${fig(lowest)}): the reward pays for any action`,
        metrics: { reward_min: lowest },
        probableCause: cause,
      };
    }
    const { rewardScale, rMax } = this.#context;
    const best = rMax ?? this.#bound.rMax / rewardScale;
    if (!(lowest >= 0 && random > 0 && best > 0 && random >= this.#o.randomPayFraction * best)) {
      return undefined;
    }
    return {
      evidence: `uniformly random actions earn a mean reward of ${fig(random)}, ${fig((100 * random) / best)}% of r_max ${fig(best)}, and no sampled reward over the last ${n} records was negative (lowest ${fig(lowest)})`,
      metrics: { random_reward_mean: random, r_max: best, reward_min: lowest },
      probableCause: cause,
    };
  }

  #scaleTooLarge(): Finding | undefined {
    if (!this.#absMax.full) return undefined;
    const median = this.#absMax.median();
    if (!(median > this.#o.rewardScaleLimit)) return undefined;
    return {
      evidence: `the largest |reward| of a batch is ${fig(median)} after scaling by ${fig(this.#context.rewardScale)} (median over ${this.#absMax.length} records), above ${fig(this.#o.rewardScaleLimit)}`,
      metrics: { reward_abs_max: median, reward_scale: this.#context.rewardScale },
      probableCause:
        'the reward scale is ≫ 1: Q targets and critic gradients are large and the entropy term is negligible against Q',
    };
  }

  recovery(): Finding | undefined {
    const lowest = this.#min.min();
    const median = this.#absMax.median();
    return {
      evidence: `the reward no longer pays random actions (lowest sampled ${fig(lowest)}) and its largest |reward| is ${fig(median)}`,
      metrics: { reward_min: lowest, reward_abs_max: median },
    };
  }

  rearm(): void {
    this.#min.clear();
    this.#absMax.clear();
  }
}

/** NaN/Inf anywhere in the learner's figures, or critic loss / gradient norm up two decades. */
class CriticBlowup implements Detector {
  readonly pathology = 'critic_blowup';
  readonly #o: HealthOptions;
  readonly #baselines = new Map<JumpField, Window>();
  readonly #runs = new Map<JumpField, number>();
  #nonFinite: FiniteField[] = [];
  #latest: Partial<Record<JumpField, number>> = {};

  constructor(o: HealthOptions) {
    this.#o = o;
    for (const field of JUMP_FIELDS) {
      this.#baselines.set(field, new Window(o.blowupWindow));
      this.#runs.set(field, 0);
    }
  }

  check(m: LearnerMetrics): Finding | undefined {
    this.#nonFinite = FINITE_FIELDS.filter((f) => m[f] !== undefined && !Number.isFinite(m[f]));
    const jumps: Finding[] = [];
    for (const field of JUMP_FIELDS) {
      const value = m[field];
      this.#latest[field] = value;
      if (!Number.isFinite(value)) continue;
      const median = this.#median(field);
      if (median === undefined || value <= this.#o.blowupFactor * median) {
        this.#runs.set(field, 0);
        this.#baselines.get(field)!.push(value, m.step);
        continue;
      }
      const run = (this.#runs.get(field) ?? 0) + 1;
      this.#runs.set(field, run);
      if (run < this.#o.blowupRecords) continue;
      jumps.push({
        evidence: `${field.replace(/_/g, ' ')} ${fig(value)} is ${fig(value / median)}× its recent median ${fig(median)} for ${run} records`,
        metrics: { [field]: value, [`${field}_median`]: median },
      });
    }
    if (this.#nonFinite.length > 0) {
      const listed = this.#nonFinite.map((f) => `${f} = ${m[f]}`).join(', ');
      return { evidence: `non-finite values: ${listed}`, metrics: {} };
    }
    return merge(jumps);
  }

  /** Median of the field's recent non-jump values, floored; undefined until there are enough. */
  #median(field: JumpField): number | undefined {
    const window = this.#baselines.get(field)!;
    if (window.length < this.#o.blowupMinBaseline) return undefined;
    return Math.max(window.median(), this.#o.blowupFloor);
  }

  recovery(): Finding | undefined {
    if (this.#nonFinite.length > 0) return undefined;
    const metrics: Record<string, number> = {};
    for (const field of JUMP_FIELDS) {
      const value = this.#latest[field] ?? Number.NaN;
      const median = this.#median(field);
      if (median !== undefined && !(value <= this.#o.blowupRecoverFactor * median))
        return undefined;
      metrics[field] = value;
    }
    const figures = JUMP_FIELDS.map((f) => `${f.replace(/_/g, ' ')} ${fig(metrics[f]!)}`);
    return { evidence: `finite again, ${figures.join(', ')}`, metrics };
  }

  rearm(): void {
    for (const field of JUMP_FIELDS) this.#runs.set(field, 0);
  }
}

/** The learner's own figures: a NaN or Infinity in any of them means the update diverged. */
const FINITE_FIELDS = [
  'critic_loss',
  'actor_loss',
  'critic_grad_norm',
  'actor_grad_norm',
  'q_mean',
  'q_std',
  'q_max',
  'q_abs_mean',
  'td_target_mean',
  'entropy',
  'temperature',
  'bc_loss',
  'q_term_scale',
] as const;
type FiniteField = (typeof FINITE_FIELDS)[number];
const JUMP_FIELDS = ['critic_loss', 'critic_grad_norm'] as const;
type JumpField = (typeof JUMP_FIELDS)[number];

// ---------------------------------------------------------------------------------------------
// Shared pieces

/**
 * The range of Q a bounded critic can reach: [r_min + α·H⁻, r_max + α·H⁺]/(1−γ), the α·H terms
 * being the entropy bonus a soft backup adds per step (its extremes over the recent records).
 */
class QBound {
  readonly #context: HealthContext;
  readonly #o: HealthOptions;
  readonly #horizon: number;
  #rHigh = Number.NEGATIVE_INFINITY;
  #rLow = Number.POSITIVE_INFINITY;
  readonly #bonus: Window;

  constructor(context: HealthContext, o: HealthOptions) {
    this.#context = context;
    this.#o = o;
    this.#horizon = context.gamma < 1 ? 1 / (1 - context.gamma) : Number.POSITIVE_INFINITY;
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
    return (rMax + this.bonusHigh) * this.#horizon;
  }

  /** Lowest Q a bounded critic reaches; −Infinity while nothing is known. */
  get lower(): number {
    if (!Number.isFinite(this.#rLow)) return Number.NEGATIVE_INFINITY;
    const bonusLow = this.#bonus.length > 0 ? Math.min(0, this.#bonus.min()) : 0;
    return (this.#rLow + bonusLow) * this.#horizon;
  }

  /** Largest |Q| a bounded critic reaches: the unit of Q margins and spreads. */
  get scale(): number {
    const ends = [this.upper, this.lower].filter(Number.isFinite).map(Math.abs);
    return Math.max(this.#o.minQScale, ...ends);
  }
}

/** Exponential moving average that ignores non-finite samples. */
class Ema {
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
class Window {
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
function fitLine(ys: readonly number[]): {
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

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function entropyGap(context: HealthContext, o: HealthOptions): number {
  return Math.max(o.entropyGapMin, o.entropyGapPerDim * context.actionDim);
}

/** Findings of one record's sub-checks as one: evidence joined, metrics combined. */
function merge(findings: (Finding | undefined)[]): Finding | undefined {
  const found = findings.filter((f): f is Finding => f !== undefined);
  if (found.length === 0) return undefined;
  return {
    evidence: found.map((f) => f.evidence).join('; '),
    metrics: Object.assign({}, ...found.map((f) => f.metrics)) as Record<string, number>,
    probableCause: found.find((f) => f.probableCause)?.probableCause,
  };
}

/** A figure for evidence text: three significant digits, e.g. 412, 0.0213, 1.5e+6. */
function fig(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(3)));
}

/** A count of learner steps: 950, 5k, 1.2M. */
function steps(n: number): string {
  if (n >= 1e6) return `${fig(n / 1e6)}M`;
  if (n >= 1e3) return `${fig(n / 1e3)}k`;
  return String(n);
}
