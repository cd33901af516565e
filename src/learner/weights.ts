import type { PolicyWeights } from './messages.ts';
import type { Sac } from './sac.ts';

/** The actor's variables as published to the control side (PolicyRunner), tagged with the step. */
export function actorWeights(learner: Sac): PolicyWeights {
  return {
    version: learner.steps,
    publishedAt: performance.timeOrigin + performance.now(),
    tensors: learner.actor.variables.map((v) => ({
      shape: [...v.shape],
      data: v.dataSync() as Float32Array<ArrayBuffer>,
    })),
  };
}
