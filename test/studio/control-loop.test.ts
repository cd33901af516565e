// The control loop's scheduling, on a manual clock: every time the loop reads, sleeps or waits is
// the test's, so each case is exact and cannot pass by luck. Real-time jitter is a benchmark
// figure (test/bench/loop.ts), not an assertion here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ControlLoop,
  type ControlLoopOptions,
  type TickInfo,
} from '../../src/studio/control-loop.ts';
import { ManualClock } from '../../src/util/clock.ts';

const START = 1000;

/** A loop on a manual clock at START, keeping every tick's info. */
function manual(opts: Partial<ControlLoopOptions> = {}) {
  const clock = new ManualClock(START);
  const ticks: TickInfo[] = [];
  const loop = new ControlLoop({
    rateHz: 50,
    clock,
    ...opts,
    tick: (info) => {
      ticks.push(info);
      opts.tick?.(info);
    },
  });
  return { clock, loop, ticks };
}

const dues = (ticks: TickInfo[]) => ticks.map((t) => t.dueAt - START);

describe('ControlLoop', () => {
  it('ticks at start + k·period, starting on its deadline, with late work not pushing the later ones back', () => {
    const { clock, loop, ticks } = manual({
      tick: (info) => {
        if (info.index === 5) clock.spend(12); // late work, but within the period
      },
    });
    loop.start();
    clock.advance(200);
    assert.deepEqual(dues(ticks), [20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    assert.deepEqual(
      ticks.map((t) => t.index),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    // The timer wakes the loop 2 ms early (spinMs); it waits the rest out on the clock.
    for (const t of ticks)
      assert.equal(t.startedAt, t.dueAt, `tick ${t.index} started off its deadline`);
    const stats = loop.stats();
    assert.equal(stats.ticks, 10);
    assert.equal(stats.missed, 0);
    assert.deepEqual(stats.lateness, { p50: 0, p99: 0, max: 0 });
    assert.deepEqual(stats.periodError, { p50: 0, p99: 0, max: 0 });
    assert.deepEqual(stats.work, { p50: 0, p99: 12, max: 12 });
  });

  it('the first tick is due one period after start, none before; a period that is not whole ms does not drift', () => {
    const { clock, loop, ticks } = manual({ rateHz: 30, spinMs: 0 });
    const period = 1000 / 30;
    loop.start();
    clock.advance(period - 0.001);
    assert.equal(ticks.length, 0, 'no tick before the first deadline');
    clock.advance(0.002);
    assert.equal(ticks.length, 1);
    clock.advance(START + 3001 - clock.now()); // 90 periods are 3000 ms: the 91st is due at 3033
    assert.equal(ticks.length, 90);
    ticks.forEach((t, k) => assert.equal(t.dueAt, START + (k + 1) * period, `tick ${k}`));
  });

  it('a tick that starts late (event loop busy) counts its lateness and skips the deadlines it passed', () => {
    const { clock, loop, ticks } = manual();
    clock.after(10, () => clock.spend(50)); // something else holds the event loop from 10 to 60
    loop.start();
    clock.advance(120);
    // Woken at 60 for the deadline of 20: it runs late, once, and the loop goes on at 80.
    assert.deepEqual(dues(ticks), [20, 80, 100, 120]);
    assert.equal(ticks[0]!.startedAt - START, 60);
    const stats = loop.stats();
    assert.equal(stats.lateness.max, 40);
    assert.equal(stats.missed, 2, 'the deadlines of 40 and 60');
  });

  it('skips (and counts) the deadlines an overrunning tick missed instead of bursting', () => {
    const { clock, loop, ticks } = manual({
      tick: (info) => {
        if (info.index === 2) clock.spend(65); // from 60 to 125: past the deadlines of 80, 100, 120
      },
    });
    loop.start();
    clock.advance(200);
    assert.deepEqual(dues(ticks), [20, 40, 60, 140, 160, 180, 200]);
    const stats = loop.stats();
    assert.equal(stats.missed, 3);
    assert.equal(stats.ticks, 7);
    assert.equal(stats.work.max, 65);
    // No burst: the tick after the overrun waits for its own deadline.
    const gaps = ticks.slice(1).map((t, i) => t.startedAt - ticks[i]!.startedAt);
    assert.deepEqual(gaps, [20, 20, 80, 20, 20, 20]);
    // The gap across the skip is not a period error: the missed deadlines count it.
    assert.equal(stats.periodError.max, 0);
  });

  it('runs afterTick right after each tick, with its time counted apart from the tick work', () => {
    const calls: string[] = [];
    const seen: TickInfo[] = [];
    const { clock, loop, ticks } = manual({
      tick: (info) => {
        calls.push(`tick ${info.index}`);
        clock.spend(3);
      },
      afterTick: (info) => {
        calls.push(`after ${info.index}`);
        seen.push(info);
        clock.spend(info.index === 3 ? 30 : 5); // the 4th spills past the next deadline
      },
    });
    loop.start();
    clock.advance(140);
    assert.deepEqual(calls.slice(0, 6), [
      'tick 0',
      'after 0',
      'tick 1',
      'after 1',
      'tick 2',
      'after 2',
    ]);
    assert.equal(calls.length, 2 * ticks.length);
    assert.deepEqual(seen, ticks, 'afterTick gets its tick’s info');
    const stats = loop.stats();
    assert.deepEqual(stats.work, { p50: 3, p99: 3, max: 3 }, 'work is the tick alone');
    assert.deepEqual(stats.afterTick, { p50: 5, p99: 30, max: 30 });
    // Tick 3, due at 80, ends with its afterTick at 113: the deadline of 100 is missed.
    assert.equal(stats.missed, 1);
    assert.deepEqual(dues(ticks), [20, 40, 60, 80, 120, 140]);
  });

  it('without an afterTick its figures are NaN', () => {
    const { clock, loop } = manual();
    loop.start();
    clock.advance(100);
    assert.ok(Object.values(loop.stats().afterTick).every(Number.isNaN));
  });

  it('runs no tick once stopped, and starts again on a fresh grid', async () => {
    const { clock, loop, ticks } = manual();
    loop.start();
    clock.advance(50);
    assert.equal(ticks.length, 2);
    const stopped = loop.stop();
    assert.equal(loop.running, false);
    assert.equal(clock.pending, 0, 'the sleep is cancelled');
    await stopped;
    clock.advance(1000);
    assert.equal(ticks.length, 2, 'no tick after stop');
    await loop.stop(); // stopping again is a no-op
    loop.start(); // at START + 1050
    clock.advance(45);
    assert.deepEqual(dues(ticks), [20, 40, 1070, 1090]);
  });

  it('a tick that stops the loop finishes, with its afterTick, and is the last', async () => {
    let stopped: Promise<void> | undefined;
    const after: number[] = [];
    const { clock, loop, ticks } = manual({
      tick: (info) => {
        if (info.index === 2) stopped = loop.stop();
      },
      afterTick: (info) => after.push(info.index),
    });
    loop.start();
    clock.advance(200);
    assert.ok(stopped);
    await stopped;
    assert.equal(ticks.length, 3);
    assert.deepEqual(after, [0, 1, 2]);
    assert.equal(clock.pending, 0);
  });

  it('a tick that stops and restarts the loop leaves one schedule, the new one', () => {
    const { clock, loop, ticks } = manual({
      tick: (info) => {
        if (info.index === 1) {
          void loop.stop();
          loop.start(); // at 40: the new grid is 60, 80, …
        }
      },
    });
    loop.start();
    clock.advance(100);
    assert.equal(clock.pending, 1);
    assert.deepEqual(dues(ticks), [20, 40, 60, 80, 100]);
  });

  it('stops when a tick throws, reporting the error, with no afterTick for it', () => {
    const errors: unknown[] = [];
    const after: number[] = [];
    const { clock, loop, ticks } = manual({
      tick: (info) => {
        if (info.index === 2) throw new Error('robot unreachable');
      },
      afterTick: (info) => after.push(info.index),
      onError: (err) => errors.push(err),
    });
    loop.start();
    clock.advance(1000);
    assert.equal(loop.running, false);
    assert.equal(ticks.length, 3);
    assert.deepEqual(after, [0, 1]);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /robot unreachable/);
    assert.equal(loop.stats().ticks, 2, 'a tick that threw is not counted');
    assert.equal(clock.pending, 0);
  });

  it('stops when afterTick throws, reporting the error as for a tick', () => {
    const errors: unknown[] = [];
    const { clock, loop, ticks } = manual({
      afterTick: (info) => {
        if (info.index === 1) throw new Error('disk full');
      },
      onError: (err) => errors.push(err),
    });
    loop.start();
    clock.advance(1000);
    assert.equal(loop.running, false);
    assert.equal(ticks.length, 2);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /disk full/);
    assert.equal(loop.stats().ticks, 2, 'the tick itself returned');
    assert.equal(clock.pending, 0);
  });

  it('refuses a rate outside (0, 1000] Hz', () => {
    for (const rateHz of [0, -1, Number.NaN, 1000.5, 5000]) {
      assert.throws(() => new ControlLoop({ rateHz, tick: () => {} }), {
        name: 'RangeError',
        message: /control rate must be in \(0, 1000\] Hz/,
      });
    }
    assert.equal(new ControlLoop({ rateHz: 1000, tick: () => {} }).periodMs, 1);
  });

  it('runs on the system clock by default, never starting a tick before its deadline', async () => {
    const ticks: TickInfo[] = [];
    let third: () => void = () => {};
    const done = new Promise<void>((resolve) => (third = resolve));
    const loop = new ControlLoop({
      rateHz: 200,
      tick: (info) => {
        ticks.push(info);
        if (ticks.length === 3) third();
      },
    });
    loop.start();
    await done;
    await loop.stop();
    assert.equal(loop.running, false);
    for (const t of ticks) assert.ok(t.startedAt >= t.dueAt, `tick ${t.index} started early`);
    // Deadlines are on the grid whatever the timers did (skips allowed on a busy machine).
    const steps = ticks.slice(1).map((t, i) => (t.dueAt - ticks[i]!.dueAt) / loop.periodMs);
    for (const s of steps) assert.ok(Math.abs(s - Math.round(s)) < 1e-9 && s >= 1, `step ${s}`);
  });
});
