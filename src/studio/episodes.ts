import {
  EpisodeCommand,
  type EpisodeKind,
  type EpisodeOutcome,
  type RobotSpec,
  type StudioEvent,
  type Transition,
} from '../protocol/index.ts';
import type { EpisodeHandle, WriteQueue } from './writes.ts';

/** What each operator episode command stores (see EpisodeCommand). */
const COMMAND_OUTCOME: Record<EpisodeCommand, EpisodeOutcome> = {
  success: 'success',
  failure: 'failure',
  discard: 'discarded',
  reset: 'timeout',
};

export interface RunningEpisode {
  handle: EpisodeHandle;
  kind: EpisodeKind;
  seed: number;
  steps: number;
  return: number;
  intervened: number;
}

type EpisodeEnded = Extract<StudioEvent, { event: 'episode' }>['data'];

/**
 * The live session's episodes: the running one (its steps recorded through the write queue),
 * the next seed, when the next may begin, and the outcomes so far. Time is the session clock's.
 */
export class Episodes {
  readonly #runId: number;
  readonly #spec: RobotSpec;
  readonly #writes: WriteQueue;
  readonly #rateHz: number;
  readonly #onEnded: (ended: EpisodeEnded) => void;
  #running: RunningEpisode | undefined;
  #nextSeed: number;
  /** When the next episode may begin (ms), while between episodes; undefined: on command. */
  #resetAt: number | undefined = 0;
  readonly outcomes: Record<EpisodeOutcome, number> = {
    success: 0,
    failure: 0,
    timeout: 0,
    interrupted: 0,
    discarded: 0,
  };

  constructor(opts: {
    runId: number;
    spec: RobotSpec;
    writes: WriteQueue;
    rateHz: number;
    firstSeed: number;
    /** An episode ended and is written (its id known): for the `episode` event. */
    onEnded: (ended: EpisodeEnded) => void;
  }) {
    this.#runId = opts.runId;
    this.#spec = opts.spec;
    this.#writes = opts.writes;
    this.#rateHz = opts.rateHz;
    this.#nextSeed = opts.firstSeed;
    this.#onEnded = opts.onEnded;
  }

  get running(): RunningEpisode | undefined {
    return this.#running;
  }

  get total(): number {
    return Object.values(this.outcomes).reduce((a, b) => a + b, 0);
  }

  /** Whether a new episode may begin now (none runs, and its reset time has come). */
  due(now: number): boolean {
    return !this.#running && this.#resetAt !== undefined && now >= this.#resetAt;
  }

  /** Begins the next episode (the caller resets the robot with its seed). */
  begin(kind: EpisodeKind): RunningEpisode {
    const seed = this.#nextSeed;
    const handle = this.#writes.beginEpisode({
      runId: this.#runId,
      task: this.#spec.task,
      kind,
      seed,
      obsDim: this.#spec.observation.names.length,
      actionDim: this.#spec.action.names.length,
    });
    this.#running = { handle, kind, seed, steps: 0, return: 0, intervened: 0 };
    this.#resetAt = undefined;
    return this.#running;
  }

  /** Records the running episode's next step. */
  add(t: Transition): void {
    const e = this.#running;
    if (!e) throw new Error('no episode is running');
    this.#writes.record(e.handle, { ...t, index: e.steps, t: e.steps / this.#rateHz });
    e.steps++;
    e.return += t.reward;
    if (t.intervened) e.intervened++;
  }

  /**
   * Ends the running episode with `outcome` (its final observation stored for the last
   * transition); the next may begin `resetAfterMs` from `now` (negative: on a reset command).
   */
  end(
    outcome: EpisodeOutcome,
    finalObs: ArrayLike<number>,
    now: number,
    resetAfterMs: number,
  ): void {
    const e = this.#running;
    if (!e) return;
    this.outcomes[outcome]++;
    this.#running = undefined;
    this.#nextSeed++;
    this.#resetAt = resetAfterMs < 0 ? undefined : now + resetAfterMs;
    this.#writes.endEpisode(e.handle, { outcome, finalObs }, (id) =>
      this.#onEnded({
        id,
        kind: e.kind,
        outcome,
        steps: e.steps,
        return: e.return,
        intervenedSteps: e.intervened,
      }),
    );
  }

  /**
   * The operator's word on the running episode: success, failure, discard (rerecord), reset.
   * Between episodes, reset lets the next one begin at once.
   */
  command(input: unknown, finalObs: ArrayLike<number>, now: number, autoResetMs: number): void {
    const command = EpisodeCommand.parse(input);
    const e = this.#running;
    if (!e) {
      if (command === 'reset') this.#resetAt = now;
      return;
    }
    this.end(COMMAND_OUTCOME[command], finalObs, now, command === 'reset' ? 0 : autoResetMs);
    this.#writes.event(this.#runId, 'episode.command', { command, at: now }, e.handle);
  }
}
