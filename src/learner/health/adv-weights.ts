import type { HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, Ema, fig, type Finding } from './shared.ts';

/** Advantage weights that are all ≈ equal (plain BC) or dominated by a few outliers. */
export class AdvWeightsDegenerate implements Detector {
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
