import type { HealthAlert, HealthPathology } from '../protocol/index.ts';
import { AdvWeightsDegenerate } from './health/adv-weights.ts';
import { BcSwamped } from './health/bc-swamped.ts';
import { CriticBlowup } from './health/critic-blowup.ts';
import { EntropyCollapse } from './health/entropy-collapse.ts';
import {
  DEFAULT_HEALTH_OPTIONS,
  type HealthContext,
  type HealthOptions,
  type LearnerMetrics,
} from './health/options.ts';
import { QDivergence } from './health/q-divergence.ts';
import { RewardDesignTrap } from './health/reward-design-trap.ts';
import { type Detector, type Finding, QBound } from './health/shared.ts';
import { TemperatureRunaway } from './health/temperature-runaway.ts';

export {
  DEFAULT_HEALTH_OPTIONS,
  type HealthContext,
  type HealthOptions,
  type LearnerMetrics,
} from './health/options.ts';

/** The table's probable cause and fixes for each pathology (docs/LEARNER.md, "Health"). */
const GUIDE: Record<HealthPathology, { probableCause: string; whatToTry: string[] }> = {
  q_divergence: {
    probableCause:
      'the actor exploits out-of-distribution actions the critic overestimates: too strong a Q term or too high an update-to-data ratio',
    whatToTry: [
      'more critics, with the target a min over a random subset',
      'LayerNorm in the critic',
      'lower the update-to-data ratio',
      'add a BC term on the demos',
      'normalise the Q term of the actor loss (−Q / mean|Q|)',
    ],
  },
  temperature_runaway: {
    probableCause:
      'α cannot reach the actor loss (AWR/IQL-style losses), or the target entropy is unreachable (e.g. a high-dimensional action chunk)',
    whatToTry: [
      'fix the target entropy',
      'clamp α',
      'use the reparameterised actor loss α·log π − Q',
    ],
  },
  entropy_collapse: {
    probableCause: 'the actor is exploiting a narrow peak of Q',
    whatToTry: ['lower the actor learning rate', 'more α', 'add a BC term'],
  },
  bc_swamped: {
    probableCause:
      'the Q scale exploded, so λ = c/mean|Q| → 0 and the Q and BC terms no longer balance',
    whatToTry: ['normalise the Q loss', 'clamp Q'],
  },
  adv_weights_degenerate: {
    probableCause: 'the advantages are too small or too noisy',
    whatToTry: ['tune the temperature of the weights', 'clip the weights'],
  },
  reward_design_trap: {
    probableCause: 'a shaped reward that pays for doing anything (seed 002), or a reward scale ≫ 1',
    whatToTry: [
      'a penalty-form reward (e.g. −MSE to the target)',
      'a sparse success reward',
      'check the reward scale (|r| ≲ 1 after scaling)',
    ],
  },
  critic_blowup: {
    probableCause: 'too high a learning rate, too large a reward scale, or no gradient clipping',
    whatToTry: [
      'clip the gradient norm',
      'lower the learning rate',
      'roll back to the last good checkpoint',
    ],
  },
  handover_regression: {
    probableCause:
      'the critic has seen only the demos’ actions when the actor starts to follow it: its gradient on the policy’s own states swamps the BC term, and the policy drifts from what it had cloned',
    whatToTry: [
      'roll back to the policy from before the hand-over (Roll back on this alert, or the rollback call): its checkpoint is kept, the data recorded since stays',
      'raise handoverBcWeight (β of sac+bc after BC-warmup; 10 by default) and hand over again',
      'stay in BC-warmup longer: more demonstrations',
      'intervene when it strays: the corrections are learned from',
    ],
  },
};

/** The learner's health: feed it every metrics record, show its events and its summary. */
export class HealthMonitor {
  readonly options: HealthOptions;
  readonly #bound: QBound;
  readonly #detectors: Detector[];
  readonly #active = new Map<HealthPathology, HealthAlert>();
  readonly #recovered = new Map<HealthPathology, number>();

  constructor(
    readonly context: HealthContext,
    options: Partial<HealthOptions> = {},
  ) {
    this.options = { ...DEFAULT_HEALTH_OPTIONS, ...options };
    const o = this.options;
    this.#bound = new QBound(context, o);
    this.#detectors = [
      new CriticBlowup(o),
      new QDivergence(o, this.#bound),
      new BcSwamped(o, this.#bound),
      new TemperatureRunaway(context, o),
      new EntropyCollapse(context, o),
      new AdvWeightsDegenerate(o),
      new RewardDesignTrap(context, o, this.#bound),
    ];
  }

  /** Reads one record; returns the alerts it raised or cleared. */
  observe(m: LearnerMetrics): HealthAlert[] {
    this.#bound.observe(m);
    const events: HealthAlert[] = [];
    for (const detector of this.#detectors) {
      const { pathology } = detector;
      const finding = detector.check(m);
      if (!this.#active.has(pathology)) {
        if (!finding) continue;
        const alert = healthAlert(pathology, 'raised', m.step, finding);
        this.#active.set(pathology, alert);
        this.#recovered.set(pathology, 0);
        events.push(alert);
        continue;
      }
      const recovery = finding ? undefined : detector.recovery();
      const count = recovery ? (this.#recovered.get(pathology) ?? 0) + 1 : 0;
      this.#recovered.set(pathology, count);
      if (!recovery || count < this.options.clearAfterRecords) continue;
      const evidence = `${recovery.evidence} for ${count} records`;
      events.push(healthAlert(pathology, 'cleared', m.step, { ...recovery, evidence }));
      this.#active.delete(pathology);
      detector.rearm();
    }
    return events;
  }

  /** The alerts raised and not yet cleared, in detector order. */
  active(): HealthAlert[] {
    return this.#detectors.flatMap((d) => this.#active.get(d.pathology) ?? []);
  }

  /** One line for the progress display: "healthy" or "2 alerts: q_divergence, entropy_collapse". */
  summary(): string {
    const names = this.active().map((a) => a.pathology);
    if (names.length === 0) return 'healthy';
    return `${names.length} alert${names.length === 1 ? '' : 's'}: ${names.join(', ')}`;
  }
}

/** An alert of `pathology` from a finding, with the table's cause and fixes (also the studio's). */
export function healthAlert(
  pathology: HealthPathology,
  state: HealthAlert['state'],
  step: number,
  finding: Finding,
): HealthAlert {
  const guide = GUIDE[pathology];
  const metrics = Object.fromEntries(
    Object.entries(finding.metrics).filter(([, v]) => Number.isFinite(v)),
  );
  return {
    pathology,
    state,
    step,
    evidence: finding.evidence,
    probableCause: finding.probableCause ?? guide.probableCause,
    whatToTry: [...guide.whatToTry],
    metrics,
  };
}
