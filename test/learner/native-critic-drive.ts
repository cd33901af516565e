// What the native critic's test and benchmark share: a CriticEnsemble (its types: src/learner/
// native-addon.ts) loaded with a Sac's critics, targets and critic Adam state, and the inputs of
// Sac.update's next critic updates, replayed from a copy of its generator.
import * as tf from '@tensorflow/tfjs';
import { allocBatch, sampleMixed } from '../../src/learner/buffer.ts';
import { read } from '../../src/learner/heap.ts';
import { samplePolicy } from '../../src/learner/networks.ts';
import type {
  CriticEnsemble,
  CriticEnsembleClass,
  CriticUpdateInput,
} from '../../src/learner/native-addon.ts';
import type { Sac } from '../../src/learner/sac.ts';
import { Random } from '../../src/util/random.ts';

/** A CriticEnsemble with `sac`'s settings, critics, targets and critic Adam state. */
export function ensembleFromSac(Ctor: CriticEnsembleClass, sac: Sac, threads = 1): CriticEnsemble {
  const c = sac.config;
  const adam = sac.criticOptimizer;
  const native = new Ctor({
    inDim: sac.obsDim + sac.actionDim,
    hidden: [...c.hidden],
    ensemble: c.ensembleSize,
    layerNorm: c.criticLayerNorm,
    batch: c.batchSize,
    lr: adam.learningRate,
    beta1: adam.beta1,
    beta2: adam.beta2,
    eps: adam.epsilon,
    gamma: c.gamma,
    tau: c.tau,
    clip: c.gradClip,
    rewardScale: c.rewardScale,
    rewardShift: c.rewardShift,
    backupEntropy: c.backupEntropy,
    threads,
  });
  const online = sac.critics.flatMap((q) => q.variables).map((v) => read(v).slice());
  const target = sac.targets.flatMap((q) => q.variables).map((v) => read(v).slice());
  native.setWeights(online, target);
  const moments = adam.moments;
  if (moments) native.setAdam(adam.iterations, [...moments.m], [...moments.v]);
  else native.setAdam(adam.iterations);
  return native;
}

function joinRows(obs: Float32Array, x: Float32Array, n: number): Float32Array {
  const o = obs.length / n;
  const k = x.length / n;
  const out = new Float32Array(n * (o + k));
  for (let r = 0; r < n; r++) {
    out.set(obs.subarray(r * o, (r + 1) * o), r * (o + k));
    out.set(x.subarray(r * k, (r + 1) * k), r * (o + k) + o);
  }
  return out;
}

/**
 * The inputs of the `utd` critic updates `sac.update()` does next, drawn from a copy of its
 * generator in Sac.update's order (batch, a′'s noise, the min subset; per critic update), with
 * a′ and log π(a′|s′) from its actor as Sac#criticStep computes them. Only for learner steps
 * without an actor update (actorEvery past the steps run): the actor must not change between
 * them. Returns the inputs and the generator's state after them (sac.rng's after the step).
 */
export function nextCriticInputs(sac: Sac): { inputs: CriticUpdateInput[]; rngState: number } {
  const c = sac.config;
  const n = c.batchSize;
  const A = sac.actionDim;
  const O = sac.obsDim;
  const rng = new Random(0).restore(sac.rng.state);
  const batch = allocBatch(n, O, A);
  const alpha = Math.exp(read(sac.logAlpha)[0]!);
  const inputs: CriticUpdateInput[] = [];
  for (let k = 0; k < c.utd; k++) {
    sampleMixed(sac.online, sac.demo, c.onlineRatio, batch, rng);
    const noise = new Float32Array(n * A);
    for (let i = 0; i < noise.length; i++) noise[i] = rng.normal();
    const all = sac.targets.map((_, i) => i);
    for (let i = all.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    const subset = Int32Array.from(all.slice(0, c.minSubset));
    const heads = tf.tidy(() => read(sac.actor.heads(tf.tensor2d(batch.nextObs, [n, O]))).slice());
    const next = samplePolicy(heads, 0, n, A, noise, sac.actor.logStdRange);
    inputs.push({
      sa: joinRows(batch.obs, batch.action, n),
      reward: batch.reward.slice(),
      done: batch.done.slice(),
      nextSa: joinRows(batch.nextObs, next.action, n),
      nextLogProb: next.logProb,
      alpha,
      subset,
    });
  }
  return { inputs, rngState: rng.state };
}
