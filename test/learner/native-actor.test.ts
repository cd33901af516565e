import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { chooseBackend } from '../../src/learner/backend.ts';
import { allocBatch, sampleMixed } from '../../src/learner/buffer.ts';
import { LearnerConfig } from '../../src/learner/config.ts';
import { inputGradient } from '../../src/learner/critic-work.ts';
import { read } from '../../src/learner/heap.ts';
import {
  type ActorNative,
  type ActorNativeClass,
  actorNativeClass,
  loadNativeLearner,
} from '../../src/learner/native-addon.ts';
import { Sac } from '../../src/learner/sac.ts';
import { Random } from '../../src/util/random.ts';

// The native actor phase (native/src/actor.cc; Sac's wiring: native-critic.test.ts) against the TypeScript
// learner's: a Sac on tfjs critics runs whole learner steps (utd 1, an actor update every step);
// an ActorNative loaded with its actor, log α and their Adam states takes, per step, the same
// batch and actor noise (replayed from a copy of the Sac's generator, in Sac.update's order), β
// as Sac.bcWeight, and Q and dQ/da of its own sampled actions from the Sac's critics after that
// step's critic update (those the Sac's actor update used). After 1 and after 20 steps, every
// actor variable and log α must agree.

const loaded = loadNativeLearner();
const Actor: ActorNativeClass | undefined = loaded.ok ? actorNativeClass(loaded.addon) : undefined;
const missing = loaded.ok
  ? `${loaded.path} has no ActorNative (an old build?): npm run build:native`
  : loaded.reason;
/** Skipped without the addon, except on CI, where its absence fails. */
const skip = Actor || process.env.CI ? false : `native addon not available: ${missing}`;
if (skip) console.log(`# skipping the native actor tests: ${skip}`);

function actorClass(): ActorNativeClass {
  if (!Actor) assert.fail(`the native addon is required on CI: ${missing}`);
  return Actor;
}

before(async () => {
  await chooseBackend();
});

const OBS = 6;
const ACT = 4;

function makeSac(options: Partial<LearnerConfig>): Sac {
  const config = LearnerConfig.parse({
    lr: 1e-3,
    hidden: [64, 48],
    batchSize: 64,
    ensembleSize: 3,
    minSubset: 2,
    utd: 1,
    actorEvery: 1,
    threads: 1,
    seed: 23,
    critics: 'tfjs',
    ...options,
  });
  const sac = new Sac(OBS, ACT, config);
  const rng = new Random(9);
  const vec = (k: number, s: number) => Float32Array.from({ length: k }, () => rng.uniform(-s, s));
  const row = () => ({
    obs: vec(OBS, 2),
    action: vec(ACT, 1),
    reward: rng.normal(),
    nextObs: vec(OBS, 2),
    done: rng.next() < 0.05,
  });
  for (let i = 0; i < 400; i++) sac.online.add(row());
  for (let i = 0; i < 200; i++) sac.demo.add(row());
  // a few TS steps first, so that Adam's moments are under way
  for (let i = 0; i < 3; i++) sac.update();
  return sac;
}

function actorFromSac(Ctor: ActorNativeClass, sac: Sac): ActorNative {
  const c = sac.config;
  const adam = sac.actorOptimizer;
  const native = new Ctor({
    obsDim: sac.obsDim,
    actionDim: sac.actionDim,
    hidden: [...c.hidden],
    logStd: sac.actor.logStdRange,
    batch: c.batchSize,
    lr: adam.learningRate,
    beta1: adam.beta1,
    beta2: adam.beta2,
    eps: adam.epsilon,
    clip: c.gradClip,
    targetEntropy: sac.targetEntropy,
  });
  native.setWeights(
    sac.actor.variables.map((v) => read(v).slice()),
    read(sac.logAlpha)[0]!,
  );
  const m = adam.moments;
  const am = sac.alphaOptimizer.moments;
  native.setAdam(
    m ? { step: adam.iterations, m: [...m.m], v: [...m.v] } : { step: adam.iterations },
    am
      ? { step: sac.alphaOptimizer.iterations, m: am.m[0]![0]!, v: am.v[0]![0]! }
      : { step: sac.alphaOptimizer.iterations },
  );
  return native;
}

/** The next learner step's batch and actor noise, replayed from a copy of sac.rng (utd 1). */
function nextActorInputs(sac: Sac) {
  const c = sac.config;
  const n = c.batchSize;
  const rng = new Random(0).restore(sac.rng.state);
  const batch = allocBatch(n, sac.obsDim, sac.actionDim);
  const { fromOnline } = sampleMixed(sac.online, sac.demo, c.onlineRatio, batch, rng);
  const draw = () => Float32Array.from({ length: n * sac.actionDim }, () => rng.normal());
  draw(); // a′'s noise
  for (let i = c.ensembleSize - 1; i > 0; i--) rng.int(i + 1); // the min subset
  const noise = draw();
  return {
    obs: batch.obs.slice(),
    action: batch.action.slice(),
    fromOnline,
    noise,
    rng: rng.state,
  };
}

/** One native actor step on `sac`'s next batch, then sac.update(); returns both metrics. */
function step(sac: Sac, native: ActorNative) {
  const c = sac.config;
  const n = c.batchSize;
  const O = sac.obsDim;
  const A = sac.actionDim;
  const inputs = nextActorInputs(sac);
  const beta = sac.bcWeight;
  const ts = sac.update(true)!;
  assert.equal(sac.rng.state, inputs.rng, 'the replayed draws are those of Sac.update');
  const pi = native.sample(inputs.obs, inputs.noise);
  let q: Float32Array | undefined;
  let dQdA: Float32Array | undefined;
  if (c.actorLoss !== 'bc') {
    const E = sac.critics.length;
    q = new Float32Array(E * n);
    dQdA = new Float32Array(n * A);
    tf.tidy(() => {
      const sa = new Float32Array(n * (O + A));
      for (let r = 0; r < n; r++) {
        sa.set(inputs.obs.subarray(r * O, (r + 1) * O), r * (O + A));
        sa.set(pi.action.subarray(r * A, (r + 1) * A), r * (O + A) + O);
      }
      const t = tf.tensor2d(sa, [n, O + A]);
      sac.critics.forEach((critic, e) => {
        const g = inputGradient(critic, t, -1 / (E * n), O);
        q!.set(g.q, e * n);
        for (let k = 0; k < dQdA!.length; k++) dQdA![k] = dQdA![k]! + g.dInput[k]!;
      });
    });
  }
  const loss = c.actorLoss === 'awr' ? assert.fail('awr is not native') : c.actorLoss;
  const metrics = native.update({
    loss,
    ...(q && dQdA ? { q, dQdA } : {}),
    normalizeQ: c.normalizeQ,
    beta,
    action: inputs.action,
    fromOnline: inputs.fromOnline,
  });
  return { ts, metrics };
}

interface Apart {
  maxAbs: number;
  maxRel: number;
  worst: string;
}

function apart(native: Float32Array[], ts: Float32Array[]): Apart {
  const a: Apart = { maxAbs: 0, maxRel: 0, worst: '' };
  ts.forEach((t, k) => {
    const x = native[k]!;
    assert.equal(x.length, t.length, `variable ${k}: size`);
    for (let i = 0; i < t.length; i++) {
      const d = Math.abs(x[i]! - t[i]!);
      if (!(d <= a.maxAbs)) {
        a.maxAbs = d;
        a.worst = `variable ${k}[${i}]: native ${x[i]}, TS ${t[i]}`;
      }
      if (Math.abs(t[i]!) >= 1e-3) a.maxRel = Math.max(a.maxRel, d / Math.abs(t[i]!));
    }
  });
  return a;
}

/*
 * Tolerances. Both sides do the same float32 and float64 arithmetic in a different order of
 * summation (BLAS vs tfjs products, loop vs avgPool column sums), so each value is within a few
 * float32 ulps: measured after 1 update max abs ≤ 3e-8, after 20 ≤ 1.2e-7, log α identical (the
 * OpenBLAS and the portable build alike). A rounding difference that puts a pre-activation on
 * the other side of a ReLU's kink, or flips the sign of a near-zero gradient under Adam's
 * normalisation, would move an element by a fraction of lr (1e-3 here); none happens with these
 * seeds, and the bounds below leave room for another order of summation, not for such an event.
 */
const ATOL_1 = 1e-6;
const ATOL_20 = 1e-5;

const cases = [
  { name: 'sac', config: { actorLoss: 'sac' } },
  {
    name: 'sac, α₀ 0.02, 3 hidden layers 32×24×16, 5 critics, batch 32',
    config: {
      actorLoss: 'sac',
      initTemperature: 0.02,
      hidden: [32, 24, 16],
      ensembleSize: 5,
      batchSize: 32,
      rewardScale: 10,
    },
  },
  { name: 'sac, clipped at 0.5', config: { actorLoss: 'sac', gradClip: 0.5 } },
  {
    name: 'sac+bc (CPQL normalisation, β decaying)',
    config: { actorLoss: 'sac+bc', bcDecaySteps: 15 },
  },
  { name: 'sac+bc without normalizeQ', config: { actorLoss: 'sac+bc', normalizeQ: false } },
  { name: 'bc', config: { actorLoss: 'bc' } },
] as const;

for (const { name, config } of cases) {
  test(`the native actor update is the TS learner's: ${name}`, { skip }, () => {
    const sac = makeSac(config as Partial<LearnerConfig>);
    try {
      const native = actorFromSac(actorClass(), sac);
      const check = (
        k: number,
        atol: number,
        ts: ReturnType<typeof step>['ts'],
        m: ReturnType<typeof step>['metrics'],
      ) => {
        const w = native.getWeights();
        const a = apart(
          w.actor,
          sac.actor.variables.map((v) => read(v).slice()),
        );
        const alpha = Math.abs(w.logAlpha - read(sac.logAlpha)[0]!);
        console.log(
          `# ${name}, ${k} update(s): max abs ${a.maxAbs.toExponential(2)}, max rel ${a.maxRel.toExponential(2)}, log α ${alpha.toExponential(2)}, grad norm ${ts.actor_grad_norm.toFixed(3)}`,
        );
        assert.ok(a.maxAbs <= atol, `after ${k}: ${a.worst}`);
        assert.ok(
          alpha <= atol,
          `after ${k}: log α ${w.logAlpha} against ${read(sac.logAlpha)[0]}`,
        );
        for (const key of [
          'actor_loss',
          'entropy',
          'bc_loss',
          'q_term_scale',
          'actor_grad_norm',
          'temperature',
        ] as const) {
          const d = Math.abs(m[key] - ts[key]) / Math.max(1, Math.abs(ts[key]));
          assert.ok(d <= 1e-5, `after ${k}: ${key} native ${m[key]}, TS ${ts[key]}`);
        }
      };
      const first = step(sac, native);
      check(1, ATOL_1, first.ts, first.metrics);
      let last = first;
      for (let k = 2; k <= 20; k++) last = step(sac, native);
      check(20, ATOL_20, last.ts, last.metrics);
      const adam = native.getAdam();
      assert.equal(adam.actor.step, sac.actorOptimizer.iterations);
      assert.equal(adam.alpha.step, sac.alphaOptimizer.iterations);
    } finally {
      sac.dispose();
    }
  });
}

test('ActorNative refuses bad calls clearly', { skip }, () => {
  const Ctor = actorClass();
  assert.throws(() => new Ctor({} as never), /ActorNative: obsDim is required/);
  const native = new Ctor({
    obsDim: 2,
    actionDim: 1,
    hidden: [3],
    logStd: [-5, 2],
    batch: 4,
    lr: 1e-3,
    targetEntropy: -0.5,
  });
  assert.deepEqual(native.shapes, [[2, 3], [3], [3, 1], [1], [3, 1], [1]]);
  assert.throws(() => native.sample(new Float32Array(2), new Float32Array(1)), /before setWeights/);
  assert.throws(() => native.setWeights([new Float32Array(6)], 0), /array of 6 Float32Arrays/);
  native.setWeights(
    native.shapes.map((s) => new Float32Array(s.reduce((a, b) => a * b, 1))),
    0,
  );
  assert.throws(() => native.update({ loss: 'bc' }), /before sample/);
  assert.throws(() => native.sample(new Float32Array(10 * 2), new Float32Array(10)), /1 … 4 rows/);
  native.sample(new Float32Array(2 * 2), new Float32Array(2));
  assert.throws(() => native.update({ loss: 'awr' as never }), /'awr' is not native/);
  assert.throws(() => native.update({ loss: 'sac' }), /q must be a Float32Array/);
  native.update({ loss: 'bc', beta: 1, action: new Float32Array(2), fromOnline: 1 });
  assert.throws(() => native.update({ loss: 'bc' }), /one sample per update/);
});
