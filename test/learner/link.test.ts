import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LearnerLink, packTransitions } from '../../src/learner/link.ts';
import type { PolicyWeights } from '../../src/learner/messages.ts';
import { Random } from '../../src/util/random.ts';

const OBS = 4;
const ACT = 2;
const CONFIG = { hidden: [32, 32], batchSize: 32, seed: 9 };

function batch(seed: number, n: number) {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('learner worker, free-running', () => {
  let link: LearnerLink;
  const published: PolicyWeights[] = [];
  before(async () => {
    link = await LearnerLink.start({
      obsDim: OBS,
      actionDim: ACT,
      config: CONFIG,
      onWeights: (w) => published.push(w),
    });
  });
  after(() => link.close());

  it('trains on demos alone and publishes weights every N learner steps', async () => {
    link.add('demo', batch(1, 200));
    link.run({ publishEverySteps: 5, publishEveryMs: 60_000 });
    await until('3 publications', () => published.length >= 3);
    const versions = published.map((w) => w.version);
    assert.deepEqual(
      versions.slice(0, 3),
      [5, 10, 15],
      `published at learner steps ${versions.join(', ')}`,
    );
    assert.notDeepEqual(published[0]!.tensors[0]!.data, published[2]!.tensors[0]!.data);
    assert.equal(link.backlog, 0);
  });

  it('stops at pause, and publishes nothing after it', async () => {
    const stoppedAt = await link.pause();
    const count = published.length;
    await sleep(300);
    assert.equal(published.length, count, 'no weights after pause');
    assert.ok(stoppedAt >= 15);
    // Lock-step training goes on from where it stopped.
    const weights = await link.train(2);
    assert.equal(weights.version, stoppedAt + 2);
  });

  it('keeps to the cap of learner steps per online transition', async () => {
    const from = await link.pause();
    link.run({ publishEverySteps: 1, maxStepsPerTransition: 3 });
    const count = published.length;
    await sleep(200);
    assert.equal(published.length, count, 'no step before an online transition');
    link.add('online', batch(2, 10));
    await until('30 capped steps', () => (published.at(-1)?.version ?? 0) >= from + 30);
    await sleep(300);
    assert.equal(published.at(-1)!.version, from + 30, 'no step past 3 per online transition');
    link.add('online', batch(3, 5));
    await until('15 more', () => published.at(-1)!.version >= from + 45);
    await sleep(300);
    assert.equal(published.at(-1)!.version, from + 45);
    await link.pause();
  });

  it('a lock-step train request while free-running is refused, and the link stays usable', async () => {
    link.run({});
    await assert.rejects(link.train(1), /while the learner is free-running: pause first/);
    await link.pause();
    assert.ok((await link.train(1)).version > 0);
  });
});

describe('learner worker, checkpoint and restore', () => {
  it('a learner restored from a worker checkpoint, buffers refilled, takes the same next step', async () => {
    const a = await LearnerLink.start({
      obsDim: OBS,
      actionDim: ACT,
      config: { ...CONFIG, utd: 2 },
    });
    let b: LearnerLink | undefined;
    try {
      a.add('demo', batch(4, 100));
      a.add('online', batch(5, 60));
      await a.train(7);
      const checkpoint = await a.checkpoint();
      assert.equal(checkpoint.steps, 7);
      // A different config is ignored: the checkpoint's wins.
      b = await LearnerLink.start({
        obsDim: OBS,
        actionDim: ACT,
        config: { hidden: [8] },
        checkpoint: checkpoint.payload,
      });
      assert.equal(b.startSteps, 7);
      assert.deepEqual(b.config.hidden, [32, 32]);
      await assert.rejects(b.checkBuffers(), /refilled online buffer has capacity \d+, size 0/);
      b.add('demo', batch(4, 100));
      b.add('online', batch(5, 60));
      await b.checkBuffers();
      const [wa, wb] = await Promise.all([a.train(3), b.train(3)]);
      assert.equal(wb.version, 10);
      wa.tensors.forEach((t, i) => {
        const u = wb.tensors[i]!.data;
        const diff = Math.max(...t.data.map((x, j) => Math.abs(x - u[j]!)));
        assert.ok(diff <= 1e-6, `actor tensor ${i} differs by ${diff}`);
      });
    } finally {
      await a.close();
      await b?.close();
    }
  });

  it('a checkpoint for other dims is refused at start with the reason', async () => {
    const a = await LearnerLink.start({ obsDim: OBS, actionDim: ACT, config: CONFIG });
    try {
      const { payload } = await a.checkpoint();
      await assert.rejects(
        LearnerLink.start({ obsDim: OBS + 1, actionDim: ACT, config: {}, checkpoint: payload }),
        /checkpoint is for obs 4, action 2; this task has obs 5, action 2/,
      );
    } finally {
      await a.close();
    }
  });
});

describe('learner worker, actor loss switch', () => {
  it('BC-warmup to sac+bc: β starts again at its full weight, and a checkpoint keeps where', async () => {
    const link = await LearnerLink.start({
      obsDim: OBS,
      actionDim: ACT,
      config: { ...CONFIG, actorLoss: 'bc', bcWeight: 0.5, bcDecaySteps: 100 },
      metricsEvery: 1,
      onMetrics: (m) => metrics.push(m),
    });
    const metrics: Record<string, number>[] = [];
    try {
      link.add('demo', batch(6, 100));
      await link.train(20);
      assert.equal(metrics.at(-1)!.bc_weight, 1, 'bc: the BC term alone');
      link.setActorLoss('sac+bc');
      await link.train(10);
      // β decays linearly from 0.5 over 100 actor updates counted from the switch, not from 0.
      const beta = metrics.at(-1)!.bc_weight!;
      // (counted from 0 it would be 0.35)
      assert.ok(Math.abs(beta - 0.45) < 1e-9, `β after 10 updates of sac+bc: ${beta}`);
      const { meta } = await link.checkpoint();
      assert.equal((meta.config as { actorLoss: string }).actorLoss, 'sac+bc');
      assert.equal(meta.bcFrom, 20);
    } finally {
      await link.close();
    }
  });
});
