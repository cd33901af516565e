import { z } from 'zod';
import type { SafetySpec } from '../protocol/index.ts';

/**
 * Every knob of the RLPD learner with its default and where the default comes from (docs/LEARNER.md's
 * table). The defaults are HIL-SERL's small-ensemble setting unless a line says otherwise; the
 * whole config is printed at the start of a run and stored with it.
 */
/** The actor's loss (see LearnerConfig.actorLoss). */
export const ActorLoss = z.enum(['sac', 'sac+bc', 'bc', 'awr']);
export type ActorLoss = z.infer<typeof ActorLoss>;

/** Where the critics train (see LearnerConfig.critics). */
export const CriticsBackend = z.enum(['auto', 'native', 'tfjs']);
export type CriticsBackend = z.infer<typeof CriticsBackend>;

/** How the gripper is learned (see LearnerConfig.gripper). */
export const GripperMode = z.enum(['continuous', 'discrete']);
export type GripperMode = z.infer<typeof GripperMode>;

/** Where the actor and the temperature train (see LearnerConfig.actor). */
export const ActorBackend = z.enum(['auto', 'native', 'tfjs']);
export type ActorBackend = z.infer<typeof ActorBackend>;

export const LearnerConfig = z
  .object({
    hidden: z.array(z.number().int().positive()).min(1).default([256, 256]), // all anchors
    ensembleSize: z.number().int().min(1).max(20).default(2), // HIL-SERL 2, RLPD 10
    // LayerNorm in the critics' hidden layers (RLPD: it keeps Q from diverging); off only to show
    // what it prevents (the health tests).
    criticLayerNorm: z.boolean().default(true),
    minSubset: z.number().int().min(1).default(2), // target min over this many random critics (RLPD 2)
    utd: z.number().int().min(1).default(1), // critic updates per learner step (RLPD runs 20)
    batchSize: z.number().int().min(2).default(256), // all anchors
    gamma: z.number().min(0).max(1).default(0.99), // RLPD, LeRobot; HIL-SERL 0.97
    tau: z.number().min(0).max(1).default(0.005), // all anchors
    initTemperature: z.number().positive().default(1), // RLPD; HIL-SERL 0.01
    targetEntropy: z.number().optional(), // −|A|/2 when left out
    backupEntropy: z.boolean().default(true), // RLPD on; off for sparse tasks
    gradClip: z
      .union([z.number().positive(), z.literal(Number.POSITIVE_INFINITY)])
      .default(Number.POSITIVE_INFINITY), // none in RLPD; LeRobot 40
    onlineRatio: z.number().min(0).max(1).default(0.5), // symmetric sampling, all anchors
    lr: z.number().positive().default(3e-4), // all anchors (critic, actor, temperature)
    actorEvery: z.number().int().min(1).default(1), // actor and temperature update period
    rewardScale: z.number().default(1),
    rewardShift: z.number().default(0),
    // sac: α·log π − Q; sac+bc: that plus β·BC on the demo rows; bc: BC only; awr:
    // advantage-weighted regression on the batch's actions (α does not reach it)
    actorLoss: ActorLoss.default('sac'),
    bcWeight: z.number().min(0).default(1), // β at the start of sac+bc
    bcDecaySteps: z.number().int().positive().default(10_000), // β decays linearly to 0 over these actor updates
    // β of the sac+bc that follows BC-warmup (the studio's hand-over to autonomous): with 1, the
    // −Q/mean|Q| term of a critic that has seen only demos swamps BC and the policy collapses to
    // 0 % success (docs/LEARNER.md, "BC-warmup → autonomous"); 10 keeps it anchored
    handoverBcWeight: z.number().min(0).default(10),
    // sac+bc's Q term as −Q / mean|Q| (CPQL, TD3+BC's λ), so Q's scale cannot swamp the BC term;
    // off: the plain −Q (only to show what the normalisation prevents)
    normalizeQ: z.boolean().default(true),
    // awr's weights exp(A/T) with A = Q(s, a) − Q(s, a ~ π(s)): T (AWR, CRR 1) and their clip (AWR, CRR 20)
    awrTemperature: z.number().positive().default(1),
    awrMaxWeight: z.number().positive().default(20),
    logStdMin: z.number().default(-5),
    logStdMax: z.number().default(2),
    onlineCapacity: z.number().int().positive().default(1_000_000),
    demoCapacity: z.number().int().positive().default(200_000),
    seed: z.number().int().nonnegative().default(0),
    // Threads an update may use on the wasm backend: with 2, half the critics run on a helper
    // thread (nets large enough only); results are the same bit for bit whatever the number.
    threads: z.number().int().min(1).max(8).default(2),
    // Where the critics train: 'native' in the native addon (C++ and a BLAS, npm run
    // build:native; config.threads then deals the critics among its threads, and no tfjs helper
    // thread starts), 'tfjs' on the TensorFlow.js backend, 'auto' native when the addon is built.
    // The same math either way (within float32 rounding); checkpoints move between them.
    critics: CriticsBackend.default('auto'),
    // Where the actor and the temperature (log α) train: 'native' in the addon's ActorNative
    // (it needs native critics, and an actor loss other than awr at the start), 'tfjs' here,
    // 'auto' native when the addon has ActorNative, the critics are native and actorLoss is not
    // awr. A switch to awr mid-run (Sac.setActorLoss) brings the actor back to tfjs for the rest
    // of the run. The same math either way (within float32 rounding); checkpoints move between them.
    actor: ActorBackend.default('auto'),
    // continuous: the gripper command is one of the actor's outputs. discrete: a grasp critic
    // (HIL-SERL, LeRobot) picks open / stay / close by argmax of its Q beside the continuous
    // critics, which with the actor see the other action entries only (src/learner/grasp.ts)
    gripper: GripperMode.default('continuous'),
    // the grasp critic's cost of a change of the gripper's state (HIL-SERL 0.02, LeRobot 0.05)
    gripperPenalty: z.number().min(0).default(0.02),
    // the task's gripper (its action index, the command a reset leaves): the studio fills it in
    // from the robot's spec when gripper is discrete
    gripperAction: z
      .object({ index: z.number().int().nonnegative(), atReset: z.number() })
      .strict()
      .optional(),
  })
  .strict()

  .refine((c) => c.minSubset <= c.ensembleSize, 'minSubset must not exceed ensembleSize')
  .refine((c) => c.logStdMin < c.logStdMax, 'logStdMin must be below logStdMax');
export type LearnerConfig = z.infer<typeof LearnerConfig>;

/**
 * The config with a discrete gripper's `gripperAction` filled in from the robot's spec (as is
 * when the gripper is continuous or the field is set); throws when the robot has no gripper.
 */
export function withGripperOf<C extends { gripper?: unknown; gripperAction?: unknown }>(
  config: C,
  spec: { task: string; safety?: SafetySpec | undefined },
): C {
  if (config.gripper !== 'discrete' || config.gripperAction) return config;
  const gripper = spec.safety?.kind === 'ee-delta' ? spec.safety.gripper : undefined;
  if (!gripper) {
    throw new Error(
      `learner gripper 'discrete' needs a robot with a gripper: ${spec.task}'s spec names none (safety.gripper); use gripper=continuous`,
    );
  }
  return { ...config, gripperAction: { index: gripper.index, atReset: gripper.atReset } };
}

/** The target entropy in use: the configured one, or −|A|/2. */
export function targetEntropyOf(config: LearnerConfig, actionDim: number): number {
  return config.targetEntropy ?? -actionDim / 2;
}

/**
 * A stored or sent LearnerConfig (JSON writes ±∞ and NaN as strings), parsed for the control side:
 * those values are dropped for their defaults (the control side reads none of them: the learner's
 * own parse, in its worker, reads the strings back).
 */
export function controlSideConfig(config: Record<string, unknown>): LearnerConfig {
  return LearnerConfig.parse(
    Object.fromEntries(
      Object.entries(config).filter(
        ([, v]) => !['Infinity', '-Infinity', 'NaN'].includes(String(v)),
      ),
    ),
  );
}
