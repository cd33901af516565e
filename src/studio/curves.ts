/**
 * The learning curves a user reads (issue 16): how the policy does on its own, not the learner's
 * internals. Fed with every training episode's end and every evaluation; gives the figures as
 * metric rows (stored beside the learner's, so the dashboard plots them) and as a progress line.
 * - `alone_success`, `alone_return`: success (%) and return of the last `window` episodes the
 *   policy drove alone (no step by the operator or the scripted expert);
 * - `intervention_rate`: the share (%) of the last `window` training episodes' steps that the
 *   operator drove;
 * - `eval_success`: the latest evaluation's success (%), when evaluations run;
 * - `update_to_data`: learner steps per online transition so far (the effective ratio).
 */
export const CURVE_WINDOW = 10;

export interface EpisodeEnd {
  /** 'train' episodes count; demos (BC-warmup) and evaluations do not. */
  kind: string;
  outcome: string;
  steps: number;
  return: number;
  intervenedSteps: number;
}

export class LearningCurves {
  readonly window: number;
  readonly #alone: { success: boolean; return: number }[] = [];
  readonly #train: { steps: number; intervened: number }[] = [];
  #eval: number | undefined;

  constructor(window = CURVE_WINDOW) {
    this.window = window;
  }

  /** A training episode ended: the rows it changes (none for demos, evaluations, discards). */
  episode(e: EpisodeEnd, updateToData: number): Record<string, number> {
    if (e.kind !== 'train' || e.outcome === 'discarded' || e.steps === 0) return {};
    push(this.#train, { steps: e.steps, intervened: e.intervenedSteps }, this.window);
    if (e.intervenedSteps === 0) {
      push(this.#alone, { success: e.outcome === 'success', return: e.return }, this.window);
    }
    const figures = this.figures(updateToData);
    delete figures.eval_success; // an evaluation's row comes with it, once
    return figures;
  }

  /** An evaluation of the policy alone: its row (and the ratio's). */
  evaluated(successRate: number, updateToData: number): Record<string, number> {
    this.#eval = 100 * successRate;
    return { eval_success: this.#eval, update_to_data: updateToData };
  }

  /** The current figures (those known so far). */
  figures(updateToData: number): Record<string, number> {
    const out: Record<string, number> = { update_to_data: updateToData };
    if (this.#alone.length > 0) {
      out.alone_success = (100 * this.#alone.filter((a) => a.success).length) / this.#alone.length;
      out.alone_return = this.#alone.reduce((s, a) => s + a.return, 0) / this.#alone.length;
    }
    const steps = this.#train.reduce((s, t) => s + t.steps, 0);
    if (steps > 0) {
      out.intervention_rate = (100 * this.#train.reduce((s, t) => s + t.intervened, 0)) / steps;
    }
    if (this.#eval !== undefined) out.eval_success = this.#eval;
    return out;
  }

  /** "alone 40 % success, return 0.40 (last 10) · interventions 12 % · 1.0 updates/transition". */
  summary(updateToData: number): string {
    const f = this.figures(updateToData);
    const parts: string[] = [];
    if (f.alone_success !== undefined) {
      parts.push(
        `alone ${f.alone_success.toFixed(0)} % success, return ${f.alone_return!.toFixed(2)} (last ${this.#alone.length})`,
      );
    }
    if (f.intervention_rate !== undefined && f.intervention_rate > 0) {
      parts.push(`interventions ${f.intervention_rate.toFixed(0)} %`);
    }
    parts.push(`${updateToData.toFixed(1)} updates/transition`);
    return parts.join(' · ');
  }
}

function push<T>(xs: T[], x: T, window: number): void {
  xs.push(x);
  if (xs.length > window) xs.shift();
}
