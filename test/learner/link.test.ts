import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type LearnerPace, LearnerLink } from '../../src/learner/link.ts';
import type { PolicyWeights } from '../../src/learner/messages.ts';
import { ACT, batch, OBS } from './batches.ts';

const CONFIG = { hidden: [32, 32], batchSize: 32, seed: 9 };

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// Every wait here is for a report or an answer from the worker; none sleeps for something not to
// happen. (The pace bound itself, steps per online transition, is test/learner/pace.test.ts.)
describe('learner worker, free-running', () => {
  let link: LearnerLink;
  const published: PolicyWeights[] = [];
  const idles: LearnerPace[] = [];
  before(async () => {
    link = await LearnerLink.start({
      obsDim: OBS,
      actionDim: ACT,
      config: CONFIG,
      onWeights: (w) => published.push(w),
      onIdle: (p) => idles.push(p),
    });
  });
  after(() => link.close());

  it('trains on an online transition, over the demos, and publishes weights every N learner steps', async () => {
    link.add('demo', batch(1, 200));
    link.run({ publishEverySteps: 5, publishEveryMs: 60_000 });
    link.add('online', batch(2, 1)); // 20 learner steps' credit (the default bound)
    // Idle once the credit is spent: the weights it published on the way arrived before that.
    await until('the worker idle at step 20', () => idles.some((p) => p.steps === 20));
    assert.deepEqual(
      published.map((w) => w.version),
      [5, 10, 15, 20],
    );
    assert.notDeepEqual(published[0]!.tensors[0]!.data, published[2]!.tensors[0]!.data);
    assert.equal(link.backlog, 0);
  });

  it('stops at pause, and takes no step and publishes nothing after it', async () => {
    const stoppedAt = await link.pause();
    assert.equal(stoppedAt, 20);
    const count = { published: published.length, idles: idles.length };
    // Online transitions would give a free-running worker credit for 20 more steps.
    link.add('online', batch(3, 1));
    // Answered in order: a worker still free-running would refuse a lock-step request, and a step
    // taken in between would show in the versions.
    const weights = await link.train(2);
    assert.equal(
      weights.version,
      stoppedAt + 2,
      'lock-step training goes on from where it stopped',
    );
    assert.equal((await link.checkpoint()).steps, stoppedAt + 2, 'no step after it either');
    // Reports sent before these answers have arrived before them.
    assert.equal(published.length, count.published, 'no weights after pause');
    assert.equal(idles.length, count.idles, 'no free-running idle report after pause');
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
  it('BC-warmup to sac+bc: β starts again at the hand-over weight, and a checkpoint keeps where', async () => {
    const link = await LearnerLink.start({
      obsDim: OBS,
      actionDim: ACT,
      config: { ...CONFIG, actorLoss: 'bc', bcWeight: 2, handoverBcWeight: 0.5, bcDecaySteps: 100 },
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
      const config = meta.config as { actorLoss: string; bcWeight: number };
      assert.equal(config.actorLoss, 'sac+bc');
      assert.equal(config.bcWeight, 0.5, 'the hand-over weight is the schedule’s start');
      assert.equal(meta.bcFrom, 20);
    } finally {
      await link.close();
    }
  });
});
