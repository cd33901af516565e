import type { HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, fig, type Finding, merge, Window } from './shared.ts';

/** NaN/Inf anywhere in the learner's figures, or critic loss / gradient norm up two decades. */
export class CriticBlowup implements Detector {
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
