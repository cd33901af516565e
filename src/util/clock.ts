/**
 * The time source of the control loop and the session, injected so that timing logic is tested
 * on a manual clock, deterministically, and runs live on the system's monotonic clock.
 */
export interface Clock {
  /** Monotonic milliseconds (the system clock: performance.now()). */
  now(): number;
  /**
   * Calls `fn` once, `ms` from now; returns a function that cancels it. The system clock's timers
   * may fire a little late or, by up to a millisecond, early: to act at a deadline, `waitUntil` it.
   */
  after(ms: number, fn: () => void): () => void;
  /** Waits, without yielding, until `now() >= t` (the system clock spins); returns `now()`. */
  waitUntil(t: number): number;
}

/** The system's monotonic clock: Node's timers and performance.now(). */
export const systemClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
  waitUntil(t) {
    let now = performance.now();
    while (now < t) now = performance.now();
    return now;
  },
};

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told (`advance`): the timers due on the way fire in time order,
 * each with `now()` at its due time. For tests of anything that takes a Clock.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): () => void {
    // As Node's setTimeout: a delay that is not a number fires at once (NaN would never fire).
    const delay = ms > 0 ? ms : 0;
    const timer: Timer = { at: this.#now + delay, seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Nothing to wait for on a manual clock: time jumps to `t` (if it is ahead). */
  waitUntil(t: number): number {
    if (t > this.#now) this.#now = t;
    return this.#now;
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms` without firing anything: synchronous work that takes that long
   * (called from inside a timer, say a tick, it simulates an overrun). The timers that fall due
   * meanwhile fire late, at the next `advance`, as a real event loop runs them after the work.
   */
  spend(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock moves forward only, got ${ms} ms`);
    this.#now += ms;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, in time order, each
   * with `now()` at its due time (or later, where an earlier one spent time past it: it fires
   * late, as on an event loop). Timers that a firing one sets within the span fire too. Where the
   * callbacks move time past the end of the span (`spend`, `waitUntil`), the timers due after the
   * span's end wait for the next call (`advance(0)` runs the overdue ones): a span always ends.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock moves forward only, got ${ms} ms`);
    const end = this.#now + ms;
    for (;;) {
      const next = this.#timers
        .filter((t) => t.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      if (next.at > this.#now) this.#now = next.at;
      next.fn();
    }
    if (end > this.#now) this.#now = end;
  }
}
