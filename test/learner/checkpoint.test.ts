import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test, type TestContext } from 'node:test';
import { chooseBackend } from '../../src/learner/backend.ts';
import {
  type Checkpoint,
  CheckpointError,
  checkBuffers,
  checkpointOf,
  loadLearner,
  parseCheckpoint,
  restoreCheckpoint,
} from '../../src/learner/checkpoint.ts';
import { LearnerConfig } from '../../src/learner/config.ts';
import {
  actorNativeClass,
  criticEnsembleClass,
  loadNativeLearner,
} from '../../src/learner/native-addon.ts';
import { type UpdateMetrics, Sac } from '../../src/learner/sac.ts';
import { Store } from '../../src/store/index.ts';
import { Random } from '../../src/util/random.ts';
import { createTestRun, tempDir } from '../store/helpers.ts';

const OBS = 6;
const ACT = 2;
const TOLERANCE = 1e-5;
/** Updates before the checkpoint: enough for Adam's moments and β's decay to matter. */
const K = 6;

// Small nets; sac+bc and utd 2 so that every piece of state (BC schedule, several critic updates
// per step, the generator) is exercised; the online ring wraps (capacity 150 < 200 transitions).
const CONFIG = LearnerConfig.parse({
  hidden: [32, 32],
  batchSize: 32,
  utd: 2,
  actorLoss: 'sac+bc',
  bcDecaySteps: 50,
  lr: 1e-3,
  onlineCapacity: 150,
  demoCapacity: 500,
  seed: 11,
});

interface Row {
  obs: Float32Array;
  action: Float32Array;
  reward: number;
  nextObs: Float32Array;
  done: boolean;
}

function transitions(seed: number, n: number): Row[] {
  const rng = new Random(seed);
  const vec = (k: number, scale: number) =>
    Float32Array.from({ length: k }, () => rng.uniform(-scale, scale));
  return Array.from({ length: n }, () => ({
    obs: vec(OBS, 2),
    action: vec(ACT, 1),
    reward: rng.normal(),
    nextObs: vec(OBS, 2),
    done: rng.next() < 0.05,
  }));
}
const ONLINE = transitions(101, 200);
const DEMO = transitions(202, 120);
const PROBE_OBS = Float32Array.from(transitions(303, 5).flatMap((t) => [...t.obs]));

function fill(sac: Sac): void {
  for (const t of ONLINE) sac.online.add(t);
  for (const t of DEMO) sac.demo.add(t);
}

/** Every parameter of the learner, in checkpoint order. */
function weightsOf(sac: Sac): Float32Array[] {
  const vars = [
    ...sac.actor.variables,
    ...sac.critics.flatMap((c) => c.variables),
    ...sac.targets.flatMap((c) => c.variables),
    sac.logAlpha,
  ];
  return vars.map((v) => (v.dataSync() as Float32Array).slice());
}

function maxDiff(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  assert.equal(a.length, b.length);
  let max = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    assert.equal(x.length, y.length);
    for (let j = 0; j < x.length; j++) max = Math.max(max, Math.abs(x[j]! - y[j]!));
  });
  return max;
}

function metricDiffs(a: UpdateMetrics, b: UpdateMetrics): Record<string, number> {
  return Object.fromEntries(
    Object.keys(a).map((k) => {
      const x = a[k as keyof UpdateMetrics] ?? Number.NaN;
      const y = b[k as keyof UpdateMetrics] ?? Number.NaN;
      return [
        k,
        Number.isNaN(x) && Number.isNaN(y) ? 0 : Math.abs(x - y) / Math.max(1, Math.abs(x)),
      ];
    }),
  );
}

function openStore(t: TestContext): Store {
  const store = Store.open(join(tempDir(t), 'tandem.db'));
  t.after(() => store.close());
  return store;
}

/**
 * A learner, disposed when the test ends if not before. Sac's variable names are fixed, so only
 * one can exist at a time: tests dispose each before making the next.
 */
function learner(t: TestContext, config: LearnerConfig = CONFIG, obsDim = OBS): Sac {
  const sac = new Sac(obsDim, ACT, config);
  let disposed = false;
  const dispose = sac.dispose.bind(sac);
  sac.dispose = () => {
    if (!disposed) dispose();
    disposed = true;
  };
  t.after(() => sac.dispose());
  return sac;
}

/** A checkpoint of a learner trained `updates` steps (the learner is disposed). */
async function trainedCheckpoint(updates = 2): Promise<Checkpoint> {
  const sac = new Sac(OBS, ACT, CONFIG);
  try {
    fill(sac);
    for (let k = 0; k < updates; k++) sac.update();
    return await checkpointOf(sac);
  } finally {
    sac.dispose();
  }
}

const rejects = (promise: Promise<unknown>, message: RegExp) =>
  assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CheckpointError, `not a CheckpointError: ${String(err)}`);
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });

before(async () => {
  await chooseBackend();
});

test('a learner restored from SQLite continues exactly like the original', async (t) => {
  const store = openStore(t);
  const runId = createTestRun(store, OBS, ACT);

  // Learner A: K updates, checkpoint into SQLite, one more update.
  const a = learner(t);
  fill(a);
  for (let k = 0; k < K; k++) a.update();
  const ckpt = await checkpointOf(a);
  assert.equal(ckpt.meta.steps, K);
  assert.equal(ckpt.meta.optimizers.criticOptimizer.iterations, K * CONFIG.utd);
  assert.equal(ckpt.meta.buffers.online.cursor, 50);
  const id = store.saveCheckpoint(runId, a.steps, ckpt.meta, ckpt.payload);
  const atCheckpoint = weightsOf(a);
  const mA = a.update(true)!;
  const wA = weightsOf(a);
  const meanA = a.act(PROBE_OBS, true);
  const sampleA = a.act(PROBE_OBS, false);
  a.dispose(); // Sac's variable names are fixed: two learners cannot exist at once

  // Learner B: another seed, so that nothing is equal by accident.
  const b = learner(t, { ...CONFIG, seed: 99 });
  assert.ok(maxDiff(weightsOf(b), atCheckpoint) > 0.01, 'a fresh learner starts elsewhere');
  const row = store.latestCheckpoint(runId);
  assert.ok(row);
  assert.equal(row.id, id);
  const report = await restoreCheckpoint(b, row);
  assert.deepEqual(report.configChanges, []);
  assert.equal(maxDiff(weightsOf(b), atCheckpoint), 0, 'the restored weights are bit-exact');
  assert.equal(b.steps, K);
  fill(b);
  checkBuffers(b, report.meta);
  const mB = b.update(true)!;

  const diffs = metricDiffs(mA, mB);
  const worst = Math.max(...Object.values(diffs));
  const weights = maxDiff(wA, weightsOf(b));
  const mean = maxDiff([meanA], [b.act(PROBE_OBS, true)]);
  const sampled = maxDiff([sampleA], [b.act(PROBE_OBS, false)]);
  t.diagnostic(
    `largest differences: metric ${worst}, weight ${weights}, mean action ${mean}, sampled action ${sampled}`,
  );
  for (const [name, d] of Object.entries(diffs))
    assert.ok(d <= TOLERANCE, `${name} differs by ${d}`);
  assert.equal(mB.step, K + 1);
  assert.ok(weights <= TOLERANCE, `weights differ by ${weights}`);
  assert.ok(mean <= TOLERANCE, `mean actions differ by ${mean}`);
  assert.ok(sampled <= TOLERANCE, `sampled actions differ by ${sampled}`);

  // The control: a learner that was not restored (even with A's own seed) ends elsewhere, so
  // the comparisons above can fail.
  b.dispose();
  const fresh = learner(t);
  fill(fresh);
  const mFresh = fresh.update(true)!;
  assert.ok(maxDiff(wA, weightsOf(fresh)) > 1e-3, 'an unrestored learner has other weights');
  assert.ok(maxDiff([meanA], [fresh.act(PROBE_OBS, true)]) > 1e-4, 'and other actions');
  assert.ok(Math.abs(mFresh.critic_loss - mA.critic_loss) > 1e-4, 'and other metrics');
});

test('loadLearner builds the learner from the stored dims and config, by run or by id', async (t) => {
  const store = openStore(t);
  const runId = createTestRun(store, OBS, ACT);
  const early = await trainedCheckpoint(1);
  const late = await trainedCheckpoint(3);
  const earlyId = store.saveCheckpoint(runId, early.meta.steps, early.meta, early.payload);
  store.saveCheckpoint(runId, late.meta.steps, late.meta, late.payload);

  const latest = await loadLearner(store, { runId });
  try {
    assert.equal(latest.steps, 3);
    assert.deepEqual(latest.config, CONFIG);
    assert.equal(latest.config.gradClip, Number.POSITIVE_INFINITY, 'Infinity survives JSON');
    assert.deepEqual(weightsOf(latest), weightsOfCheckpoint(late));
  } finally {
    latest.dispose();
  }
  const byId = await loadLearner(store, { checkpointId: earlyId });
  byId.dispose();
  assert.equal(byId.steps, 1);

  await rejects(loadLearner(store, { runId: runId + 1 }), /^run \d+ has no checkpoint in /);
  await rejects(loadLearner(store, { checkpointId: 999 }), /^there is no checkpoint 999 in /);
});

/** The parameter values a checkpoint holds, in checkpoint order. */
function weightsOfCheckpoint(ckpt: Checkpoint): Float32Array[] {
  const { meta, data } = parseCheckpoint(ckpt.payload);
  return meta.tensors
    .filter((e) => ['actor', 'critics', 'targets', 'logAlpha'].includes(e.group))
    .map((e) => data.slice(e.offset, e.offset + e.shape.reduce((x, y) => x * y, 1)));
}

test('restoring into a learner of other dims or hidden sizes fails clearly and changes nothing', async (t) => {
  const ckpt = await trainedCheckpoint();
  {
    const wide = learner(t, CONFIG, OBS + 1);
    const before = weightsOf(wide);
    await rejects(
      restoreCheckpoint(wide, ckpt),
      /^checkpoint is for obs 6 \/ action 2, this learner has obs 7 \/ action 2$/,
    );
    assert.equal(maxDiff(weightsOf(wide), before), 0);
    assert.equal(wide.steps, 0);
    wide.dispose();
  }
  {
    const big = learner(t, { ...CONFIG, hidden: [64, 32] });
    await rejects(
      restoreCheckpoint(big, ckpt),
      /^checkpoint has hidden \[32,32\], this learner has \[64,32\]$/,
    );
    big.dispose();
  }
  {
    const ensemble = learner(t, { ...CONFIG, ensembleSize: 3 });
    await rejects(
      restoreCheckpoint(ensemble, ckpt),
      /^checkpoint has ensembleSize 2, this learner has 3$/,
    );
    ensemble.dispose();
  }
  {
    // A tensor whose recorded shape is wrong (same size, transposed) is named.
    const tampered = withMeta(ckpt, (meta) => {
      meta.tensors[0]!.shape = [32, OBS];
    });
    const sac = learner(t);
    await rejects(
      restoreCheckpoint(sac, tampered),
      /^checkpoint actor tensor 0 has shape \[32, 6\], this learner's has \[6, 32\]$/,
    );
    // Other config changes are allowed and reported; the seed is not one of them.
    const report = await restoreCheckpoint(sac, {
      payload: withMeta(ckpt, (meta) => {
        meta.config.lr = 5e-4;
        meta.config.seed = 12345;
      }).payload,
    });
    assert.deepEqual(report.configChanges, ['lr: 0.0005 in the checkpoint, 0.001 in this learner']);
    sac.dispose();
  }
});

/** The checkpoint with its meta edited (in the payload's header too), data unchanged. */
function withMeta(ckpt: Checkpoint, edit: (meta: Checkpoint['meta']) => void): Checkpoint {
  const meta = structuredClone(ckpt.meta);
  edit(meta);
  const headerBytes = ckpt.payload.readUInt32LE(12);
  const data = ckpt.payload.subarray(16 + headerBytes);
  let header = Buffer.from(JSON.stringify(meta));
  header = Buffer.concat([header, Buffer.alloc((4 - (header.length % 4)) % 4, 0x20)]);
  const prefix = Buffer.from(ckpt.payload.subarray(0, 16));
  prefix.writeUInt32LE(header.length, 12);
  return { meta, payload: Buffer.concat([prefix, header, data]) };
}

test('a truncated or corrupt payload fails clearly and changes nothing', async (t) => {
  const ckpt = await trainedCheckpoint();
  const sac = learner(t);
  const before = weightsOf(sac);
  const { payload } = ckpt;
  const n = payload.length;
  await rejects(
    restoreCheckpoint(sac, { payload: payload.subarray(0, n - 100) }),
    new RegExp(`^checkpoint payload is truncated: ${n - 100} bytes, its header says ${n}$`),
  );
  await rejects(
    restoreCheckpoint(sac, { payload: payload.subarray(0, 40) }),
    /^checkpoint payload is truncated: 40 bytes, its header alone needs \d+$/,
  );
  await rejects(
    restoreCheckpoint(sac, { payload: payload.subarray(0, 10) }),
    /^checkpoint payload is truncated: 10 bytes/,
  );
  const flipped = Buffer.from(payload);
  flipped[n - 7]! ^= 0x10;
  await rejects(
    restoreCheckpoint(sac, { payload: flipped }),
    /^checkpoint payload is corrupt: its data does not match its checksum$/,
  );
  const future = Buffer.from(payload);
  future.writeUInt32LE(2, 8);
  await rejects(
    restoreCheckpoint(sac, { payload: future }),
    /^checkpoint format version 2 is newer than the one this Tandem reads \(1\)$/,
  );
  await rejects(
    restoreCheckpoint(sac, { payload: Buffer.from('not a checkpoint at all') }),
    /^checkpoint payload is not a Tandem learner checkpoint/,
  );
  await rejects(
    restoreCheckpoint(sac, { meta: { ...ckpt.meta, steps: 1 }, payload }),
    /^checkpoint meta does not match the meta inside its payload$/,
  );
  assert.equal(maxDiff(weightsOf(sac), before), 0);
  assert.equal(sac.steps, 0);

  // Through SQLite too: a stored payload cut short is refused by loadLearner.
  const store = openStore(t);
  const runId = createTestRun(store, OBS, ACT);
  store.saveCheckpoint(runId, 2, ckpt.meta, payload.subarray(0, n - 4));
  sac.dispose();
  await rejects(loadLearner(store, { runId }), /^checkpoint payload is truncated: /);
});

test('a restore that does not take (LeRobot re-initialised the actor) throws', async (t) => {
  const ckpt = await trainedCheckpoint();
  const sac = learner(t);
  // Simulate a resume path that silently keeps the fresh actor: one actor variable ignores assign.
  const v = sac.actor.variables[2]! as unknown as { assign: (x: unknown) => void };
  v.assign = () => undefined;
  await rejects(
    restoreCheckpoint(sac, ckpt),
    /^after the restore, the actor weights differ from the checkpoint's: the restore did not take$/,
  );
  delete (v as { assign?: unknown }).assign;
  await restoreCheckpoint(sac, ckpt); // the same learner restores once assign works again
});

test('a learner whose optimizers never stepped checkpoints and restores', async (t) => {
  const ckpt = await trainedCheckpoint(0);
  assert.equal(ckpt.meta.optimizers.actorOptimizer.moments, 0);
  assert.equal(ckpt.meta.tensors.filter((e) => e.group.includes('.')).length, 0);
  const sac = learner(t, { ...CONFIG, seed: 5 });
  await restoreCheckpoint(sac, ckpt);
  assert.deepEqual(weightsOf(sac), weightsOfCheckpoint(ckpt));
  fill(sac);
  sac.update(); // the optimizers create their moments as usual
  const again = await checkpointOf(sac);
  assert.equal(again.meta.optimizers.actorOptimizer.moments, sac.actor.variables.length);
});

// Native critics (the addon's CriticEnsemble) and tfjs ones keep the same checkpoint: one taken
// on either restores into both, and the next updates agree within float32 rounding.
const native = loadNativeLearner();
const nativeMissing = !native.ok
  ? native.reason
  : criticEnsembleClass(native.addon)
    ? undefined
    : `${native.path} has no CriticEnsemble (an old build?): npm run build:native`;
/** Skipped without the addon, except on CI, where its absence fails. */
const skipNative =
  nativeMissing && !process.env.CI ? `native addon not available: ${nativeMissing}` : false;

/** Critics' and targets' weights, the critic moments, and the actor's (checkpoint order). */
function criticStateOf(sac: Sac): Float32Array[] {
  const moments = sac.criticOptimizer.moments!;
  return [
    ...weightsOf(sac),
    ...moments.m.map((a) => a.slice()),
    ...moments.v.map((a) => a.slice()),
  ];
}

for (const from of ['native', 'tfjs'] as const) {
  test(
    `a checkpoint from ${from} critics restores into native and tfjs critics alike`,
    { skip: skipNative },
    async (t) => {
      if (nativeMissing) assert.fail(`the native addon is required on CI: ${nativeMissing}`);
      const source = learner(t, { ...CONFIG, critics: from, actor: 'tfjs' });
      assert.equal(source.criticBackend, from);
      fill(source);
      for (let k = 0; k < K; k++) source.update();
      const ckpt = await checkpointOf(source);
      const saved = weightsOfCheckpoint(ckpt);
      source.dispose();

      const after: Record<string, Float32Array[]> = {};
      for (const into of ['native', 'tfjs'] as const) {
        const sac = learner(t, { ...CONFIG, critics: into, actor: 'tfjs', seed: 99 });
        assert.equal(sac.criticBackend, into);
        await restoreCheckpoint(sac, ckpt);
        assert.equal(maxDiff(weightsOf(sac), saved), 0, `restored into ${into}: bit-exact`);
        fill(sac);
        checkBuffers(sac, ckpt.meta);
        for (let k = 0; k < 2; k++) sac.update();
        after[into] = criticStateOf(sac);
        sac.dispose();
      }
      const diff = maxDiff(after.native!, after.tfjs!);
      t.diagnostic(`largest difference after 2 updates, native vs tfjs: ${diff}`);
      assert.ok(diff <= TOLERANCE, `native and tfjs critics differ by ${diff}`);
    },
  );
}

/** Every weight and every moment (the critics', the actor's, log α's), and the step counts. */
function learnerStateOf(sac: Sac): Float32Array[] {
  const moments = [sac.actorOptimizer, sac.alphaOptimizer].flatMap((o) => {
    const m = o.moments!;
    return [...m.m, ...m.v].map((a) => a.slice());
  });
  return [
    ...criticStateOf(sac),
    ...moments,
    Float32Array.of(sac.actorOptimizer.iterations, sac.alphaOptimizer.iterations, sac.actorUpdates),
  ];
}

// The native actor (the addon's ActorNative, on native critics) and the tfjs one likewise.
const actorMissing =
  nativeMissing ??
  (native.ok && !actorNativeClass(native.addon)
    ? `${native.path} has no ActorNative (an old build?): npm run build:native`
    : undefined);
const skipActor =
  actorMissing && !process.env.CI ? `native addon not available: ${actorMissing}` : false;

for (const from of ['native', 'tfjs'] as const) {
  test(
    `a checkpoint from the ${from} actor restores into the native and the tfjs actor alike`,
    { skip: skipActor },
    async (t) => {
      if (actorMissing) assert.fail(`the native addon is required on CI: ${actorMissing}`);
      const config = (actor: 'native' | 'tfjs', seed = CONFIG.seed) =>
        ({ ...CONFIG, critics: 'native', actor, seed }) as const;
      const source = learner(t, config(from));
      assert.equal(source.actorBackend, from);
      fill(source);
      for (let k = 0; k < K; k++) source.update();
      const ckpt = await checkpointOf(source);
      const saved = weightsOfCheckpoint(ckpt);
      assert.equal(maxDiff(weightsOf(source), saved), 0, 'the checkpoint holds the current actor');
      source.dispose();

      const after: Record<string, Float32Array[]> = {};
      for (const into of ['native', 'tfjs'] as const) {
        const sac = learner(t, config(into, 99));
        assert.equal(sac.actorBackend, into);
        await restoreCheckpoint(sac, ckpt);
        assert.equal(maxDiff(weightsOf(sac), saved), 0, `restored into ${into}: bit-exact`);
        fill(sac);
        checkBuffers(sac, ckpt.meta);
        for (let k = 0; k < 2; k++) sac.update();
        after[into] = learnerStateOf(sac);
        sac.dispose();
      }
      const diff = maxDiff(after.native!, after.tfjs!);
      t.diagnostic(`largest difference after 2 updates, native vs tfjs actor: ${diff}`);
      assert.ok(diff <= TOLERANCE, `native and tfjs actors differ by ${diff}`);
    },
  );
}
