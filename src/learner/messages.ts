import { z } from 'zod';
import { BACKENDS } from './backend.ts';

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

/** The actor's weights, in `Actor.variables` order, with the learner step they come from. */
export const PolicyWeights = z.object({
  version: z.number().int().nonnegative(),
  tensors: z.array(z.object({ shape: z.array(z.number().int().positive()), data: floats })),
});
export type PolicyWeights = z.infer<typeof PolicyWeights>;

export const ToWorker = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('init'),
    obsDim: z.number().int().positive(),
    actionDim: z.number().int().positive(),
    config: z.record(z.string(), z.unknown()),
    backend: z.enum(BACKENDS as [string, ...string[]]).optional(),
    /** Report metrics every this many learner steps. */
    metricsEvery: z.number().int().positive(),
  }),
  z.object({ type: z.literal('add'), buffer: z.enum(['online', 'demo']), batch: TransitionBatch }),
  /** Run `steps` learner steps now and answer `trained` with the same id (lock-step training). */
  z.object({
    type: z.literal('train'),
    id: z.number().int(),
    steps: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal('shutdown') }),
]);
export type ToWorker = z.infer<typeof ToWorker>;

export const FromWorker = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ready'),
    backend: z.string(),
    config: z.record(z.string(), z.unknown()),
  }),
  z.object({ type: z.literal('metrics'), metrics: z.record(z.string(), z.number()) }),
  z.object({
    type: z.literal('trained'),
    id: z.number().int(),
    steps: z.number().int(),
    weights: PolicyWeights,
  }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorker>;
