import assert from 'node:assert/strict';
import { agreement, formatAgreement as fmt } from './agreement.ts';
import { fillBuffers } from './batches.ts';
import { before, test } from 'node:test';
import { chooseBackend, nativeUnusable } from '../../src/learner/backend.ts';
import { type ActorLoss, LearnerConfig } from '../../src/learner/config.ts';
import { read } from '../../src/learner/heap.ts';
import { Sac } from '../../src/learner/sac.ts';

// Whole learners on the native addon against the same learners on tfjs: two Sacs with the same
// config and seed (so the same initial weights and the same generator draws), one on tfjs critics
// and actor, the other on native critics and actor (awr: native critics and the tfjs actor, as
// 'auto' places it; E = 2 also runs native critics with the tfjs actor for every loss), take the
// same rows and run whole learner steps side by side. After 1 and after 100 steps every parameter
// (actor, critics, targets, log α) must agree, the generators must have drawn the same, and the
// steps' figures must agree loosely; where the tolerances below are the one-step ones, the
// three Adams' steps and moments must agree too. Every actor loss, with and without LayerNorm,
// E = 2 and 10; and, over 10 steps, utd 3 with clipped gradients (the Sac's wiring for several
// critic updates per step). The tfjs side is on whichever backend chooseBackend loads.
//
// Tolerances (native-critic.test.ts "Tolerances." has the measurements): after 1 step both
// sides hold the same float32 math summed in a different order, a few ulps apart, so each element
// within 1e-5 + 1e-4·|tfjs|. Without LayerNorm that still holds after 100 steps. With it, a
// rounding difference that moves a pre-activation across the ReLU's kink changes that row's
// gradient, LayerNorm spreads it over the layer and Adam turns it into a step difference of a
// fraction of lr, so the trajectories separate slowly: after 100 steps each element within 0.02
// (≈ 65·lr) and each variable's separation under 15 % of how far training moved it.

const unusable = nativeUnusable();
/** Skipped without the addon, except on CI, where its absence fails. */
const skip = !unusable || process.env.CI ? false : `native addon not available: ${unusable}`;
if (skip) console.log(`# skipping the native agreement tests: ${skip}`);

before(async () => {
  await chooseBackend();
});

const OBS = 6;
const ACT = 4;
const ATOL = 1e-5;
const RTOL = 1e-4;
const LN_ATOL_100 = 0.02;
const LN_DRIFT_100 = 0.15;
const METRICS_RTOL = 1e-4;
const LN_METRICS_RTOL_100 = 0.02;

/** A learner with both buffers filled with the same rows whatever its settings. */
function filledSac(options: Partial<LearnerConfig>): Sac {
  const config = LearnerConfig.parse({
    hidden: [32, 32],
    batchSize: 32,
    utd: 1,
    actorEvery: 1,
    bcDecaySteps: 50, // β decays to 0 within the 100 steps
    threads: 1,
    seed: 7,
    ...options,
  });
  const sac = new Sac(OBS, ACT, config);
  fillBuffers(sac);
  return sac;
}

/** Every parameter, named: the actor's variables, the critics', the targets', log α. */
function parameters(sac: Sac): [string, Float32Array][] {
  const nets = (what: string, critics: typeof sac.critics) =>
    critics.flatMap((q, e) =>
      q.variables.map((v, k): [string, Float32Array] => [`${what} ${e}[${k}]`, read(v).slice()]),
    );
  return [
    ...sac.actor.variables.map((v, k): [string, Float32Array] => [`actor[${k}]`, read(v).slice()]),
    ...nets('critic', sac.critics),
    ...nets('target', sac.targets),
    ['log α', read(sac.logAlpha).slice()],
  ];
}

/** The three Adams' steps and moments, named: the critics', the actor's, log α's. */
function optimizers(sac: Sac) {
  const adams = [
    ['critic', sac.criticOptimizer],
    ['actor', sac.actorOptimizer],
    ['log α', sac.alphaOptimizer],
  ] as const;
  return adams.map(([name, adam]) => ({
    name,
    step: adam.iterations,
    m: adam.moments?.m.map((x) => x.slice()) ?? [],
    v: adam.moments?.v.map((x) => x.slice()) ?? [],
  }));
}

/** The moments, each variable's against its largest (single elements may cancel to ~0). */
function assertSameAdams(got: Sac, want: Sac, at: string): void {
  const theirs = optimizers(want);
  optimizers(got).forEach(({ name, step, m, v }, k) => {
    const t = theirs[k]!;
    assert.equal(step, t.step, `${at}: ${name} Adam steps`);
    for (const [which, mine, ref] of [
      ['m', m, t.m],
      ['v', v, t.v],
    ] as const) {
      assert.equal(mine.length, ref.length, `${at}: ${name} Adam ${which}`);
      ref.forEach((r, j) => {
        const scale = r.reduce((s, x) => Math.max(s, Math.abs(x)), 0);
        const apart = r.reduce((s, x, i) => Math.max(s, Math.abs(mine[j]![i]! - x)), 0);
        assert.ok(apart <= 1e-4 * scale, `${at}: ${name} Adam ${which}[${j}] ${apart} of ${scale}`);
      });
    }
  });
}

type Side = { critics: 'native'; actor: 'auto' | 'tfjs' };

/**
 * Runs a tfjs Sac and one Sac per side on `config` side by side for `checks.at(-1)` steps, and
 * compares them after each of `checks`; `strictAfter(step)`: the one-step tolerances there.
 */
function sideBySide(
  name: string,
  config: Partial<LearnerConfig>,
  sides: Side[],
  checks: number[],
  strictAfter: (step: number) => boolean,
): void {
  const ts = filledSac({ ...config, critics: 'tfjs', actor: 'tfjs' });
  const natives = sides.map((side) => filledSac({ ...config, ...side }));
  try {
    assert.equal(ts.criticBackend, 'tfjs');
    assert.equal(ts.actorBackend, 'tfjs');
    natives.forEach((sac, k) => {
      assert.equal(sac.criticBackend, 'native');
      const nativeActor = sides[k]!.actor === 'auto' && sac.config.actorLoss !== 'awr';
      assert.equal(sac.actorBackend, nativeActor ? 'native' : 'tfjs');
    });
    const start = parameters(ts);
    natives.forEach((sac) => assert.deepEqual(parameters(sac), start, 'the same start'));
    for (let step = 1; step <= checks.at(-1)!; step++) {
      const check = checks.includes(step);
      const want = ts.update(check)!;
      const gots = natives.map((sac) => sac.update(check)!);
      if (!check) continue;
      const strict = strictAfter(step);
      const expected = parameters(ts);
      natives.forEach((sac, k) => {
        const at = `${name}, native critics, ${sac.actorBackend} actor, after ${step}`;
        assert.equal(sac.rng.state, ts.rng.state, `${at}: the same draws`);
        const a = agreement(parameters(sac), expected, start, ATOL, RTOL);
        console.log(`# ${at}: ${fmt(a)}`);
        if (strict) {
          assert.equal(a.outside, 0, `${at}: ${a.outside} elements off; ${a.worst}`);
          assertSameAdams(sac, ts, at);
        } else {
          assert.ok(a.maxAbs <= LN_ATOL_100, `${at}: ${fmt(a)}`);
          assert.ok(a.drift <= LN_DRIFT_100, `${at}: ${fmt(a)}`);
        }
        const tol = strict ? METRICS_RTOL : LN_METRICS_RTOL_100;
        const got = gots[k]!;
        assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), at);
        for (const [metric, x] of Object.entries(want)) {
          const y = got[metric as keyof typeof got]!;
          const d = Math.abs(x - y) / Math.max(1, Math.abs(x));
          assert.ok(d <= tol, `${at}: ${metric} native ${y}, tfjs ${x}`);
        }
      });
    }
  } finally {
    ts.dispose();
    natives.forEach((sac) => sac.dispose());
  }
}

const LOSSES: ActorLoss[] = ['sac', 'sac+bc', 'bc', 'awr'];
const NATIVE: Side = { critics: 'native', actor: 'auto' };
const NATIVE_CRITICS: Side = { critics: 'native', actor: 'tfjs' };

for (const actorLoss of LOSSES) {
  for (const criticLayerNorm of [true, false]) {
    for (const ensembleSize of [2, 10]) {
      const name = `${actorLoss}, ${criticLayerNorm ? 'LayerNorm' : 'no LayerNorm'}, E=${ensembleSize}`;
      test(`Sac on native is Sac on tfjs over 1 and 100 steps: ${name}`, { skip }, () => {
        if (unusable) assert.fail(`the native addon is required on CI: ${unusable}`);
        // awr's actor is tfjs with 'auto' too; E = 2 also runs the native critics alone
        const sides =
          ensembleSize === 2 && actorLoss !== 'awr' ? [NATIVE, NATIVE_CRITICS] : [NATIVE];
        const config = { actorLoss, criticLayerNorm, ensembleSize, minSubset: 2 };
        sideBySide(name, config, sides, [1, 100], (step) => step === 1 || !criticLayerNorm);
      });
    }
  }
}

// Several critic updates per step (the actor's pass is the last one's) and clipped gradients:
// 30 critic updates, short of where LayerNorm's trajectories come apart.
for (const actorLoss of LOSSES) {
  const name = `${actorLoss}, LayerNorm, E=4, utd 3, clipped at 5`;
  test(`Sac on native is Sac on tfjs over 10 steps: ${name}`, { skip }, () => {
    if (unusable) assert.fail(`the native addon is required on CI: ${unusable}`);
    const sides = actorLoss === 'awr' ? [NATIVE] : [NATIVE, NATIVE_CRITICS];
    const config = {
      actorLoss,
      ensembleSize: 4,
      minSubset: 2,
      utd: 3,
      gradClip: 5,
      bcDecaySteps: 3,
    };
    sideBySide(name, config, sides, [1, 10], () => true);
  });
}
