import { HealthMonitor, type HealthContext, type LearnerMetrics } from '../learner/health.ts';
import type { HealthAlert } from '../protocol/index.ts';
import type { Store } from '../store/index.ts';

/** The loop's figures stored beside the learner's: env steps so far, what random actions earned. */
export interface LoopFigures {
  envSteps: number;
  randomRewardMean?: number | undefined;
}

/**
 * Where the learner's metrics go on the control side: into the `metrics` table, through the
 * health monitor, and every raised or cleared alert into `events` and to the listener.
 */
export class LearnerMonitor {
  readonly health: HealthMonitor;
  readonly #store: Store;
  readonly #runId: number;
  readonly #onAlert: (alert: HealthAlert) => void;
  readonly #loop: () => LoopFigures;
  /** Latest figures, for progress lines. */
  latest: Record<string, number> = {};

  constructor(opts: {
    store: Store;
    runId: number;
    context: HealthContext;
    onAlert: (alert: HealthAlert) => void;
    /** Reads the loop's figures when a metrics record comes in. */
    loop: () => LoopFigures;
  }) {
    this.health = new HealthMonitor(opts.context);
    this.#store = opts.store;
    this.#runId = opts.runId;
    this.#onAlert = opts.onAlert;
    this.#loop = opts.loop;
  }

  /** Takes one metrics record from the learner (already decimated by the worker). */
  observe(raw: Record<string, number>): void {
    const step = raw.step ?? 0;
    const loop = this.#loop();
    const record = { ...raw, envSteps: loop.envSteps } as Record<string, number>;
    if (loop.randomRewardMean !== undefined) record.random_reward_mean = loop.randomRewardMean;
    this.latest = record;
    this.#store.addMetrics(
      this.#runId,
      Object.entries(record)
        .filter(([name]) => name !== 'step')
        .map(([name, value]) => ({ step, name, value })),
    );
    for (const alert of this.health.observe(record as unknown as LearnerMetrics)) {
      this.#store.addEvent({ runId: this.#runId, kind: `health.${alert.state}`, payload: alert });
      this.#onAlert(alert);
    }
  }
}
