/**
 * The studio's fixed-rate control loop. Ticks are deadline-scheduled: tick k is due at
 * start + k·period, so lateness never accumulates into drift. Each tick runs synchronously: the
 * loop cannot await the learner, the recorder or a UI (they are fed through queues by the tick).
 *
 * Node's timers fire up to a millisecond or more late, and later on a busy machine, so the loop
 * sleeps with a timer until `spinMs` before the deadline and then waits the rest out on the clock.
 * A tick that overruns its period makes the loop skip the deadlines it missed (counted), rather
 * than run a burst of late ticks.
 */

export interface TickInfo {
  /** Ticks run so far, this one excluded. */
  index: number;
  /** performance.now() at which this tick was due, and at which it started. */
  dueAt: number;
  startedAt: number;
}

export interface ControlLoopOptions {
  rateHz: number;
  tick: (info: TickInfo) => void;
  /** Busy-wait this long before each deadline (ms); 0: timer only. */
  spinMs?: number;
  /** Called when a tick throws; the loop stops after it. */
  onError?: (err: unknown) => void;
  /** Samples kept for the statistics (a ring). */
  window?: number;
}

export interface LoopStats {
  ticks: number;
  /** Deadlines skipped because a tick overran. */
  missed: number;
  /** Start time minus due time (ms). */
  lateness: Percentiles;
  /** |time between successive tick starts − the period| (ms). */
  periodError: Percentiles;
  /** Tick duration (ms). */
  work: Percentiles;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export class ControlLoop {
  readonly periodMs: number;
  readonly #tick: ControlLoopOptions['tick'];
  readonly #spinMs: number;
  readonly #onError: ControlLoopOptions['onError'];
  readonly #late: Ring;
  readonly #period: Ring;
  readonly #work: Ring;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
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
    this.#spinMs = Math.min(opts.spinMs ?? 2, this.periodMs / 2);
    this.#onError = opts.onError;
    const window = opts.window ?? 10_000;
    this.#late = new Ring(window);
    this.#period = new Ring(window);
    this.#work = new Ring(window);
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts ticking; the first tick is due one period from now. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#start = performance.now();
    this.#next = 1;
    this.#lastStart = undefined;
    this.#stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    this.#schedule();
  }

  /** Stops after the current tick (none runs after this resolves). */
  stop(): Promise<void> {
    if (this.#running) {
      this.#running = false;
      clearTimeout(this.#timer);
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
    };
  }

  #dueAt(k: number): number {
    return this.#start + k * this.periodMs;
  }

  #schedule(): void {
    if (!this.#running) return;
    const wait = this.#dueAt(this.#next) - performance.now() - this.#spinMs;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, wait));
  }

  #fire(): void {
    if (!this.#running) return;
    const due = this.#dueAt(this.#next);
    let now = performance.now();
    while (now < due) now = performance.now();
    const info: TickInfo = { index: this.#ticks, dueAt: due, startedAt: now };
    this.#late.push(now - due);
    if (this.#lastStart !== undefined) {
      // Only between consecutive deadlines: a skipped one is counted in `missed` instead.
      this.#period.push(Math.abs(now - this.#lastStart - this.periodMs));
    }
    this.#lastStart = now;
    try {
      this.#tick(info);
    } catch (err) {
      void this.stop();
      this.#onError?.(err);
      return;
    }
    this.#ticks++;
    const end = performance.now();
    this.#work.push(end - now);
    // The next deadline still ahead; the ones passed during an overrun are skipped.
    let next = this.#next + 1;
    while (this.#dueAt(next) <= end) next++;
    const skipped = next - this.#next - 1;
    this.#missed += skipped;
    if (skipped > 0) this.#lastStart = undefined;
    this.#next = next;
    this.#schedule();
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
