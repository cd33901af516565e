import type { HealthContext, HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, EntropyShortfall, fig, type Finding, steps, Window } from './shared.ts';

/** Entropy fell fast and stays far below target: the actor sits on a narrow peak of Q. */
export class EntropyCollapse implements Detector {
  readonly pathology = 'entropy_collapse';
  readonly #o: HealthOptions;
  readonly #fall: number;
  readonly #shortfall: EntropyShortfall;
  readonly #window: Window;

  constructor(context: HealthContext, o: HealthOptions) {
    this.#o = o;
    this.#fall = Math.max(o.entropyGapMin, o.entropyFallPerDim * context.actionDim);
    this.#shortfall = new EntropyShortfall(context, o);
    this.#window = new Window(o.entropyFallWindow);
  }

  check(m: LearnerMetrics): Finding | undefined {
    const entropy = this.#shortfall.push(m);
    if (entropy === undefined) return undefined;
    const { target, lowRun } = this.#shortfall;
    this.#window.push(entropy, m.step);
    if (lowRun < this.#o.entropyLowRecords) return undefined;
    const i = this.#window.argmax();
    const from = this.#window.values[i]!;
    if (from - entropy < this.#fall) return undefined;
    return {
      evidence: `entropy fell from ${fig(from)} to ${fig(entropy)} in ${steps(m.step - this.#window.steps[i]!)} steps and has stayed far below the target ${fig(target)} (by ${fig(target - entropy)} nats) for ${lowRun} records`,
      metrics: { entropy_before: from, entropy, target_entropy: target },
    };
  }

  recovery(): Finding | undefined {
    const evidence = this.#shortfall.recovered();
    if (evidence === undefined) return undefined;
    const { entropy, target } = this.#shortfall;
    return { evidence, metrics: { entropy, target_entropy: target } };
  }

  rearm(): void {
    this.#window.clear();
    this.#shortfall.lowRun = 0;
  }
}
