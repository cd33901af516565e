import type { HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, Ema, fig, type Finding, QBound } from './shared.ts';

/** A BC-regularised actor whose critic's |Q| is far past the bound: λ = c/mean|Q| → 0. */
export class BcSwamped implements Detector {
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
