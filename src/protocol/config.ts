import { z } from 'zod';

/**
 * Options of the `sim/panda-lift` task. Defaults follow the community's PandaPickCube
 * (docs/SIM.md).
 */
export const PandaLiftOptions = z
  .object({
    /** Metres per unit of action, per control step. */
    actionScale: z.number().positive().max(0.1).default(0.025),
    reward: z.enum(['sparse', 'dense']).default('sparse'),
    maxSteps: z.number().int().positive().default(100),
    /** Cube height above its resting height that counts as lifted (metres). */
    liftHeight: z.number().positive().default(0.1),
  })
  .strict();
export type PandaLiftOptions = z.infer<typeof PandaLiftOptions>;

/** Options of the `probe` task: output a fixed target action (docs/LEARNER.md, seed 002). */
export const ProbeOptions = z
  .object({
    actionDim: z.number().int().min(1).max(64).default(6),
    /** One value for every dimension, or one per dimension. */
    target: z.union([z.number(), z.array(z.number())]).default(0),
    reward: z.enum(['mse', 'shaped']).default('mse'),
    observation: z.enum(['zero', 'random']).default('zero'),
    obsDim: z.number().int().min(1).max(256).default(4),
    maxSteps: z.number().int().positive().default(200),
  })
  .strict();
export type ProbeOptions = z.infer<typeof ProbeOptions>;

/** Options of the `ros2` task: a real robot over ROS 2, described by a JSON file (docs/ROS2.md). */
export const Ros2Options = z
  .object({
    /** The robot's config file (read and validated when the robot is created). */
    config: z.string().min(1, 'the ros2 task needs --config FILE (a robot config, docs/ROS2.md)'),
  })
  .strict();
export type Ros2Options = z.infer<typeof Ros2Options>;

export const TaskConfig = z.discriminatedUnion('task', [
  z.object({
    task: z.literal('sim/panda-lift'),
    options: PandaLiftOptions.default(PandaLiftOptions.parse({})),
  }),
  z.object({ task: z.literal('probe'), options: ProbeOptions.default(ProbeOptions.parse({})) }),
  z.object({ task: z.literal('ros2'), options: Ros2Options }),
]);
export type TaskConfig = z.infer<typeof TaskConfig>;
export type TaskName = TaskConfig['task'];
export const TASK_NAMES: readonly TaskName[] = ['sim/panda-lift', 'probe', 'ros2'];

/** The settings of a `tandem train` run: what `--resume` continues it with. */
export const TrainSettings = z.object({
  envSteps: z.number().int().positive(),
  randomSteps: z.number().int().nonnegative(),
  /** The demo source as given (`run:ID`) or as an absolute database path. */
  demos: z.string().optional(),
  evalEvery: z.number().int().positive(),
  evalEpisodes: z.number().int().positive(),
  checkpointEvery: z.number().int().positive(),
  /** The learner config (JSON: an infinite value is written as the string "Infinity"). */
  learner: z.record(z.string(), z.unknown()),
});
export type TrainSettings = z.infer<typeof TrainSettings>;

/** What a run was started with; stored whole in `runs.config` and printed at start. */
export const RunConfig = z.object({
  command: z.string().min(1),
  task: TaskConfig,
  operator: z.enum(['scripted', 'human', 'policy', 'random']).optional(),
  episodes: z.number().int().positive().optional(),
  seed: z.number().int().nonnegative().default(0),
  train: TrainSettings.optional(),
  /** The safety layer's settings (SafetyOptions input) of a headless run; a session's are in it. */
  safety: z.record(z.string(), z.unknown()).optional(),
  /** A studio session's SessionConfig (src/protocol/studio.ts), as stored. */
  session: z.record(z.string(), z.unknown()).optional(),
  /** A remote learner's config (tandem learner serve; JSON as in TrainSettings.learner). */
  learner: z.record(z.string(), z.unknown()).optional(),
  /** An actor's remote learner (tandem actor): its address and this actor's id. */
  remote: z.object({ url: z.string(), actor: z.string() }).optional(),
});
export type RunConfig = z.infer<typeof RunConfig>;
