import type { HealthContext, HealthOptions, LearnerMetrics } from './options.ts';
import { type Detector, fig, type Finding, merge, QBound, Window } from './shared.ts';

/** A reward that pays random actions (seed 002's 1/(1+‖a−t‖)) or whose scale is ≫ 1. */
export class RewardDesignTrap implements Detector {
  readonly pathology = 'reward_design_trap';
  readonly #context: HealthContext;
  readonly #o: HealthOptions;
  readonly #bound: QBound;
  readonly #min: Window;
  readonly #absMax: Window;
  #random: number | undefined;

  constructor(context: HealthContext, o: HealthOptions, bound: QBound) {
    this.#context = context;
    this.#o = o;
    this.#bound = bound;
    this.#min = new Window(o.rewardRecords);
    this.#absMax = new Window(o.rewardRecords);
  }

  check(m: LearnerMetrics): Finding | undefined {
    if (m.random_reward_mean !== undefined && Number.isFinite(m.random_reward_mean)) {
      this.#random = m.random_reward_mean;
    }
    this.#min.push(m.reward_min, m.step);
    this.#absMax.push(Math.max(Math.abs(m.reward_min), Math.abs(m.reward_max)), m.step);
    return merge([this.#paysForAnything(), this.#scaleTooLarge()]);
  }

  #paysForAnything(): Finding | undefined {
    if (!this.#min.full) return undefined;
    const lowest = this.#min.min();
    const n = this.#min.length;
    const cause =
      'the reward pays for doing anything (seed 002: 1/(1+‖a−t‖)), so reaching the target is worth little more than acting at random';
    const random = this.#random;
    if (random === undefined) {
      if (!(lowest > 0)) return undefined;
      return {
        evidence: `every sampled reward over the last ${n} records was positive (lowest ${fig(lowest)}): the reward pays for any action`,
        metrics: { reward_min: lowest },
        probableCause: cause,
      };
    }
    const { rewardScale, rMax } = this.#context;
    const best = rMax ?? this.#bound.rMax / rewardScale;
    if (!(lowest >= 0 && random > 0 && best > 0 && random >= this.#o.randomPayFraction * best)) {
      return undefined;
    }
    return {
      evidence: `uniformly random actions earn a mean reward of ${fig(random)}, ${fig((100 * random) / best)}% of r_max ${fig(best)}, and no sampled reward over the last ${n} records was negative (lowest ${fig(lowest)})`,
      metrics: { random_reward_mean: random, r_max: best, reward_min: lowest },
      probableCause: cause,
    };
  }

  #scaleTooLarge(): Finding | undefined {
    if (!this.#absMax.full) return undefined;
    const median = this.#absMax.median();
    if (!(median > this.#o.rewardScaleLimit)) return undefined;
    return {
      evidence: `the largest |reward| of a batch is ${fig(median)} after scaling by ${fig(this.#context.rewardScale)} (median over ${this.#absMax.length} records), above ${fig(this.#o.rewardScaleLimit)}`,
      metrics: { reward_abs_max: median, reward_scale: this.#context.rewardScale },
      probableCause:
        'the reward scale is ≫ 1: Q targets and critic gradients are large and the entropy term is negligible against Q',
    };
  }

  recovery(): Finding | undefined {
    const lowest = this.#min.min();
    const median = this.#absMax.median();
    return {
      evidence: `the reward no longer pays random actions (lowest sampled ${fig(lowest)}) and its largest |reward| is ${fig(median)}`,
      metrics: { reward_min: lowest, reward_abs_max: median },
    };
  }

  rearm(): void {
    this.#min.clear();
    this.#absMax.clear();
  }
}
