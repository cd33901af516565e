import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlLoop, type TickInfo } from '../../src/studio/control-loop.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('ControlLoop', () => {
  it('ticks on a fixed grid of deadlines: late ticks do not push the later ones back', async () => {
    const ticks: TickInfo[] = [];
    const loop = new ControlLoop({
      rateHz: 50,
      tick: (info) => {
        ticks.push(info);
        if (info.index === 5) busy(12); // late work, but within the period
      },
    });
    const start = performance.now();
    loop.start();
    await sleep(520);
    await loop.stop();
    assert.ok(ticks.length >= 20, `${ticks.length} ticks in 520 ms at 50 Hz`);
    for (const [k, t] of ticks.entries()) {
      // Tick k is due at start + (k+1)·20 ms (the start time seen here is slightly before the loop's).
      const offset = t.dueAt - start - (k + 1) * 20;
      assert.ok(offset >= 0 && offset < 1, `tick ${k} due ${offset.toFixed(3)} ms off the grid`);
      assert.ok(t.startedAt >= t.dueAt, `tick ${k} started before it was due`);
    }
    assert.equal(loop.stats().missed, 0);
  });

  it('skips (and counts) the deadlines an overrunning tick missed instead of bursting', async () => {
    const starts: number[] = [];
    const loop = new ControlLoop({
      rateHz: 50,
      tick: (info) => {
        starts.push(info.startedAt);
        if (info.index === 2) busy(65); // spans three more deadlines
      },
    });
    loop.start();
    await sleep(400);
    await loop.stop();
    const stats = loop.stats();
    assert.equal(stats.missed, 3);
    const gaps = starts.slice(4).map((s, i) => s - starts[i + 3]!);
    assert.ok(
      gaps.every((g) => g > 10),
      `no burst after the overrun: gaps ${gaps.map((g) => g.toFixed(1)).join(', ')}`,
    );
  });

  it('runs no tick once stopped, and stops when a tick throws, reporting the error', async () => {
    let count = 0;
    const errors: unknown[] = [];
    const loop = new ControlLoop({
      rateHz: 100,
      tick: () => {
        if (++count === 3) throw new Error('robot unreachable');
      },
      onError: (err) => errors.push(err),
    });
    loop.start();
    await sleep(150);
    assert.equal(loop.running, false);
    assert.equal(count, 3);
    assert.match(String(errors[0]), /robot unreachable/);
    const ok = new ControlLoop({ rateHz: 100, tick: () => count++ });
    ok.start();
    await sleep(50);
    await ok.stop();
    const after = count;
    await sleep(50);
    assert.equal(count, after, 'no tick after stop');
  });

  it('refuses a rate outside (0, 1000] Hz', () => {
    assert.throws(() => new ControlLoop({ rateHz: 0, tick: () => {} }), /control rate/);
    assert.throws(() => new ControlLoop({ rateHz: 5000, tick: () => {} }), /control rate/);
  });
});
