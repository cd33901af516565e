import type { SessionConfig } from '../protocol/index.ts';
import type { Clock } from '../util/clock.ts';
import { ControlLoop, type LoopStats } from './control-loop.ts';
import { enterRealtime, leaveRealtime, type RealtimeResult } from './realtime.ts';

/**
 * The live driver of a session: its ControlLoop at the control rate on `clock`, the tick and
 * then the slack work (`afterTick`: the SQLite writes), and the control thread on the real-time
 * scheduler while it runs (`realtime`: auto, off or required).
 */
export class LiveLoop {
  readonly #clock: Clock;
  #loop: ControlLoop | undefined;
  #realtime: RealtimeResult | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get running(): boolean {
    return this.#loop?.running ?? false;
  }

  /** Whether it was ever started (and so may hold the learner free-running). */
  get started(): boolean {
    return this.#loop !== undefined;
  }

  /** Starts ticking; throws (and starts nothing) when real time is required but refused. */
  start(opts: {
    rateHz: number;
    realtime: SessionConfig['realtime'];
    tick: () => void;
    afterTick: () => void;
    /** Whether ticks need sub-millisecond starts now (not while nothing moves). */
    precise: () => boolean;
    onError: (err: unknown) => void;
    /** Samples kept for the statistics (ControlLoopOptions.window). */
    window?: number;
  }): void {
    if (this.running) return;
    if (opts.realtime !== 'off') {
      this.#realtime = enterRealtime();
      if (!this.#realtime.ok && opts.realtime === 'required') {
        throw new Error(
          `real-time scheduling is required but not allowed: ${this.#realtime.reason}`,
        );
      }
    }
    this.#loop = new ControlLoop({
      rateHz: opts.rateHz,
      clock: this.#clock,
      tick: opts.tick,
      afterTick: opts.afterTick,
      precise: opts.precise,
      onError: opts.onError,
      ...(opts.window ? { window: opts.window } : {}),
    });
    this.#loop.start();
  }

  /** Stops after the current tick and gives the normal scheduler back. */
  async stop(): Promise<void> {
    if (!this.#loop) return;
    await this.#loop.stop();
    if (this.#realtime?.ok) leaveRealtime();
  }

  stats(): LoopStats | undefined {
    return this.#loop?.stats();
  }

  /** The control thread's scheduling while live (undefined: not yet live, or `realtime: off`). */
  get realtime(): RealtimeResult | undefined {
    return this.#realtime;
  }
}
