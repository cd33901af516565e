import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Grad } from '../../src/learner/adam.ts';
import { chooseBackend } from '../../src/learner/backend.ts';
import { allocBatch, sampleMixed } from '../../src/learner/buffer.ts';
import { LearnerConfig, targetEntropyOf } from '../../src/learner/config.ts';
import { read } from '../../src/learner/heap.ts';
import { stopGradient } from '../../src/learner/layers.ts';
import {
  ACTION_LIMIT,
  actionLogProb,
  actionLogProbBackward,
  Actor,
  Critic,
  type CriticLayerTape,
  policyBackward,
  samplePolicy,
} from '../../src/learner/networks.ts';
import { Sac } from '../../src/learner/sac.ts';
import { Random } from '../../src/util/random.ts';

// The learner trains with hand-written forward and backward passes and a plain-JS Adam (for
// speed). These tests hold them to the plain formulation: tf.grad through the networks' tf-op
// forms, and the whole update against an autodiff transcription of docs/LEARNER.md with
// tf.train.adam.

before(async () => {
  await chooseBackend();
});

function gradValues(g: Grad): number[] {
  const values = 'values' in g ? g.values : read(g.tensor);
  return Array.from(values, (x) => x * g.scale);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  assert.ok(worst <= 1e-5 * Math.max(1, scale), `${what}: off by ${worst} (scale ${scale})`);
}

/** Moves every variable off its initial values, so that γ ≠ 1, β ≠ 0 and biases ≠ 0 matter. */
function perturb(vars: tf.Variable[], rng: Random): void {
  for (const v of vars) {
    const noise = Float32Array.from({ length: v.size }, () => rng.normal() * 0.3);
    tf.tidy(() => v.assign(tf.add(v, tf.tensor(noise, v.shape))));
  }
}

for (const layerNorm of [true, false]) {
  test(`the critic backward pass gives the gradients of tf.grad through Critic.apply${layerNorm ? '' : ', without LayerNorm'}`, () => {
    const rng = new Random(1);
    const critic = new Critic(7, [16, 12], rng, layerNorm);
    try {
      perturb(critic.variables, rng);
      tf.tidy(() => {
        const n = 9;
        const sa = tf.randomNormal([n, 7], 0, 1, 'float32', 2) as tf.Tensor2D;
        const w = tf.randomNormal([n, 1], 0, 1, 'float32', 3) as tf.Tensor2D;
        // L = Σ w·Q(s, a): dL/dQ = w
        const loss = (input: tf.Tensor2D) =>
          tf.sum(tf.mul(critic.apply(input), tf.reshape(w, [-1])));
        const expected = tf.variableGrads(() => loss(sa) as tf.Scalar, critic.variables).grads;
        const tape: CriticLayerTape[] = [];
        assertClose(
          read(critic.forward(sa, tape)),
          critic.apply(sa).dataSync(),
          'Q from the training forward',
        );
        const { grads } = critic.backward(tape, w, { params: true });
        critic.variables.forEach((v, i) =>
          assertClose(gradValues(grads[i]!), expected[v.name]!.dataSync(), `gradient ${i}`),
        );
        const dInput = tf.grad((x: tf.Tensor) => loss(x as tf.Tensor2D))(sa);
        const tape2: CriticLayerTape[] = [];
        critic.forward(sa, tape2);
        const mine = critic.backward(tape2, w, { inputFrom: 5 }).dInput!;
        assertClose(read(mine), tf.slice(dInput, [0, 5], [n, 2]).dataSync(), 'dQ/d input');
      });
    } finally {
      critic.dispose();
    }
  });
}

test('the policy head and actor backward pass give the gradients of tf.grad through Actor.sample', () => {
  const rng = new Random(4);
  const range: [number, number] = [-5, 2];
  const actor = new Actor(5, 3, [16, 8], rng, range);
  try {
    perturb(actor.variables, rng);
    tf.tidy(() => {
      const n = 6;
      const obs = tf.randomNormal([n, 5], 0, 1, 'float32', 5) as tf.Tensor2D;
      const noise = Float32Array.from({ length: n * 3 }, () => rng.normal());
      const wAction = Float32Array.from({ length: n * 3 }, () => rng.normal());
      const wMean = Float32Array.from({ length: n * 3 }, () => rng.normal());
      const wLogProb = 0.7;
      // L = Σ wAction·a + wLogProb·Σ log π + Σ wMean·tanh(μ)
      const expected = tf.variableGrads(() => {
        const pi = actor.sample(obs, tf.tensor2d(noise, [n, 3]));
        return tf.addN([
          tf.sum(tf.mul(pi.action, tf.tensor2d(wAction, [n, 3]))),
          tf.mul(tf.sum(pi.logProb), wLogProb),
          tf.sum(tf.mul(pi.meanAction, tf.tensor2d(wMean, [n, 3]))),
        ]) as tf.Scalar;
      }, actor.variables).grads;
      const tape: tf.Tensor2D[] = [];
      const s = samplePolicy(read(actor.heads(obs, tape)), 0, n, 3, noise, range);
      const reference = actor.sample(obs, tf.tensor2d(noise, [n, 3]));
      assertClose(s.action, reference.action.dataSync(), 'sampled action');
      assertClose(s.logProb, reference.logProb.dataSync(), 'log π');
      const dHeads = policyBackward(s, wAction, wLogProb, wMean);
      const grads = actor.backward(obs, tape, dHeads);
      actor.variables.forEach((v, i) =>
        assertClose(gradValues(grads[i]!), expected[v.name]!.dataSync(), `gradient ${i}`),
      );
    });
  } finally {
    actor.dispose();
  }
});

test('the likelihood of given actions and its backward pass give tf.grad through Actor.logProbOf', () => {
  const rng = new Random(6);
  const range: [number, number] = [-5, 2];
  const actor = new Actor(5, 3, [16, 8], rng, range);
  try {
    perturb(actor.variables, rng);
    tf.tidy(() => {
      const n = 7;
      const obs = tf.randomNormal([n, 5], 0, 1, 'float32', 7) as tf.Tensor2D;
      const action = Float32Array.from({ length: n * 3 }, () => rng.uniform(-0.95, 0.95));
      const wRow = Float32Array.from({ length: n }, () => rng.normal());
      // L = Σ_r w_r·log π(a_r|s_r)
      const expected = tf.variableGrads(
        () => tf.sum(tf.mul(actor.logProbOf(obs, tf.tensor2d(action, [n, 3])), wRow)) as tf.Scalar,
        actor.variables,
      ).grads;
      const tape: tf.Tensor2D[] = [];
      const heads = read(actor.heads(obs, tape)).slice();
      const s = actionLogProb(heads, 0, n, 3, action, range);
      const reference = actor.logProbOf(obs, tf.tensor2d(action, [n, 3]));
      assertClose(s.logProb, reference.dataSync(), 'log π(a|s)');
      const grads = actor.backward(obs, tape, actionLogProbBackward(s, wRow));
      actor.variables.forEach((v, i) =>
        assertClose(gradValues(grads[i]!), expected[v.name]!.dataSync(), `gradient ${i}`),
      );
      // Actions on the box's edges count as ±ACTION_LIMIT in both forms: finite, and equal.
      const edge = Float32Array.from({ length: n * 3 }, (_, k) => (k % 2 ? 1 : -1));
      const limit = edge.map((a) => a * ACTION_LIMIT);
      const atEdge = actionLogProb(heads, 0, n, 3, edge, range).logProb;
      assert.ok(atEdge.every(Number.isFinite), `finite: ${atEdge.join(', ')}`);
      assert.deepEqual(atEdge, actionLogProb(heads, 0, n, 3, limit, range).logProb);
      const tfEdge = actor.logProbOf(obs, tf.tensor2d(edge, [n, 3])).dataSync();
      assert.deepEqual(tfEdge, actor.logProbOf(obs, tf.tensor2d(limit, [n, 3])).dataSync());
    });
  } finally {
    actor.dispose();
  }
});

/**
 * docs/LEARNER.md's update written with tf.variableGrads over the tf-op networks and tf.train.adam,
 * drawing from the learner's generator in the same order as Sac.update: the reference the
 * hand-written update must match.
 */
class ReferenceUpdate {
  readonly #sac: Sac;
  readonly #critic: tf.Optimizer;
  readonly #actor: tf.Optimizer;
  readonly #alpha: tf.Optimizer;
  readonly #batch: ReturnType<typeof allocBatch>;
  #steps = 0;
  #actorUpdates = 0;

  constructor(sac: Sac) {
    this.#sac = sac;
    this.#critic = tf.train.adam(sac.config.lr);
    this.#actor = tf.train.adam(sac.config.lr);
    this.#alpha = tf.train.adam(sac.config.lr);
    this.#batch = allocBatch(sac.config.batchSize, sac.obsDim, sac.actionDim);
  }

  #noise(rows: number): tf.Tensor2D {
    const values = new Float32Array(rows * this.#sac.actionDim);
    for (let i = 0; i < values.length; i++) values[i] = this.#sac.rng.normal();
    return tf.tensor2d(values, [rows, this.#sac.actionDim]);
  }

  #clip(grads: tf.NamedTensorMap): tf.NamedTensorMap {
    const clip = this.#sac.config.gradClip;
    if (!Number.isFinite(clip)) return grads;
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
    const scale = tf.minimum(1, tf.div(clip, tf.add(norm, 1e-6)));
    return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]));
  }

  update(): void {
    const sac = this.#sac;
    const c = sac.config;
    const b = this.#batch;
    const n = b.size;
    tf.tidy(() => {
      let fromOnline = 0;
      for (let k = 0; k < c.utd; k++) {
        fromOnline = sampleMixed(sac.online, sac.demo, c.onlineRatio, b, sac.rng).fromOnline;
        const noise = this.#noise(n);
        const all = sac.targets.map((_, i) => i);
        for (let i = all.length - 1; i > 0; i--) {
          const j = sac.rng.int(i + 1);
          [all[i], all[j]] = [all[j]!, all[i]!];
        }
        const subset = all.slice(0, c.minSubset);
        const obs = tf.tensor2d(b.obs, [n, sac.obsDim]);
        const nextObs = tf.tensor2d(b.nextObs, [n, sac.obsDim]);
        const alpha = tf.exp(sac.logAlpha);
        const next = sac.actor.sample(nextObs, noise);
        const nextSa = tf.concat([nextObs, next.action], 1);
        let nextQ = subset
          .map((i) => sac.targets[i]!.apply(nextSa))
          .reduce((m, q) => tf.minimum(m, q));
        if (c.backupEntropy) nextQ = tf.sub(nextQ, tf.mul(alpha, next.logProb));
        const reward = tf.add(tf.mul(tf.tensor1d(b.reward), c.rewardScale), c.rewardShift);
        const notDone = tf.sub(1, tf.tensor1d(b.done));
        const y = tf.add(reward, tf.mul(tf.mul(notDone, c.gamma), nextQ));
        const sa = tf.concat([obs, tf.tensor2d(b.action, [n, sac.actionDim])], 1);
        const { grads } = tf.variableGrads(
          () =>
            tf.addN(
              sac.critics.map((q) => tf.mean(tf.square(tf.sub(q.apply(sa), y)))),
            ) as tf.Scalar,
          sac.critics.flatMap((q) => q.variables),
        );
        this.#critic.applyGradients(this.#clip(grads));
        sac.targets.forEach((target, e) => {
          const source = sac.critics[e]!.variables;
          target.variables.forEach((v, i) =>
            v.assign(tf.add(tf.mul(source[i]!, c.tau), tf.mul(v, 1 - c.tau))),
          );
        });
      }
      this.#steps++;
      if (this.#steps % c.actorEvery !== 0) return;
      const beta =
        c.actorLoss === 'sac' || c.actorLoss === 'awr'
          ? 0
          : c.actorLoss === 'bc'
            ? 1
            : c.bcWeight * Math.max(0, 1 - this.#actorUpdates / c.bcDecaySteps);
      const demoRows = n - fromOnline;
      const obs = tf.tensor2d(b.obs, [n, sac.obsDim]);
      const alpha = tf.exp(sac.logAlpha);
      const noise = this.#noise(n);
      let logProb: tf.Tensor | undefined;
      const { grads } = tf.variableGrads(() => {
        const pi = sac.actor.sample(obs, noise);
        logProb = tf.keep(pi.logProb);
        if (c.actorLoss === 'awr') {
          // −mean(w·log π(a|s)), w = min(exp((Q(s, a) − Q(s, a′))/T), max) detached, a′ ~ π(s)
          const action = tf.tensor2d(b.action, [n, sac.actionDim]);
          const q = (a: tf.Tensor) =>
            tf.div(
              tf.addN(sac.critics.map((cr) => cr.apply(tf.concat([obs, a], 1) as tf.Tensor2D))),
              sac.critics.length,
            );
          const w = stopGradient(
            tf.minimum(
              tf.exp(tf.div(tf.sub(q(action), q(pi.action)), c.awrTemperature)),
              c.awrMaxWeight,
            ),
          );
          return tf.neg(tf.mean(tf.mul(w, sac.actor.logProbOf(obs, action)))) as tf.Scalar;
        }
        let loss: tf.Tensor = tf.mean(tf.mul(alpha, pi.logProb));
        if (c.actorLoss !== 'bc') {
          const sa = tf.concat([obs, pi.action], 1);
          const q = tf.div(tf.addN(sac.critics.map((cr) => cr.apply(sa))), sac.critics.length);
          const qScale =
            c.actorLoss === 'sac+bc' && c.normalizeQ
              ? tf.div(1, tf.add(stopGradient(tf.mean(tf.abs(q))), 1e-6))
              : tf.scalar(1);
          loss = tf.sub(loss, tf.mul(tf.mean(q), qScale));
        }
        if (beta > 0 && demoRows > 0) {
          const mu = tf.slice(pi.meanAction, [fromOnline, 0], [demoRows, sac.actionDim]);
          const target = tf.slice(
            tf.tensor2d(b.action, [n, sac.actionDim]),
            [fromOnline, 0],
            [demoRows, sac.actionDim],
          );
          loss = tf.add(loss, tf.mul(tf.mean(tf.sum(tf.square(tf.sub(mu, target)), 1)), beta));
        }
        return loss as tf.Scalar;
      }, sac.actor.variables);
      this.#actor.applyGradients(this.#clip(grads));
      const alphaGrad = tf.neg(tf.add(tf.mean(logProb!), targetEntropyOf(c, sac.actionDim)));
      this.#alpha.applyGradients({ [sac.logAlpha.name]: alphaGrad });
      logProb!.dispose();
      this.#actorUpdates++;
    });
  }

  dispose(): void {
    for (const o of [this.#critic, this.#actor, this.#alpha]) o.dispose();
  }
}

function weights(sac: Sac): Float32Array[] {
  return [
    ...sac.actor.variables,
    ...sac.critics.flatMap((c) => c.variables),
    ...sac.targets.flatMap((c) => c.variables),
    sac.logAlpha,
  ].map((v) => v.dataSync() as Float32Array);
}

const CASES: Record<string, Partial<LearnerConfig>> = {
  sac: { hidden: [32, 32], batchSize: 32 },
  'sac+bc, utd 2, clipped, no entropy backup': {
    hidden: [32, 32],
    batchSize: 32,
    actorLoss: 'sac+bc',
    bcDecaySteps: 50,
    utd: 2,
    gradClip: 1,
    backupEntropy: false,
  },
  'sac+bc without the Q normalisation, reward scale 50': {
    hidden: [32, 32],
    batchSize: 32,
    actorLoss: 'sac+bc',
    normalizeQ: false,
    rewardScale: 50,
  },
  'awr, 3 critics, actor every 2': {
    hidden: [32, 32],
    batchSize: 32,
    actorLoss: 'awr',
    awrTemperature: 0.01,
    ensembleSize: 3,
    actorEvery: 2,
  },
  'awr with clipped weights (temperature 0.001, max 3), clipped gradient': {
    hidden: [24],
    batchSize: 24,
    actorLoss: 'awr',
    awrTemperature: 0.001,
    awrMaxWeight: 3,
    gradClip: 1,
  },
  'sac+bc, critics without LayerNorm': {
    hidden: [32, 32],
    batchSize: 32,
    actorLoss: 'sac+bc',
    criticLayerNorm: false,
  },
  'bc, 3 critics, 3 layers, reward scale and shift': {
    hidden: [16, 24, 8],
    batchSize: 16,
    actorLoss: 'bc',
    ensembleSize: 3,
    minSubset: 2,
    rewardScale: 2,
    rewardShift: -0.5,
  },
  'one layer, one critic, actor every 2, utd 3, clipped': {
    hidden: [32],
    batchSize: 20,
    ensembleSize: 1,
    minSubset: 1,
    actorEvery: 2,
    utd: 3,
    gradClip: 0.5,
  },
};

for (const [name, options] of Object.entries(CASES)) {
  test(`an update is docs/LEARNER.md's, through autodiff and tf.train.adam: ${name}`, () => {
    const config = LearnerConfig.parse({ ...options, seed: 5, lr: 1e-3, critics: 'tfjs' });
    const make = () => {
      const sac = new Sac(6, 2, config);
      const rng = new Random(3);
      const vec = (k: number, s: number) =>
        Float32Array.from({ length: k }, () => rng.uniform(-s, s));
      const row = () => ({
        obs: vec(6, 2),
        action: vec(2, 1),
        reward: rng.normal(),
        nextObs: vec(6, 2),
        done: rng.next() < 0.05,
      });
      for (let i = 0; i < 200; i++) sac.online.add(row());
      for (let i = 0; i < 100; i++) sac.demo.add(row());
      return sac;
    };
    const fast = make();
    const slow = make();
    const reference = new ReferenceUpdate(slow);
    try {
      for (let k = 0; k < 6; k++) {
        fast.update();
        reference.update();
      }
      const a = weights(fast);
      const b = weights(slow);
      a.forEach((w, i) => assertClose(w, b[i]!, `variable ${i}`));
      assert.equal(fast.rng.state, slow.rng.state, 'the same draws from the generator');
    } finally {
      reference.dispose();
      fast.dispose();
      slow.dispose();
    }
  });
}

for (const [threads, ensembleSize, steal, actorLoss, criticLayerNorm] of [
  [2, 6, false, 'sac+bc', true],
  [3, 5, false, 'sac+bc', true],
  [2, 6, true, 'sac+bc', true],
  [3, 4, false, 'awr', true],
  [2, 4, false, 'sac+bc', false],
] as const) {
  const what = `${threads - 1} helper thread(s), ${ensembleSize} critics, ${actorLoss}${criticLayerNorm ? '' : ' without LayerNorm'}${steal ? ', work stealing' : ''}`;
  test(`helper threads change nothing, bit for bit: ${what}`, async () => {
    const config = LearnerConfig.parse({
      hidden: [32, 32],
      batchSize: 32,
      ensembleSize,
      minSubset: 3,
      actorLoss,
      criticLayerNorm,
      utd: 2,
      seed: 5,
      threads,
      critics: 'tfjs', // the tfjs helper threads
    });
    const make = (t: number) => {
      const sac = new Sac(6, 2, { ...config, threads: t }, { helpers: 'always', steal });
      const rng = new Random(3);
      const vec = (k: number) => Float32Array.from({ length: k }, () => rng.uniform(-1, 1));
      const row = () => ({
        obs: vec(6),
        action: vec(2),
        reward: rng.normal(),
        nextObs: vec(6),
        done: rng.next() < 0.05,
      });
      for (let i = 0; i < 200; i++) sac.online.add(row());
      for (let i = 0; i < 100; i++) sac.demo.add(row());
      return sac;
    };
    const threaded = make(threads);
    const single = make(1);
    try {
      // Updates start before the helpers are up (this thread does all the work until then).
      const start = Date.now();
      let withHelpers = 0;
      for (let steps = 0; steps < 300 && withHelpers < 8; steps++) {
        const ready = threaded.helpersReady === threads - 1;
        assert.deepEqual(threaded.update(true), single.update(true), `metrics at step ${steps}`);
        if (ready) withHelpers++;
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Still up (a helper that failed or timed out is dropped, and its share done here).
      assert.equal(threaded.helpersReady, threads - 1, `helpers after ${Date.now() - start} ms`);
      // (With stealing, small nets' work is all done here before a helper sees it.)
      if (!steal) assert.ok(threaded.helperAnswers > 0, 'the helpers did some of the work');
      assert.equal(single.helpersReady, 0);
      const a = weights(threaded);
      const b = weights(single);
      a.forEach((w, i) => assert.deepEqual(w, b[i], `variable ${i}`));
    } finally {
      threaded.dispose();
      single.dispose();
    }
  });
}
