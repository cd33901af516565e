import type { HealthContext, HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, Ema, entropyGap, fig, type Finding, steps, Window } from './shared.ts';

/** Entropy fell fast and stays far below target: the actor sits on a narrow peak of Q. */
export class EntropyCollapse implements Detector {
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
