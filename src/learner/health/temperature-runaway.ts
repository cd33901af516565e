import type { HealthContext, HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, Ema, entropyGap, fig, type Finding, steps, Window } from './shared.ts';

/** α keeps climbing while entropy stays far below target: the regulator cannot reach the policy. */
export class TemperatureRunaway implements Detector {
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
