import type { HealthContext, HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, EntropyShortfall, fig, type Finding, steps, Window } from './shared.ts';

/** α keeps climbing while entropy stays far below target: the regulator cannot reach the policy. */
export class TemperatureRunaway implements Detector {
  readonly pathology = 'temperature_runaway';
  readonly #o: HealthOptions;
  readonly #alpha: Window;
  readonly #shortfall: EntropyShortfall;

  constructor(context: HealthContext, o: HealthOptions) {
    this.#o = o;
    this.#alpha = new Window(o.temperatureWindow + 1);
    this.#shortfall = new EntropyShortfall(context, o);
  }

  check(m: LearnerMetrics): Finding | undefined {
    if (m.temperature > 0) this.#alpha.push(m.temperature, m.step);
    const entropy = this.#shortfall.push(m);
    if (entropy === undefined) return undefined;
    const { target } = this.#shortfall;
    if (this.#shortfall.lowRun < this.#o.temperatureWindow || !this.#alpha.full) return undefined;
    const a = this.#alpha.values;
    const factor = this.#alpha.last / this.#alpha.first;
    const rises = a.filter((v, i) => i > 0 && v > a[i - 1]!).length / (a.length - 1);
    if (factor < this.#o.temperatureRiseFactor || rises < this.#o.temperatureRisingFraction) {
      return undefined;
    }
    return {
      evidence: `temperature α rose from ${fig(this.#alpha.first)} to ${fig(this.#alpha.last)} (${fig(factor)}×) over ${a.length - 1} records (${steps(this.#alpha.span())} steps) while entropy stayed at ${fig(entropy)}, ${fig(target - entropy)} nats below the target ${fig(target)}`,
      metrics: {
        temperature_start: this.#alpha.first,
        temperature: this.#alpha.last,
        entropy,
        target_entropy: target,
      },
    };
  }

  recovery(): Finding | undefined {
    const { entropy, target } = this.#shortfall;
    const metrics = { temperature: this.#alpha.last, entropy, target_entropy: target };
    const evidence = this.#shortfall.recovered();
    if (evidence !== undefined) return { evidence, metrics };
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
    this.#shortfall.lowRun = 0;
  }
}
