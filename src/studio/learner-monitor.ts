import { HealthMonitor, type HealthContext, type LearnerMetrics } from '../learner/health.ts';
import type { HealthAlert } from '../protocol/index.ts';
import type { Store } from '../store/index.ts';

/**
 * Where the learner's metrics go on the control side: into the `metrics` table, through the
 * health monitor, and every raised or cleared alert into `events` and to the listener.
 */
export class LearnerMonitor {
  readonly health: HealthMonitor;
  readonly #store: Store;
  readonly #runId: number;
  readonly #onAlert: (alert: HealthAlert) => void;
  /** Latest figures, for progress lines. */
  latest: Record<string, number> = {};
  envSteps = 0;
  randomRewardMean: number | undefined;

  constructor(
    store: Store,
    runId: number,
    context: HealthContext,
    onAlert: (alert: HealthAlert) => void,
  ) {
    this.health = new HealthMonitor(context);
    this.#store = store;
    this.#runId = runId;
    this.#onAlert = onAlert;
  }

  /** Takes one metrics record from the learner (already decimated by the worker). */
  observe(raw: Record<string, number>): void {
    const step = raw.step ?? 0;
    const record = { ...raw, envSteps: this.envSteps } as Record<string, number>;
    if (this.randomRewardMean !== undefined) record.random_reward_mean = this.randomRewardMean;
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
