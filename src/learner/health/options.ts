import type { AdvantageMetrics, UpdateMetrics } from '../sac.ts';

type BcTerms = 'bc_loss' | 'bc_weight' | 'q_term_scale';

/**
 * One metrics record: a learner step's metrics plus what the training loop knows (env steps,
 * rates, probes). Any value may be NaN or ±Infinity (a diverged run); the optional ones are absent
 * when the loss in use has no such term.
 */
export type LearnerMetrics = Omit<UpdateMetrics, BcTerms> &
  Partial<Pick<UpdateMetrics, BcTerms>> &
  /** Only for advantage-weighted actor losses. */
  Partial<AdvantageMetrics> & {
    /** Environment steps so far. */
    envSteps: number;
    updates_per_s: number;
    /** Mean reward the task paid for uniformly random actions (a probe run at the start), if known. */
    random_reward_mean?: number;
  };

/** What the monitor knows about the run besides its metrics. */
export interface HealthContext {
  gamma: number;
  rewardScale: number;
  actionDim: number;
  /** Largest reward one step can pay, before scaling; when absent, the largest batch reward seen. */
  rMax?: number;
}

/** Every threshold of the detectors. Windows and counts are in metric records, not learner steps. */
export const DEFAULT_HEALTH_OPTIONS = {
  /** Records a signal must stay recovered before its alert clears: hysteresis against flapping. */
  clearAfterRecords: 10,
  /** EMA weight of the newest record: a ~10-record memory averages out batch-to-batch noise. */
  emaWeight: 0.2,

  /** How far past the bound mean Q may go, as a fraction of the bound's size: critic noise, bound lag. */
  qBoundMargin: 0.25,
  /** Consecutive records past the bound: a brief overshoot while learning fast is not divergence. */
  qBoundRecords: 20,
  /** Records over which a steady rise of Q is judged: long enough for a healthy critic to settle. */
  qRiseWindow: 100,
  /** R² of a line through Q over that window: only a steady climb counts, not noise. */
  qRiseSteadiness: 0.8,
  /** Rise over the window, relative to |Q| at its start, that counts (seed 001: 5 → 25). */
  qRiseFactor: 1,
  /** t-statistic of the reward's slope above which the reward is rising too and explains Q. */
  qRewardTrendT: 2,
  /** |Q| below this fraction of the bound counts as ≈ 0 when judging relative rises and spreads. */
  qFloorFraction: 0.1,
  /** Floor of the bound's size, for rewards that are all ≈ 0 so far (sparse task, no success yet). */
  minQScale: 1,
  /** Growth of the ensemble spread (std/|Q|) over its recent minimum that counts (seed 000: 8×). */
  qSpreadRiseFactor: 5,
  /** Records over which the spread's minimum is taken. */
  qSpreadWindow: 50,
  /** Smallest spread (std/|Q|) that counts: a 5× rise of a negligible spread is still negligible. */
  qSpreadMin: 0.1,

  /** Shortfall below the target entropy, nats per action dimension, that is far (seed 000: 44/56). */
  entropyGapPerDim: 0.5,
  /** Floor of that shortfall in nats, for one- or two-dimensional actions. */
  entropyGapMin: 1,
  /** Records α must have kept rising for, with entropy far below target all along. */
  temperatureWindow: 30,
  /** Growth of α over that window that is a runaway, not regulation (seed 000: 1 → 15). */
  temperatureRiseFactor: 3,
  /** Fraction of record-to-record changes of α that must be rises: a climb, not an excursion. */
  temperatureRisingFraction: 0.7,
  /** α has stopped rising once it grew less than this fraction over clearAfterRecords records. */
  temperatureSteadyFraction: 0.1,
  /** Records within which a fast fall of entropy is looked for. */
  entropyFallWindow: 30,
  /** Fall within that window, nats per action dimension, that is fast (seed 000: +10 → −40 on 56). */
  entropyFallPerDim: 1,
  /** Consecutive records entropy must stay far below target: a dip is not a collapse. */
  entropyLowRecords: 10,

  /** Multiple of the Q bound mean|Q| must pass for λ = c/mean|Q| to count as → 0. */
  bcBoundFactor: 2,
  /** Consecutive records past it. */
  bcRecords: 10,

  /** max/mean of the advantage weights below which they are ≈ uniform: the loss is plain BC. */
  advUniformRatio: 1.1,
  /** max/mean above which a few samples dominate (seed 000: max 50–230 at mean 1.5). */
  advOutlierRatio: 20,
  /** Consecutive records either must hold. */
  advRecords: 20,

  /** Largest |reward| after scaling that SAC's defaults (α, lr, init) tolerate well. */
  rewardScaleLimit: 10,
  /** Mean reward of random actions, as a fraction of r_max, that means the reward pays for anything. */
  randomPayFraction: 0.1,
  /** Records the reward checks look back over. */
  rewardRecords: 20,

  /** Jump of critic loss or gradient norm over its recent median that is a blow-up (two decades). */
  blowupFactor: 100,
  /** Records in that median. */
  blowupWindow: 50,
  /** Records the median needs before jumps are judged. */
  blowupMinBaseline: 10,
  /** Consecutive records the jump must last: one bad batch is not a blow-up. */
  blowupRecords: 3,
  /** Floor of the median: a jump from converged noise (e.g. 1e-6 → 1e-4) is still small. */
  blowupFloor: 1e-3,
  /** A blow-up has recovered once the values are back under this multiple of the median. */
  blowupRecoverFactor: 10,
};
export type HealthOptions = typeof DEFAULT_HEALTH_OPTIONS;
