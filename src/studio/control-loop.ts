/**
 * The studio's fixed-rate control loop. Ticks are deadline-scheduled: tick k is due at
 * start + k·period, so lateness never accumulates into drift. Each tick runs synchronously: the
 * loop cannot await the learner, the recorder or a UI (they are fed through queues by the tick).
 * An optional `afterTick` runs right after each tick, in the slack before the next deadline (the
 * caller's SQLite writes), and is measured apart from the tick's own work.
 *
 * Node's timers fire up to a millisecond or more late, and later on a busy machine, so the loop
 * sleeps with a timer until `spinMs` before the deadline and then waits the rest out on the clock.
 * A tick (with its afterTick) that overruns its period makes the loop skip the deadlines it missed
 * (counted), rather than run a burst of late ticks.
 *
 * Every time read, the sleep and the wait go through a Clock (the system's by default), so the
 * scheduling is tested on a manual clock, deterministically.
 */
import { type Clock, systemClock } from '../util/clock.ts';

export interface TickInfo {
  /** Ticks run so far, this one excluded. */
  index: number;
  /** Clock time (ms) at which this tick was due, and at which it started. */
  dueAt: number;
  startedAt: number;
}

export interface ControlLoopOptions {
  rateHz: number;
  tick: (info: TickInfo) => void;
  /**
   * Called right after each tick that returned (not after one that threw), with the same info: the
   * work that belongs in the slack before the next deadline. Timed apart from the tick
   * (`LoopStats.afterTick`); its time counts towards an overrun. If it throws, the loop stops and
   * `onError` gets the error, as for a tick.
   */
  afterTick?: (info: TickInfo) => void;
  /** Busy-wait this long before each deadline (ms); 0: timer only. */
  spinMs?: number;
  /**
   * Whether the next tick needs its start to the sub-millisecond (default: always). While it says
   * no (a paused studio: nothing moves), the loop sleeps to the deadline without spinning, so an
   * idle studio costs next to no CPU.
   */
  precise?: () => boolean;
  /** Called when a tick or afterTick throws; the loop stops after it. */
  onError?: (err: unknown) => void;
  /** Samples kept for the statistics (a ring). */
  window?: number;
  /** The time source (default: the system's monotonic clock). */
  clock?: Clock;
}

export interface LoopStats {
  /** Ticks that returned (whether or not their afterTick did). */
  ticks: number;
  /** Deadlines skipped because a tick (with its afterTick) overran. */
  missed: number;
  /** Start time minus due time (ms). */
  lateness: Percentiles;
  /** |time between successive tick starts − the period| (ms). */
  periodError: Percentiles;
  /** Tick duration (ms), the tick alone. */
  work: Percentiles;
  /** afterTick duration (ms); NaN throughout without an afterTick. */
  afterTick: Percentiles;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export class ControlLoop {
  readonly periodMs: number;
  readonly #tick: ControlLoopOptions['tick'];
  readonly #afterTick: ControlLoopOptions['afterTick'];
  readonly #spinMs: number;
  readonly #precise: () => boolean;
  readonly #onError: ControlLoopOptions['onError'];
  readonly #clock: Clock;
  readonly #late: Ring;
  readonly #period: Ring;
  readonly #work: Ring;
  readonly #slack: Ring;
  #cancel: (() => void) | undefined;
  #running = false;
  /** Which start() this run is: a tick of an earlier run that outlives a stop schedules nothing. */
  #run = 0;
  #start = 0;
  #next = 0;
  #ticks = 0;
  #missed = 0;
  #lastStart: number | undefined;
  #stopped: Promise<void> = Promise.resolve();
  #resolveStopped: () => void = () => {};

  constructor(opts: ControlLoopOptions) {
    if (!(opts.rateHz > 0 && opts.rateHz <= 1000)) {
      throw new RangeError(`control rate must be in (0, 1000] Hz, got ${opts.rateHz}`);
    }
    this.periodMs = 1000 / opts.rateHz;
    this.#tick = opts.tick;
    this.#afterTick = opts.afterTick;
    this.#spinMs = Math.min(opts.spinMs ?? 2, this.periodMs / 2);
    this.#precise = opts.precise ?? (() => true);
    this.#onError = opts.onError;
    this.#clock = opts.clock ?? systemClock;
    const window = opts.window ?? 10_000;
    this.#late = new Ring(window);
    this.#period = new Ring(window);
    this.#work = new Ring(window);
    this.#slack = new Ring(window);
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts ticking; the first tick is due one period from now. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#run++;
    this.#start = this.#clock.now();
    this.#next = 1;
    this.#lastStart = undefined;
    this.#stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    this.#schedule();
  }

  /**
   * Stops ticking: no tick starts after this is called (one calling it finishes, with its
   * afterTick), so none runs after this resolves.
   */
  stop(): Promise<void> {
    if (this.#running) {
      this.#running = false;
      this.#cancel?.();
      this.#cancel = undefined;
      this.#resolveStopped();
    }
    return this.#stopped;
  }

  stats(): LoopStats {
    return {
      ticks: this.#ticks,
      missed: this.#missed,
      lateness: this.#late.percentiles(),
      periodError: this.#period.percentiles(),
      work: this.#work.percentiles(),
      afterTick: this.#slack.percentiles(),
    };
  }

  #dueAt(k: number): number {
    return this.#start + k * this.periodMs;
  }

  #schedule(): void {
    if (!this.#running) return;
    const spin = this.#precise() ? this.#spinMs : 0;
    const wait = this.#dueAt(this.#next) - this.#clock.now() - spin;
    const run = this.#run;
    this.#cancel = this.#clock.after(Math.max(0, wait), () => this.#fire(run));
  }

  #fire(run: number): void {
    if (!this.#running || run !== this.#run) return;
    this.#cancel = undefined;
    const due = this.#dueAt(this.#next);
    const now = this.#clock.waitUntil(due);
    const info: TickInfo = { index: this.#ticks, dueAt: due, startedAt: now };
    this.#late.push(now - due);
    if (this.#lastStart !== undefined) {
      // Only between consecutive deadlines: a skipped one is counted in `missed` instead.
      this.#period.push(Math.abs(now - this.#lastStart - this.periodMs));
    }
    this.#lastStart = now;
    if (!this.#call(this.#tick, info)) return;
    this.#ticks++;
    let end = this.#clock.now();
    this.#work.push(end - now);
    if (this.#afterTick) {
      const from = end;
      if (!this.#call(this.#afterTick, info)) return;
      end = this.#clock.now();
      this.#slack.push(end - from);
    }
    if (run !== this.#run) return; // stopped and started again from inside the tick
    // The next deadline still ahead; the ones passed during an overrun are skipped.
    let next = this.#next + 1;
    while (this.#dueAt(next) <= end) next++;
    const skipped = next - this.#next - 1;
    this.#missed += skipped;
    if (skipped > 0) this.#lastStart = undefined;
    this.#next = next;
    this.#schedule();
  }

  /** Runs `fn`; if it throws, stops the loop, reports the error and says false. */
  #call(fn: (info: TickInfo) => void, info: TickInfo): boolean {
    try {
      fn(info);
      return true;
    } catch (err) {
      void this.stop();
      this.#onError?.(err);
      return false;
    }
  }
}

/** A fixed-size ring of samples with percentiles over what it holds. */
class Ring {
  readonly #data: Float64Array;
  #count = 0;

  constructor(size: number) {
    this.#data = new Float64Array(size);
  }

  push(x: number): void {
    this.#data[this.#count++ % this.#data.length] = x;
  }

  percentiles(): Percentiles {
    const n = Math.min(this.#count, this.#data.length);
    if (n === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
    const sorted = this.#data.slice(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    return { p50: at(0.5), p99: at(0.99), max: sorted[n - 1]! };
  }
}
