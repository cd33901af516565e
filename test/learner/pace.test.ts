import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type LearnerPace, LearnerLink } from '../../src/learner/link.ts';
import { FreeRunOptions, type PolicyWeights } from '../../src/learner/messages.ts';
import { ACT, batch, OBS } from './batches.ts';

// The free-running learner's pace bound (issue 12, item 7): at most `maxUpdatesPerTransition`
// learner steps per online transition, none on demos alone, idle (waiting for a message) at the
// bound. Every wait here is for a report from the worker, never a sleep for something not to happen.

const CONFIG = { hidden: [32, 32], batchSize: 32, seed: 3 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A link whose idle reports and publications are collected. */
async function start() {
  const idles: LearnerPace[] = [];
  const published: PolicyWeights[] = [];
  const link = await LearnerLink.start({
    obsDim: OBS,
    actionDim: ACT,
    config: CONFIG,
    onIdle: (p) => idles.push(p),
    onWeights: (w) => published.push(w),
  });
  /** The first idle report with at least `received` transitions taken in (and from `from` on). */
  const idleAfter = async (received: number, from = 0): Promise<LearnerPace> => {
    const hit = () => idles.slice(from).find((p) => p.received >= received);
    await until(`the worker idle with ${received} transitions taken in`, () => !!hit());
    return hit()!;
  };
  return { link, idles, published, idleAfter };
}

describe('learner pace: free-running at most maxUpdatesPerTransition steps per online transition', () => {
  let w: Awaited<ReturnType<typeof start>>;
  before(async () => {
    w = await start();
  });
  after(() => w.link.close());

  it('takes 20 steps per online transition by default, then idles', async () => {
    const { link, idleAfter } = w;
    link.add('demo', batch(1, 100));
    link.run({ publishEverySteps: 1000, publishEveryMs: 100 });
    const first = await idleAfter(100);
    assert.equal(first.steps, 0, 'no step on demos alone');
    link.add('online', batch(2, 2));
    const capped = await idleAfter(102);
    assert.equal(capped.steps, 40, '20 × 2 online transitions');
    assert.equal(capped.online, 2);
    assert.equal(link.updateToData, 20);
  });

  it('publishes the steps taken before going idle, T ms after the last publication', async () => {
    await until('the weights of step 40', () => w.published.at(-1)?.version === 40);
  });

  it('takes no more steps without new online transitions: demo transitions do not lift the bound', async () => {
    const { link, idles, idleAfter } = w;
    const from = idles.length;
    link.add('demo', batch(3, 50));
    const idle = await idleAfter(152, from);
    assert.equal(idle.steps, 40, 'no step for demo transitions');
    assert.equal(link.updateToData, 20);
  });

  it('resumes when online transitions arrive, and pause reports the steps taken', async () => {
    const { link, idleAfter } = w;
    link.add('online', batch(4, 1));
    const idle = await idleAfter(153);
    assert.equal(idle.steps, 60);
    assert.equal(await link.pause(), 60);
    assert.equal(link.updateToData, 20);
  });

  it('a new run starts without credit: transitions taken in before it give none', async () => {
    const { link, idles, idleAfter } = w;
    link.add('online', batch(5, 5)); // paused: taken in, no steps
    const from = idles.length;
    link.run({ maxUpdatesPerTransition: 3, publishEverySteps: 1000 });
    assert.equal((await idleAfter(158, from)).steps, 60);
    link.add('online', batch(6, 4));
    const idle = await idleAfter(162, from);
    assert.equal(idle.steps, 72, '3 × 4');
    assert.equal(await link.pause(), 72);
    assert.equal(link.updateToData, 72 / 12);
    // Lock-step training is not bounded (the headless path is unchanged).
    assert.equal((await link.train(5)).version, 77);
    assert.equal(link.updateToData, 77 / 12);
  });
});

describe('learner pace: demos alone', () => {
  it('a free-running worker with only demo transitions takes no step', async () => {
    const { link, idleAfter } = await start();
    try {
      link.run({});
      link.add('demo', batch(7, 64));
      const idle = await idleAfter(64);
      assert.equal(idle.steps, 0);
      assert.equal(idle.online, 0);
      assert.equal(await link.pause(), 0);
      assert.equal(link.updateToData, 0);
    } finally {
      await link.close();
    }
  });
});

describe('learner pace: a fractional bound', () => {
  it('0.5: one learner step per two online transitions', async () => {
    const { link, idleAfter } = await start();
    try {
      link.run({ maxUpdatesPerTransition: 0.5 });
      link.add('online', batch(8, 1));
      assert.equal((await idleAfter(1)).steps, 0);
      link.add('online', batch(9, 1));
      assert.equal((await idleAfter(2)).steps, 1);
      link.add('online', batch(10, 1));
      assert.equal((await idleAfter(3)).steps, 1);
      link.add('online', batch(11, 1));
      assert.equal((await idleAfter(4)).steps, 2);
      assert.equal(await link.pause(), 2);
      assert.equal(link.updateToData, 0.5);
    } finally {
      await link.close();
    }
  });
});

describe('learner pace: options', () => {
  it('the bound is 20 by default, positive and finite', () => {
    assert.equal(FreeRunOptions.parse({}).maxUpdatesPerTransition, 20);
    assert.equal(
      FreeRunOptions.parse({ maxUpdatesPerTransition: 0.5 }).maxUpdatesPerTransition,
      0.5,
    );
    for (const bad of [0, -1, Infinity, Number.NaN]) {
      assert.equal(
        FreeRunOptions.safeParse({ maxUpdatesPerTransition: bad }).success,
        false,
        `${bad}`,
      );
    }
    assert.equal(FreeRunOptions.safeParse({ maxStepsPerTransition: 3 }).success, false);
  });
});
