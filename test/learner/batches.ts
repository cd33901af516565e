import { packTransitions } from '../../src/learner/link.ts';
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
