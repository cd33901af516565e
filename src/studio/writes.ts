import { Recorder, type EpisodeEnd, type EpisodeStart, type StepInput } from '../store/index.ts';
import type { Store } from '../store/index.ts';

/** An episode as the live loop knows it before its row exists: the id comes with the next drain. */
export interface EpisodeHandle {
  id: number | undefined;
}

type Op =
  | { kind: 'begin'; handle: EpisodeHandle; start: EpisodeStart }
  | { kind: 'step'; handle: EpisodeHandle; step: StepInput }
  | { kind: 'end'; handle: EpisodeHandle; end: EpisodeEnd; then?: (id: number) => void }
  | { kind: 'event'; runId: number; type: string; payload: unknown; handle?: EpisodeHandle }
  | { kind: 'call'; fn: () => void };

/**
 * Every SQLite write of the live loop, in one queue: a tick only appends to it, and the session
 * drains it after the tick, in the slack before the next deadline (so a write, a WAL checkpoint
 * or a busy disk never delays a tick). Order is kept: an episode's row is inserted before its
 * steps, its steps before its end, and an event names the episode it happened in.
 */
export class WriteQueue {
  readonly #store: Store;
  readonly #recorder: Recorder;
  #ops: Op[] = [];

  constructor(store: Store) {
    this.#store = store;
    this.#recorder = new Recorder(store, { writes: 'caller' });
  }

  /** The episode's row is inserted at the next drain; its handle gets the id then. */
  beginEpisode(start: EpisodeStart): EpisodeHandle {
    const handle: EpisodeHandle = { id: undefined };
    this.#ops.push({ kind: 'begin', handle, start });
    return handle;
  }

  record(handle: EpisodeHandle, step: StepInput): void {
    this.#ops.push({ kind: 'step', handle, step });
  }

  /** Ends the episode (its steps written with it in one transaction); `then` runs after. */
  endEpisode(handle: EpisodeHandle, end: EpisodeEnd, then?: (id: number) => void): void {
    this.#ops.push({ kind: 'end', handle, end, ...(then ? { then } : {}) });
  }

  /** An `events` row, tied to `episode` when one is given and running. */
  event(runId: number, type: string, payload: unknown, episode?: EpisodeHandle): void {
    this.#ops.push({
      kind: 'event',
      runId,
      type,
      payload,
      ...(episode ? { handle: episode } : {}),
    });
  }

  /** Any other write (e.g. a learner metrics record through its monitor), in order. */
  later(fn: () => void): void {
    this.#ops.push({ kind: 'call', fn });
  }

  /** Runs the queued writes in order; steps are batched by the recorder (written when due). */
  drain(): void {
    const ops = this.#ops;
    if (ops.length === 0) {
      this.#recorder.flushIfDue();
      return;
    }
    this.#ops = [];
    let done = 0;
    try {
      for (const op of ops) {
        this.#run(op);
        done++;
      }
    } finally {
      // A write that throws is dropped (its error goes on); those after it stay queued, in order.
      if (done < ops.length) this.#ops = [...ops.slice(done + 1), ...this.#ops];
    }
    this.#recorder.flushIfDue();
  }

  #run(op: Op): void {
    switch (op.kind) {
      case 'begin':
        op.handle.id = this.#recorder.beginEpisode(op.start);
        break;
      case 'step':
        this.#recorder.record(idOf(op.handle), op.step);
        break;
      case 'end': {
        const id = idOf(op.handle);
        this.#recorder.endEpisode(id, op.end);
        op.then?.(id);
        break;
      }
      case 'event':
        this.#store.addEvent({
          runId: op.runId,
          ...(op.handle?.id !== undefined ? { episodeId: op.handle.id } : {}),
          kind: op.type,
          payload: op.payload,
        });
        break;
      case 'call':
        op.fn();
        break;
    }
  }

  /** Drains and writes every step now. */
  flush(): void {
    this.drain();
    this.#recorder.flush();
  }

  /** Drains, writes, and closes the recorder (episodes still open stay running). */
  close(): void {
    this.drain();
    this.#recorder.close();
  }
}

function idOf(handle: EpisodeHandle): number {
  if (handle.id === undefined) throw new Error('an episode was written to before it began');
  return handle.id;
}
