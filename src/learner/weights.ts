import type * as tf from '@tensorflow/tfjs';
import type { PolicyWeights } from './messages.ts';
import type { Sac } from './sac.ts';

/** The actor's variables as published to the control side (PolicyRunner), tagged with the step. */
export function actorWeights(learner: Sac): PolicyWeights {
  return {
    version: learner.steps,
    publishedAt: performance.timeOrigin + performance.now(),
    tensors: learner.actor.variables.map(tensorOf),
    ...(learner.grasp && learner.config.gripperAction
      ? {
          grasp: {
            ...learner.config.gripperAction,
            tensors: learner.grasp.net.variables.map(tensorOf),
          },
        }
      : {}),
  };
}

const tensorOf = (v: tf.Variable) => ({
  shape: [...v.shape],
  data: v.dataSync() as Float32Array<ArrayBuffer>,
});

/** The buffers a PolicyWeights message can hand over (transfer list). */
export function weightBuffers(weights: PolicyWeights): ArrayBuffer[] {
  return [...weights.tensors, ...(weights.grasp?.tensors ?? [])].map(
    (t) => t.data.buffer as ArrayBuffer,
  );
}
