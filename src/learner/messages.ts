import { z } from 'zod';
import { LEARNER_BACKENDS } from './backend.ts';
import { ActorLoss } from './config.ts';

const floats = z.instanceof(Float32Array);

/** A packed batch of transitions (row-major), sent to the worker as transferable buffers. */
export const TransitionBatch = z.object({
  count: z.number().int().nonnegative(),
  obs: floats,
  action: floats,
  reward: floats,
  nextObs: floats,
  done: floats,
});
export type TransitionBatch = z.infer<typeof TransitionBatch>;

const Tensor = z.object({ shape: z.array(z.number().int().positive()), data: floats });

/** The actor's weights, in `Actor.variables` order, with the learner step they come from. */
export const PolicyWeights = z.object({
  version: z.number().int().nonnegative(),
  /** When the learner published them: epoch ms (performance.timeOrigin + now, any thread). */
  publishedAt: z.number().optional(),
  tensors: z.array(Tensor),
  /**
   * A discrete gripper's grasp critic (LearnerConfig.gripper): its network in `GraspNet.variables`
   * order, the gripper's action index and the command a reset leaves. The actor then outputs the
   * other action entries.
   */
  grasp: z
    .object({
      index: z.number().int().nonnegative(),
      atReset: z.number(),
      tensors: z.array(Tensor),
    })
    .optional(),
});
export type PolicyWeights = z.infer<typeof PolicyWeights>;

/** How the worker trains when free-running (the studio's live loop). */
export const FreeRunOptions = z
  .object({
    /** Publish the actor's weights every this many learner steps… */
    publishEverySteps: z.number().int().positive().default(50),
    /** …or this many milliseconds after the last publication, whichever comes first. */
    publishEveryMs: z.number().positive().default(1000),
    /**
     * The pace bound: at most this many learner steps per online transition taken in while
     * free-running (the update-to-data ratio; 20 is RLPD's highest). Demo transitions add none.
     * Credit not spent by the next transition lapses (but for one step), so a learner slower than
     * the data does not make steps up once it stops (e.g. paused: at most this many × the last
     * batch, + 1); at the bound the worker waits for the next message, using no CPU.
     */
    maxUpdatesPerTransition: z.number().positive().default(20),
    /**
     * Keep unspent credit instead of letting it lapse: the learner catches up to
     * `maxUpdatesPerTransition` × all online transitions (the remote learner, whose data-paced
     * actors wait for it to).
     */
    keepCredit: z.boolean().default(false),
  })
  .strict();
export type FreeRunOptions = z.infer<typeof FreeRunOptions>;

export const ToWorker = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('init'),
    obsDim: z.number().int().positive(),
    actionDim: z.number().int().positive(),
    config: z.record(z.string(), z.unknown()),
    backend: z.enum(LEARNER_BACKENDS as [string, ...string[]]).optional(),
    /** Report metrics every this many learner steps. */
    metricsEvery: z.number().int().positive(),
    /**
     * A checkpoint payload to continue from: the learner is built with its dims and config (then
     * `config` is ignored) and restored; its replay buffers start empty, to be refilled.
     */
    checkpoint: z.instanceof(Uint8Array).optional(),
  }),
  z.object({ type: z.literal('add'), buffer: z.enum(['online', 'demo']), batch: TransitionBatch }),
  /** Run `steps` learner steps now and answer `trained` with the same id (lock-step training). */
  z.object({
    type: z.literal('train'),
    id: z.number().int(),
    steps: z.number().int().nonnegative(),
  }),
  /** Free-running mode: train continuously, publishing `weights` every N steps or T ms. */
  z.object({ type: z.literal('run'), options: FreeRunOptions }),
  /** Leave free-running mode after the current learner step; answered by `paused`. */
  z.object({ type: z.literal('pause'), id: z.number().int() }),
  /**
   * Switch the actor loss between steps (the studio's BC-warmup → RL hand-over); a BC weight
   * schedule (sac+bc) starts again from here.
   */
  z.object({ type: z.literal('set-actor-loss'), loss: ActorLoss }),
  /** Answer `checkpoint` with the learner's whole state (see checkpoint.ts). */
  z.object({ type: z.literal('checkpoint'), id: z.number().int() }),
  /** Answer `checked` once the refilled buffers match the restored checkpoint's (else `error`). */
  z.object({ type: z.literal('check-buffers'), id: z.number().int() }),
  /**
   * Roll the networks, optimisers and temperature back to a checkpoint of this learner (the
   * studio's hand-over checkpoint), keeping its buffers and its step count; answered by
   * `restored` with the restored actor's weights.
   */
  z.object({ type: z.literal('restore'), id: z.number().int(), payload: z.instanceof(Uint8Array) }),
  z.object({ type: z.literal('shutdown') }),
]);
export type ToWorker = z.infer<typeof ToWorker>;

export const FromWorker = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ready'),
    backend: z.string(),
    config: z.record(z.string(), z.unknown()),
    /** The learner step it starts from (non-zero after a restore). */
    steps: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal('metrics'), metrics: z.record(z.string(), z.number()) }),
  z.object({
    type: z.literal('trained'),
    id: z.number().int(),
    steps: z.number().int(),
    online: z.number().int(),
    weights: PolicyWeights,
  }),
  /**
   * Published while free-running; `received` counts the transitions the worker has taken in (both
   * buffers), `online` the online ones.
   */
  z.object({
    type: z.literal('weights'),
    weights: PolicyWeights,
    received: z.number().int(),
    online: z.number().int(),
  }),
  /**
   * Free-running, at the pace bound (or with no data): sent each time the worker goes idle to
   * wait for the next message, with its learner step and the transitions it has taken in.
   */
  z.object({
    type: z.literal('idle'),
    steps: z.number().int(),
    received: z.number().int(),
    online: z.number().int(),
  }),
  z.object({
    type: z.literal('paused'),
    id: z.number().int(),
    steps: z.number().int(),
    online: z.number().int(),
  }),
  z.object({
    type: z.literal('checkpoint'),
    id: z.number().int(),
    steps: z.number().int(),
    meta: z.record(z.string(), z.unknown()),
    payload: z.instanceof(Uint8Array),
  }),
  z.object({ type: z.literal('checked'), id: z.number().int() }),
  z.object({
    type: z.literal('restored'),
    id: z.number().int(),
    steps: z.number().int(),
    online: z.number().int(),
    weights: PolicyWeights,
  }),
  /** A failed request (`id`) or, without one, a failure of the worker itself. */
  z.object({ type: z.literal('error'), id: z.number().int().optional(), message: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorker>;
