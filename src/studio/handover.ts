import { healthAlert } from '../learner/health.ts';
import type { LearnerHandle } from '../learner/link.ts';
import type { PolicyWeights } from '../learner/messages.ts';
import type { HealthAlert } from '../protocol/index.ts';
import type { Store } from '../store/index.ts';
import type { WriteQueue } from './writes.ts';

/** The event that names the checkpoint taken at a BC-warmup → autonomous hand-over. */
export const HANDOVER_CHECKPOINT_EVENT = 'handover.checkpoint';
/** The event a rollback to it leaves. */
export const HANDOVER_ROLLBACK_EVENT = 'handover.rollback';

export interface HandoverWatchOptions {
  /** Episodes the policy drove alone before the first judgement (and the reference's size). */
  minEpisodes: number;
  /** The most recent episodes alone a judgement reads (all since the hand-over, up to this). */
  window: number;
  /** How far below the reference success they must fall, in points of %. */
  dropPoints: number;
  /** Their success must be this unlikely under the reference's rate (one-sided binomial). */
  significance: number;
}

export const DEFAULT_HANDOVER_OPTIONS: HandoverWatchOptions = {
  minEpisodes: 10,
  window: 30,
  dropPoints: 10,
  significance: 0.05,
};

/** The learner's figures the alert quotes at the hand-over and now (UpdateMetrics' names). */
const QUOTED = ['q_policy_action', 'q_demo_action', 'entropy', 'bc_weight', 'q_term_scale'];

/** P(X ≤ k) for X ~ Binomial(n, p). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k >= n || p <= 0) return 1;
  if (p >= 1) return 0;
  let term = (1 - p) ** n; // P(X = 0)
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += term;
    term *= ((n - i) / (i + 1)) * (p / (1 - p));
  }
  return Math.min(1, sum);
}

/** Success over some episodes: a reference, or what is judged against it. */
interface Sample {
  success: number;
  episodes: number;
  source: string;
}

type Track = 'evaluation' | 'episodes';

/**
 * Watches the policy after a BC-warmup → autonomous hand-over for the regression of issue 16:
 * its success falling well below what the warm-up policy achieved. Two tracks, each judged
 * against a reference of its own kind (an evaluation runs the mean action, the episodes the
 * policy drives sample theirs: their successes differ, often widely):
 * - evaluations (`evaluated`): the last one before the hand-over (else the first after it) is
 *   the reference, each later one a judgement;
 * - the episodes the policy drove alone (no intervention step): its first `minEpisodes` after
 *   the hand-over are the reference; from `minEpisodes` more on, each one ends in a judgement
 *   over the last `window` of them.
 * A judgement raises the alert (pathology `handover_regression`) when the success is more than
 * `dropPoints` below its reference and that unlikely (`significance`, one-sided binomial) were
 * the policy as good as it was. The alert quotes the successes and the learner's Q on its own vs
 * the demos' actions, entropy, β and λ then and now; it clears once the track that raised it is
 * back within `dropPoints`, or at a rollback.
 */
export class HandoverWatch {
  readonly options: HandoverWatchOptions;
  /** The learner's latest figures (the monitor's), quoted when an alert is raised. */
  readonly #latest: () => Record<string, number>;
  #since: { step: number; metrics: Record<string, number> } | undefined;
  #references: Partial<Record<Track, Sample>> = {};
  #outcomes: boolean[] = [];
  #active: { alert: HealthAlert; track: Track } | undefined;

  constructor(latest: () => Record<string, number>, options: Partial<HandoverWatchOptions> = {}) {
    this.#latest = latest;
    this.options = { ...DEFAULT_HANDOVER_OPTIONS, ...options };
  }

  /** The alert raised and not cleared, if any. */
  get active(): HealthAlert | undefined {
    return this.#active?.alert;
  }

  /** The hand-over happened at learner step `step`. */
  begin(step: number): void {
    this.#since = { step, metrics: { ...this.#latest() } };
    this.#outcomes = [];
    // An evaluation of the warm-up policy, taken before, stays the evaluations' reference.
    this.#references = {
      ...(this.#references.evaluation ? { evaluation: this.#references.evaluation } : {}),
    };
  }

  /** An evaluation of the policy alone: `successRate` over `episodes`, at learner step `step`. */
  evaluated(successRate: number, episodes: number, step: number): HealthAlert | undefined {
    const sample = {
      success: successRate,
      episodes,
      source: `an evaluation on ${episodes} episodes`,
    };
    if (!this.#since || !this.#references.evaluation) {
      this.#references.evaluation = sample;
      return undefined;
    }
    return this.#judge('evaluation', sample, step);
  }

  /** An episode ended after the hand-over; only those the policy drove alone count. */
  episode(
    e: { kind: string; outcome: string; intervenedSteps: number },
    step: number,
  ): HealthAlert | undefined {
    if (!this.#since || e.kind !== 'train' || e.intervenedSteps > 0) return undefined;
    if (e.outcome === 'discarded') return undefined;
    const { minEpisodes, window } = this.options;
    this.#outcomes.push(e.outcome === 'success');
    if (!this.#references.episodes) {
      if (this.#outcomes.length < minEpisodes) return undefined;
      this.#references.episodes = {
        success: rate(this.#outcomes),
        episodes: minEpisodes,
        source: `its first ${minEpisodes} episodes alone after the hand-over`,
      };
      this.#outcomes = [];
      return undefined;
    }
    if (this.#outcomes.length < minEpisodes) return undefined;
    const last = this.#outcomes.slice(-window);
    const sample = {
      success: rate(last),
      episodes: last.length,
      source: `its last ${last.length} episodes alone`,
    };
    return this.#judge('episodes', sample, step);
  }

  /** A rollback to the hand-over checkpoint: the alert clears, the watch starts again. */
  rolledBack(step: number): HealthAlert | undefined {
    const active = this.#active;
    this.begin(step);
    if (!active) return undefined;
    this.#active = undefined;
    return healthAlert('handover_regression', 'cleared', step, {
      evidence: 'rolled back to the policy from before the hand-over',
      metrics: {},
    });
  }

  #judge(track: Track, now: Sample, step: number): HealthAlert | undefined {
    const ref = this.#references[track]!;
    const { dropPoints, significance } = this.options;
    const below = 100 * (ref.success - now.success);
    const pValue = binomialCdf(Math.round(now.success * now.episodes), now.episodes, ref.success);
    const regressed = below > dropPoints && pValue < significance;
    const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
    if (regressed && !this.#active) {
      const alert = healthAlert('handover_regression', 'raised', step, {
        evidence: `since the hand-over to autonomous at learner step ${this.#since!.step}, ${now.source} succeeded ${pct(now.success)} against ${pct(ref.success)} before (${ref.source}; p = ${pValue.toPrecision(2)} were it no worse)${this.#learnerThenNow()}`,
        metrics: {
          success: now.success,
          reference_success: ref.success,
          p_value: pValue,
          handover_step: this.#since!.step,
        },
      });
      this.#active = { alert, track };
      return alert;
    }
    if (this.#active?.track === track && below <= dropPoints) {
      this.#active = undefined;
      return healthAlert('handover_regression', 'cleared', step, {
        evidence: `${now.source} succeeded ${pct(now.success)}, within ${dropPoints} points of ${pct(ref.success)} before`,
        metrics: { success: now.success, reference_success: ref.success },
      });
    }
    return undefined;
  }

  /** "; at the hand-over Q of its own actions … ; now …" (what is known of both). */
  #learnerThenNow(): string {
    const then = this.#since!.metrics;
    const now = this.#latest();
    const fig = (m: Record<string, number>, k: string) =>
      m[k] === undefined ? '?' : m[k]!.toPrecision(3);
    if (!QUOTED.some((k) => then[k] !== undefined || now[k] !== undefined)) return '';
    const at = (m: Record<string, number>) =>
      `Q of its own actions ${fig(m, 'q_policy_action')} vs the demos' ${fig(m, 'q_demo_action')}, entropy ${fig(m, 'entropy')}, β ${fig(m, 'bc_weight')}, λ ${fig(m, 'q_term_scale')}`;
    return `; at the hand-over ${at(then)}; now ${at(now)}`;
  }
}

function rate(outcomes: readonly boolean[]): number {
  return outcomes.filter(Boolean).length / Math.max(1, outcomes.length);
}

export interface HandoverPointParts {
  store: Store;
  runId: number;
  link: LearnerHandle;
  writes: WriteQueue;
  /** Called when the checkpoint could not be taken (a remote learner). */
  failed: (message: string) => void;
  /** Writes the queue now when nothing else will (not live). */
  settle: () => void;
}

/**
 * The learner's state at the last hand-over, stored to roll back to: a checkpoint row and a
 * `handover.checkpoint` event naming it, written in the write queue's slack (it is MBs); a new
 * hand-over's replaces the previous one's row.
 */
export class HandoverPoint {
  readonly #p: HandoverPointParts;
  #pending: Promise<number> | undefined;

  constructor(parts: HandoverPointParts) {
    this.#p = parts;
  }

  /** Asks the learner for its state now: before anything else reaches it (it answers in order). */
  keep(): void {
    const { store, runId, link, writes } = this.#p;
    const previous = this.#pending?.catch(() => undefined);
    this.#pending = link.snapshot().then(
      (c) =>
        new Promise<number>((resolve, reject) => {
          writes.later(() => {
            try {
              resolve(
                store.db.transaction(() => {
                  const checkpointId = store.saveCheckpoint(runId, c.steps, c.meta, c.payload);
                  store.addEvent({
                    runId,
                    kind: HANDOVER_CHECKPOINT_EVENT,
                    payload: { checkpointId, learnerSteps: c.steps },
                  });
                  return checkpointId;
                })(),
              );
            } catch (err) {
              reject(err as Error);
            }
          });
          this.#p.settle();
        }),
    );
    // The superseded rollback point goes once the new one is stored.
    void Promise.all([previous, this.#pending]).then(
      ([old]) => old !== undefined && store.deleteCheckpoint(old),
      () => undefined,
    );
    this.#pending.catch((err: unknown) =>
      this.#p.failed(
        `no rollback point kept at the hand-over: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
  }

  /** Restores the learner to the kept state (buffers kept): the checkpoint and its weights. */
  async restore(): Promise<{ checkpointId: number; learnerSteps: number; weights: PolicyWeights }> {
    const { store, runId, link } = this.#p;
    if (!this.#pending) {
      throw new Error(
        'no rollback point: this session has not handed over from BC-warmup to autonomous',
      );
    }
    const id = await this.#pending.catch(() => undefined);
    const checkpoint = id === undefined ? undefined : store.getCheckpoint(id);
    if (!checkpoint || checkpoint.runId !== runId) {
      throw new Error(
        'no rollback point: the checkpoint at the hand-over could not be taken (see the alarms)',
      );
    }
    const weights = await link.restore(checkpoint.payload);
    return { checkpointId: checkpoint.id, learnerSteps: checkpoint.step, weights };
  }
}
