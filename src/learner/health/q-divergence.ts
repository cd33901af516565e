import type { HealthOptions, LearnerMetrics } from './options.ts';
import {
  type Detector,
  Ema,
  fig,
  type Finding,
  fitLine,
  median,
  merge,
  QBound,
  steps,
  Window,
} from './shared.ts';

/** Divergent critic: mean Q past the bound, Q climbing while the reward is not, or critics splitting. */
export class QDivergence implements Detector {
  readonly pathology = 'q_divergence';
  readonly #o: HealthOptions;
  readonly #bound: QBound;
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

  constructor(o: HealthOptions, bound: QBound) {
    this.#o = o;
    this.#bound = bound;
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
    // Outside the bounds counts only while Q moves away from them, or stays: a critic starts near
    // 0 and climbs to large positive returns (below the lower bound on the way), or, when every
    // reward is negative, comes down to them from above the upper bound. Going past the bound is
    // the pathology, converging toward it is learning.
    const falling = q <= this.#lastQ;
    this.#lastQ = q;
    const above = q > upper + margin && !falling;
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
    const supported = Math.max(this.#reward.max(), this.#softReward.max()) * this.#bound.horizon;
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
