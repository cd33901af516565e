import { z } from 'zod';
import { TaskConfig } from './config.ts';
import { EpisodeOutcome } from './episode.ts';
import { HealthAlert } from './health.ts';
import { InterventionStyle, Mode, ModeCommand, ModeEvent } from './modes.ts';

/**
 * What a studio session runs with; stored whole with its run. `operator`: who drives when the
 * operator is asked to (intervention, BC-warmup): a human through teleop packets, or the scripted
 * corrective operator (the task's expert), which also decides on its own when to intervene.
 */
export const SessionConfig = z
  .object({
    task: TaskConfig,
    seed: z.number().int().nonnegative().default(0),
    /** Control rate (Hz); the task's own by default. */
    rateHz: z.number().positive().max(50).optional(),
    operator: z.enum(['human', 'scripted']).default('human'),
    /** The scripted operator takes over from a straying policy by itself (else it only drives BC-warmup). */
    scriptedInterventions: z.boolean().default(true),
    interventionStyle: InterventionStyle.default('hold'),
    /** Learner settings over the task's preset (LearnerConfig input). */
    learner: z.record(z.string(), z.unknown()).default({}),
    /** The policy samples its action in autonomous mode (exploration) instead of the mean. */
    sample: z.boolean().default(true),
    /** Start the next episode this long after one ends (ms); -1: wait for a reset command. */
    autoResetMs: z.number().int().min(-1).default(1000),
    /** Live mode: publish the policy every N learner steps or T ms. */
    publishEverySteps: z.number().int().positive().default(50),
    publishEveryMs: z.number().positive().default(1000),
    /** Live mode: at most this many learner steps per online transition (the UTD bound). */
    maxUpdatesPerTransition: z.number().positive().default(20),
    /** Safety settings (SafetyOptions input). */
    safety: z.record(z.string(), z.unknown()).default({}),
    /** The headset's clutch mapping (ClutchOptions input: hand, scale, yaw, buttons). */
    headset: z.record(z.string(), z.unknown()).default({}),
    /**
     * When the operator's stream goes stale or its headset disconnects while the operator drives:
     * `pause` (hold still, alarm, then paused: the default) or `hold` (hold still and alarm only,
     * until packets come back).
     */
    operatorFault: z.enum(['pause', 'hold']).default('pause'),
    /**
     * With a remote learner, when it cannot be reached: `keep` (default) acts on with the last
     * policy it published, `pause` pauses the studio; an alarm is raised either way.
     */
    learnerLost: z.enum(['keep', 'pause']).default('keep'),
    /**
     * Live: run the control thread on the real-time scheduler (SCHED_FIFO) so learner and
     * renderer threads cannot make ticks late. `auto` (default): when the system allows it, else
     * say why and go on; `off`; `required`: refuse to start live without it.
     */
    realtime: z.enum(['auto', 'off', 'required']).default('auto'),
  })
  .strict();
export type SessionConfig = z.infer<typeof SessionConfig>;
export type SessionConfigInput = z.input<typeof SessionConfig>;

/**
 * What the operator can say about the running episode: success or failure (stored as its
 * outcome), discard (rerecord: stored as discarded), reset (ended without a verdict, stored as a
 * time-out, and the next one starts at once; between episodes it starts the next one).
 */
export const EpisodeCommand = z.enum(['success', 'failure', 'discard', 'reset']);
export type EpisodeCommand = z.infer<typeof EpisodeCommand>;

/** Where an operator's packets come from (teleop packets and headset frames). */
export const OperatorDevice = z.enum(['keyboard', 'gamepad', 'headset', 'ui', 'scripted']);
export type OperatorDevice = z.infer<typeof OperatorDevice>;

/**
 * How fresh the human operator's input was at a tick. `ageMs`: since its newest packet arrived;
 * `latencyMs`: from the packet's own timestamp (the sender's epoch clock) to this tick, when the
 * clocks are comparable (the same machine, or synchronised ones).
 */
export const OperatorTiming = z.object({
  device: OperatorDevice,
  ageMs: z.number(),
  latencyMs: z.number().optional(),
});
export type OperatorTiming = z.infer<typeof OperatorTiming>;

/** One control tick as the UI and the headset see it. */
export const Telemetry = z.object({
  tick: z.number().int(),
  mode: Mode,
  driver: z.enum(['policy', 'operator', 'none']),
  episodeId: z.number().int().optional(),
  step: z.number().int(),
  obs: z.array(z.number()),
  action: z.array(z.number()).optional(),
  proposed: z.array(z.number()).optional(),
  reward: z.number().optional(),
  policyVersion: z.number().int(),
  safety: z.object({ verdict: z.string(), reasons: z.array(z.string()) }).optional(),
  /** The bodies' world poses (SceneDescription), for the 3D view. */
  poses: z.array(z.number()).optional(),
  /** The human operator's input as this tick used it (absent when no packet has come). */
  operator: OperatorTiming.optional(),
});
export type Telemetry = z.infer<typeof Telemetry>;

export const SessionStatus = z.object({
  runId: z.number().int(),
  task: z.string(),
  mode: Mode,
  operator: z.enum(['human', 'scripted']),
  interventionStyle: InterventionStyle,
  rateHz: z.number(),
  running: z.boolean(),
  episode: z
    .object({ id: z.number().int(), kind: z.string(), steps: z.number().int(), return: z.number() })
    .optional(),
  episodes: z.object({
    total: z.number().int(),
    success: z.number().int(),
    failure: z.number().int(),
    timeout: z.number().int(),
    discarded: z.number().int(),
  }),
  policyVersion: z.number().int(),
  learner: z.object({
    backend: z.string(),
    steps: z.number().int(),
    updatesPerS: z.number(),
    /** Learner steps per online transition taken in (LearnerLink.updateToData). */
    updateToData: z.number(),
    backlog: z.number().int(),
    online: z.number().int(),
    demo: z.number().int(),
  }),
  /** Control-loop timing (ms; live only, 0 before): p99s over the last ticks. */
  loop: z.object({
    ticks: z.number().int(),
    missed: z.number().int(),
    periodErrorP99: z.number(),
    latenessP99: z.number(),
    /** The latest tick start in the window: one stall shows here where the p99 hides it. */
    latenessMax: z.number(),
    workP99: z.number(),
    inferenceP99: z.number(),
    /** Publication by the learner → in use at a tick (median of the last swaps). */
    swapLatencyP50: z.number(),
    /** The control thread's scheduling while live: "SCHED_FIFO 10", or why it is the normal one. */
    scheduling: z.string(),
    /** Ticks during which SQLite was written (0: every write happened in the slack after ticks). */
    writesInTicks: z.number().int(),
  }),
  interventions: z.object({ count: z.number().int(), steps: z.number().int() }),
  /**
   * How a keyboard or gamepad drives this robot: the action's length, the entries of the
   * end-effector translation (x, y, z in the robot's base frame) and of the gripper. Null: the
   * robot takes no end-effector deltas, so only the headset's or a script's packets can drive it.
   */
  teleop: z
    .object({
      actionDim: z.number().int().positive(),
      translation: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
      gripper: z.number().int().optional(),
    })
    .nullable(),
  health: z.array(HealthAlert),
  alarms: z.array(z.string()),
});
export type SessionStatus = z.infer<typeof SessionStatus>;

/** What a rollback restored: the stored checkpoint and the learner step it was taken at. */
export const RollbackAnswer = z.object({
  checkpointId: z.number().int(),
  learnerSteps: z.number().int(),
});
export type RollbackAnswer = z.infer<typeof RollbackAnswer>;

/** Calls a client may make (WebSocket or Electron preload): one schema per method's params. */
export const StudioCall = z.discriminatedUnion('method', [
  z.object({ method: z.literal('status') }).strict(),
  z.object({ method: z.literal('mode'), command: ModeCommand }).strict(),
  z.object({ method: z.literal('episode'), command: EpisodeCommand }).strict(),
  z.object({ method: z.literal('teleop'), packet: z.unknown() }).strict(),
  /** One headset frame (an XrPacket, parsed by the studio); answered with an XrAck. */
  z.object({ method: z.literal('xr'), packet: z.unknown() }).strict(),
  /** Pair this connection as a headset with the code the desktop shows: answers a PairAnswer. */
  z.object({ method: z.literal('pair'), code: z.string().max(64) }).strict(),
  /** Present a token from an earlier `pair` (a reconnect): answers a ConnectionRole. */
  z.object({ method: z.literal('hello'), token: z.string().max(256) }).strict(),
  /** Take (or give back) control of the robot for this paired connection: a ConnectionRole. */
  z.object({ method: z.literal('control'), take: z.boolean() }).strict(),
  /** The pairing code and the paired headsets (local clients only): a PairingStatus. */
  z.object({ method: z.literal('pairing') }).strict(),
  /** Forget a paired headset by its id from `pairing` (local clients only). */
  z.object({ method: z.literal('revoke'), pairingId: z.string().max(64) }).strict(),
  z.object({ method: z.literal('start') }).strict(),
  z.object({ method: z.literal('stop') }).strict(),
  /** The robot's SceneDescription (null: the robot cannot describe itself). */
  z.object({ method: z.literal('scene') }).strict(),
  /**
   * Roll the learner back to the checkpoint kept at the last BC-warmup → autonomous hand-over
   * (the studio pauses): answers a RollbackAnswer.
   */
  z.object({ method: z.literal('rollback') }).strict(),
  /** The session run's learner metrics: every name, or those asked for, after a learner step. */
  z
    .object({
      method: z.literal('metrics'),
      names: z.array(z.string()).optional(),
      afterStep: z.number().int().optional(),
    })
    .strict(),
  /** Recorded episodes of any run in the database (an EpisodeFilter, checked by the store). */
  z
    .object({
      method: z.literal('episodes'),
      filter: z.record(z.string(), z.unknown()).default({}),
    })
    .strict(),
  /** One episode's recorded steps. */
  z.object({ method: z.literal('steps'), episodeId: z.number().int().positive() }).strict(),
  /** One episode re-simulated from its seed and actions: the bodies' poses at every step. */
  z.object({ method: z.literal('replay'), episodeId: z.number().int().positive() }).strict(),
  /** Label, notes or soft delete of an episode, written to SQLite. */
  z
    .object({
      method: z.literal('annotate'),
      episodeId: z.number().int().positive(),
      label: z.enum(['success', 'failure', 'none']).optional(),
      notes: z.string().max(10_000).optional(),
      deleted: z.boolean().optional(),
      /** Steps [start, end) kept for learning; null clears the trim (checked by the store). */
      trim: z
        .object({ start: z.number().int().nonnegative(), end: z.number().int().positive() })
        .nullable()
        .optional(),
    })
    .strict(),
]);
export type StudioCall = z.infer<typeof StudioCall>;

/** A request on the wire: a call with the client's id for its answer. */
export const RpcRequest = z.object({ id: z.number().int().nonnegative() }).passthrough();

export const RpcResponse = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().int().nullable(), ok: z.literal(false), error: z.string() }),
]);
export type RpcResponse = z.infer<typeof RpcResponse>;

/** What the studio pushes to every client. */
export const StudioEvent = z.discriminatedUnion('event', [
  z.object({ event: z.literal('telemetry'), data: Telemetry }),
  z.object({ event: z.literal('mode'), data: ModeEvent }),
  z.object({ event: z.literal('alert'), data: HealthAlert }),
  z.object({ event: z.literal('alarm'), data: z.object({ message: z.string(), at: z.number() }) }),
  z.object({
    event: z.literal('episode'),
    data: z.object({
      id: z.number().int(),
      kind: z.string(),
      outcome: EpisodeOutcome,
      steps: z.number().int(),
      return: z.number(),
      intervenedSteps: z.number().int(),
    }),
  }),
  z.object({ event: z.literal('policy'), data: z.object({ version: z.number().int() }) }),
]);
export type StudioEvent = z.infer<typeof StudioEvent>;

/** A metric's series as `metrics` answers it. */
export const MetricSeries = z.object({
  name: z.string(),
  steps: z.array(z.number()),
  values: z.array(z.number().nullable()),
});
export type MetricSeries = z.infer<typeof MetricSeries>;
