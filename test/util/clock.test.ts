import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, systemClock } from '../../src/util/clock.ts';

describe('ManualClock', () => {
  it('moves only when advanced, firing the timers due on the way in time order, each at its time', () => {
    const clock = new ManualClock(100);
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
    clock.after(30, at('c'));
    clock.after(10, at('a'));
    clock.after(10, at('a2')); // same time: in the order set
    clock.after(20, at('b'));
    assert.equal(clock.now(), 100);
    assert.equal(clock.pending, 4);
    clock.advance(25);
    assert.deepEqual(fired, ['a@110', 'a2@110', 'b@120']);
    assert.equal(clock.now(), 125);
    clock.advance(5);
    assert.deepEqual(fired.at(-1), 'c@130', 'a timer due at the end of the span fires');
    assert.equal(clock.pending, 0);
  });

  it('a cancelled timer never fires; cancelling twice, or after it fired, is harmless', () => {
    const clock = new ManualClock();
    let fired = 0;
    const cancel = clock.after(5, () => fired++);
    const other = clock.after(1, () => fired++);
    cancel();
    cancel();
    clock.advance(10);
    other();
    assert.equal(fired, 1);
    assert.equal(clock.pending, 0);
  });

  it('fires the timers a firing one sets within the span, and not those beyond it', () => {
    const clock = new ManualClock();
    const times: number[] = [];
    const every = (ms: number) => {
      clock.after(ms, () => {
        times.push(clock.now());
        every(ms);
      });
    };
    every(10);
    clock.advance(35);
    assert.deepEqual(times, [10, 20, 30]);
    assert.equal(clock.pending, 1);
  });

  it('a negative or unset delay fires at once, as setTimeout does', () => {
    const clock = new ManualClock(7);
    const fired: number[] = [];
    clock.after(-5, () => fired.push(clock.now()));
    clock.after(Number.NaN, () => fired.push(clock.now()));
    clock.advance(0);
    assert.deepEqual(fired, [7, 7]);
  });

  it('spend moves time without firing anything; the timers passed fire late at the next advance', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.after(10, () => fired.push(clock.now()));
    clock.after(40, () => fired.push(clock.now()));
    clock.spend(25);
    assert.equal(clock.now(), 25);
    assert.deepEqual(fired, []);
    clock.advance(0);
    assert.deepEqual(fired, [25], 'overdue: fired at the time it could run');
    clock.advance(15);
    assert.deepEqual(fired, [25, 40]);
  });

  it('work inside a timer delays the timers after it, which then fire late', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.after(10, () => {
      fired.push(`busy@${clock.now()}`);
      clock.spend(15);
    });
    clock.after(20, () => fired.push(`next@${clock.now()}`));
    clock.advance(30);
    assert.deepEqual(fired, ['busy@10', 'next@25']);
    assert.equal(clock.now(), 30);
  });

  it('waitUntil jumps ahead to the time, never back', () => {
    const clock = new ManualClock(50);
    assert.equal(clock.waitUntil(80), 80);
    assert.equal(clock.now(), 80);
    assert.equal(clock.waitUntil(60), 80);
  });

  it('refuses to go back', () => {
    const clock = new ManualClock();
    assert.throws(() => clock.advance(-1), RangeError);
    assert.throws(() => clock.advance(Number.NaN), RangeError);
    assert.throws(() => clock.spend(-1), RangeError);
  });
});

describe('systemClock', () => {
  it('runs a timer, cancels one, and waits until a time on the monotonic clock', async () => {
    const t0 = systemClock.now();
    let cancelled = 0;
    systemClock.after(0, () => cancelled++)();
    // Timers of equal or shorter delay run first: once this one has, the cancelled one would have.
    await new Promise<void>((resolve) => systemClock.after(2, resolve));
    assert.equal(cancelled, 0);
    const target = systemClock.now() + 3;
    const reached = systemClock.waitUntil(target);
    assert.ok(reached >= target);
    assert.ok(systemClock.now() >= reached && reached > t0);
  });
});
