import { packTransitions } from '../../src/learner/link.ts';
import type { Sac } from '../../src/learner/sac.ts';
import { Random } from '../../src/util/random.ts';

/** The small learner the link tests run: 4-D observations, 2-D actions. */
export const OBS = 4;
export const ACT = 2;

/** `n` random transitions from generator `seed`, packed for `LearnerLink.add`. */
export function batch(seed: number, n: number) {
  const rng = new Random(seed);
  const vec = (k: number) => Float32Array.from({ length: k }, () => rng.uniform(-1, 1));
  return packTransitions(
    Array.from({ length: n }, () => ({
      obs: vec(OBS),
      action: vec(ACT),
      reward: rng.normal(),
      nextObs: vec(OBS),
      done: false,
    })),
    OBS,
    ACT,
  );
}

/**
 * Fills a learner's buffers with 300 random transitions from generator 9, every third into the
 * demo buffer: the same rows for every learner of the same dims, whatever its settings.
 */
export function fillBuffers(sac: Sac): void {
  const rng = new Random(9);
  const vec = (k: number, s: number) => Float32Array.from({ length: k }, () => rng.uniform(-s, s));
  for (let i = 0; i < 300; i++) {
    (i % 3 === 0 ? sac.demo : sac.online).add({
      obs: vec(sac.obsDim, 2),
      action: vec(sac.actionDim, 1),
      reward: rng.normal(),
      nextObs: vec(sac.obsDim, 2),
      done: rng.next() < 0.05,
    });
  }
}
