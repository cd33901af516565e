import type Database from 'better-sqlite3';
import { ActionSource, EpisodeKind, EpisodeOutcome, type Step } from '../protocol/index.ts';
import { encodeFloats } from './blob.ts';
import { encodeSafety } from './steps.ts';
import { StoreError, messageOf } from './errors.ts';
import type { Store } from './store.ts';

export interface RecorderOptions {
  /** A queued step is written at most this long after it was recorded. Default 100. */
  flushIntervalMs?: number;
  /** A queue this long is written at once. Default 1000. */
  maxBatch?: number;
  /**
   * Who writes the queue. `auto` (default): `record` writes it when it is due or full, and a
   * timer writes a quiet one. `caller`: only `flushIfDue`, `flush`, `endEpisode` and `close`
   * write, so a caller with a schedule of its own (the control loop) writes only where a write
   * cannot delay anything.
   */
  writes?: 'auto' | 'caller';
}

export interface EpisodeStart {
  runId: number;
  task: string;
  kind: EpisodeKind;
  seed: number;
  /** Must match the run's spec: the blobs are decoded with the spec's lengths. */
  obsDim: number;
  actionDim: number;
}

export interface EpisodeEnd {
  outcome: EpisodeOutcome;
  /** The observation after the last step; without it the last step yields no transition. */
  finalObs?: ArrayLike<number>;
}

/**
 * A step as `record` takes it: arrays may be any array-like (a Float64Array…); they are copied.
 * `t` is seconds since the episode started.
 */
export type StepInput = Omit<Step, 'obs' | 'action' | 'proposed'> & {
  obs: ArrayLike<number>;
  action: ArrayLike<number>;
  proposed?: ArrayLike<number> | null;
};

/** A steps row ready to bind, in the INSERT's column order. */
type QueuedStep = [
  episodeId: number,
  idx: number,
  t: number,
  obs: Buffer,
  action: Buffer,
  proposed: Buffer | null,
  reward: number,
  done: number,
  truncated: number,
  source: string,
  intervened: number,
  policyVersion: number,
  safety: string | null,
];

interface OpenEpisode {
  obsDim: number;
  actionDim: number;
  nextIndex: number;
  return: number;
  intervenedSteps: number;
}

const SOURCES = new Set<string>(ActionSource.options);

/**
 * Writes steps in batches: `record` only validates and queues; the queue is written in one
 * transaction when it is `flushIntervalMs` old or `maxBatch` long, and by a timer (or the caller's
 * `flushIfDue`) when quiet.
 */
export class Recorder {
  #stepsWritten = 0;
  #flushes = 0;
  #lastFlushMs = 0;
  readonly #store: Store;
  readonly #db: Database.Database;
  readonly #flushIntervalMs: number;
  readonly #maxBatch: number;
  readonly #auto: boolean;
  #queue: QueuedStep[] = [];
  #queuedAt = 0;
  #open = new Map<number, OpenEpisode>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #timerError: StoreError | undefined;
  #unregister: () => void;
  readonly #insertStep: Database.Statement;
  readonly #insertEpisode: Database.Statement;
  readonly #updateTotals: Database.Statement;
  readonly #endEpisode: Database.Statement;
  readonly #writeBatch: Database.Transaction<(extra?: () => void) => void>;

  constructor(store: Store, opts: RecorderOptions = {}) {
    if (store.readonly) throw new StoreError(`${store.path} is open read-only: cannot record`);
    this.#store = store;
    this.#db = store.db;
    this.#flushIntervalMs = positiveInteger(opts.flushIntervalMs ?? 100, 'flushIntervalMs');
    this.#maxBatch = positiveInteger(opts.maxBatch ?? 1000, 'maxBatch');
    this.#insertStep = this.#db.prepare(
      `INSERT INTO steps (episode_id, idx, t, obs, action, proposed, reward, done, truncated,
         source, intervened, policy_version, safety) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertEpisode = this.#db.prepare(
      `INSERT INTO episodes (run_id, task, kind, seed, started_at, writer_pid)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#updateTotals = this.#db.prepare(
      'UPDATE episodes SET num_steps = ?, "return" = ?, intervened_steps = ? WHERE id = ?',
    );
    this.#endEpisode = this.#db.prepare(
      `UPDATE episodes SET num_steps = ?, "return" = ?, intervened_steps = ?, ended_at = ?,
         outcome = ?, final_obs = ? WHERE id = ?`,
    );
    this.#writeBatch = this.#db.transaction((extra?: () => void) => {
      const touched = new Set<number>();
      for (const row of this.#queue) {
        this.#insertStep.run(...row);
        touched.add(row[0]);
      }
      // Keeps each running episode's totals equal to its written steps, for live listings.
      for (const id of touched) {
        const e = this.#open.get(id);
        if (e) this.#updateTotals.run(e.nextIndex, e.return, e.intervenedSteps, id);
      }
      extra?.();
    });
    this.#auto = (opts.writes ?? 'auto') === 'auto';
    if (this.#auto) {
      this.#timer = setInterval(() => this.#flushFromTimer(), this.#flushIntervalMs);
      this.#timer.unref();
    }
    this.#unregister = store.beforeClose(() => this.close());
  }

  /** Steps queued and not yet written. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Steps written since this recorder was made. */
  get stepsWritten(): number {
    return this.#stepsWritten;
  }

  /** Write transactions so far (batches, and episode ends). */
  get flushes(): number {
    return this.#flushes;
  }

  /** How long the last write transaction took, in ms. */
  get lastFlushMs(): number {
    return this.#lastFlushMs;
  }

  /** Inserts the episode row now (so a crash leaves a trace) and returns its id. */
  beginEpisode(start: EpisodeStart): number {
    const dims = this.#store.dimsOfRun(start.runId);
    if (dims.obs !== start.obsDim || dims.action !== start.actionDim) {
      throw new StoreError(
        `episode of run ${start.runId}: obsDim ${start.obsDim} and actionDim ${start.actionDim} do not match the run's spec (${dims.obs} and ${dims.action})`,
      );
    }
    if (!EpisodeKind.safeParse(start.kind).success) {
      throw new StoreError(`episode kind ${String(start.kind)} is not one of demo, train, eval`);
    }
    if (!Number.isSafeInteger(start.seed)) {
      throw new StoreError(`episode seed ${start.seed} is not an integer`);
    }
    const id = Number(
      this.#insertEpisode.run(
        start.runId,
        start.task,
        start.kind,
        start.seed,
        Date.now(),
        process.pid,
      ).lastInsertRowid,
    );
    this.#open.set(id, {
      obsDim: start.obsDim,
      actionDim: start.actionDim,
      nextIndex: 0,
      return: 0,
      intervenedSteps: 0,
    });
    return id;
  }

  /**
   * Validates and queues one step; bad input throws a StoreError and queues nothing. Writes the
   * queue when it is due, so a call takes at most one flush.
   */
  record(episodeId: number, step: StepInput): void {
    this.#raiseTimerError();
    const e = this.#open.get(episodeId);
    if (!e) throw notRecording(episodeId);
    const where = `step ${step.index} of episode ${episodeId}`;
    if (step.index !== e.nextIndex) {
      throw new StoreError(`${where}: expected index ${e.nextIndex}; nothing was recorded`);
    }
    checkFloats(step.obs, e.obsDim, 'obs', where);
    checkFloats(step.action, e.actionDim, 'action', where);
    if (step.proposed != null) checkFloats(step.proposed, e.actionDim, 'proposed', where);
    checkScalars(step, where);

    const intervened = step.intervened ? 1 : 0;
    this.#queue.push([
      episodeId,
      step.index,
      step.t,
      encodeFloats(step.obs),
      encodeFloats(step.action),
      step.proposed == null ? null : encodeFloats(step.proposed),
      step.reward,
      step.done ? 1 : 0,
      step.truncated ? 1 : 0,
      step.source,
      intervened,
      step.policyVersion,
      encodeSafety(step.safety),
    ]);
    e.nextIndex++;
    e.return += step.reward;
    e.intervenedSteps += intervened;

    if (this.#queue.length === 1) this.#queuedAt = performance.now();
    if (!this.#auto) return;
    if (this.#queue.length >= this.#maxBatch) this.#write();
    else this.flushIfDue();
  }

  /** Writes the queue if its oldest step has waited `flushIntervalMs` or it is `maxBatch` long. */
  flushIfDue(): void {
    const n = this.#queue.length;
    if (
      n >= this.#maxBatch ||
      (n > 0 && performance.now() - this.#queuedAt >= this.#flushIntervalMs)
    ) {
      this.#write();
    }
  }

  /** Writes the queue and ends the episode in the same transaction. */
  endEpisode(episodeId: number, end: EpisodeEnd): void {
    this.#raiseTimerError();
    const e = this.#open.get(episodeId);
    if (!e) throw notRecording(episodeId);
    if (!EpisodeOutcome.safeParse(end.outcome).success) {
      throw new StoreError(`episode ${episodeId}: ${String(end.outcome)} is not an outcome`);
    }
    let finalObs: Buffer | null = null;
    if (end.finalObs !== undefined) {
      checkFloats(end.finalObs, e.obsDim, 'finalObs', `end of episode ${episodeId}`);
      finalObs = encodeFloats(end.finalObs);
    }
    this.#write(() => {
      const ended = [e.nextIndex, e.return, e.intervenedSteps, Date.now(), end.outcome, finalObs];
      this.#endEpisode.run(...ended, episodeId);
    });
    this.#open.delete(episodeId);
  }

  /** Writes every queued step now. */
  flush(): void {
    this.#raiseTimerError();
    if (this.#queue.length > 0) this.#write();
  }

  /** Flushes and stops the timer. Episodes still open stay running (marked interrupted later). */
  close(): void {
    clearInterval(this.#timer);
    this.#unregister();
    if (this.#queue.length > 0) this.#write();
  }

  #write(extra?: () => void): void {
    const started = performance.now();
    const count = this.#queue.length;
    try {
      // IMMEDIATE: waits (busy_timeout) for another writer instead of failing on a stale snapshot.
      this.#writeBatch.immediate(extra);
    } catch (err) {
      throw new StoreError(
        `could not write ${count} steps to ${this.#store.path} (${messageOf(err)}); they stay queued`,
        { cause: err },
      );
    }
    this.#queue = [];
    this.#stepsWritten += count;
    this.#flushes++;
    this.#lastFlushMs = performance.now() - started;
  }

  #flushFromTimer(): void {
    if (this.#queue.length === 0 || !this.#db.open) return;
    try {
      this.#write();
    } catch (err) {
      // Never thrown from a timer (it would kill the process): the next call raises it.
      this.#timerError = err as StoreError;
    }
  }

  #raiseTimerError(): void {
    const err = this.#timerError;
    this.#timerError = undefined;
    if (err) throw err;
  }
}

function notRecording(episodeId: number): StoreError {
  return new StoreError(`episode ${episodeId} is not being recorded (not begun, or ended)`);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new StoreError(`Recorder option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Loops rather than zod: record() must keep up with ≥100k steps/s. */
function checkFloats(values: ArrayLike<number>, dim: number, name: string, where: string): void {
  if (values == null || values.length !== dim) {
    const got = values == null ? String(values) : `${values.length} entries`;
    throw new StoreError(
      `${where}: ${name} must have ${dim} entries, got ${got}; nothing was recorded`,
    );
  }
  for (let i = 0; i < dim; i++) {
    const v = values[i];
    // fround: a finite double beyond float32's range would be stored as Infinity.
    if (typeof v !== 'number' || !Number.isFinite(Math.fround(v))) {
      throw new StoreError(
        `${where}: ${name}[${i}] is ${String(v)}, not a finite float32; nothing was recorded`,
      );
    }
  }
}

function checkScalars(step: StepInput, where: string): void {
  const bad = (field: string, value: unknown, want: string) =>
    new StoreError(`${where}: ${field} is ${String(value)}, ${want}; nothing was recorded`);
  if (typeof step.t !== 'number' || !(step.t >= 0) || step.t === Infinity) {
    throw bad('t', step.t, 'not a time ≥ 0 (seconds since the episode started)');
  }
  if (typeof step.reward !== 'number' || !Number.isFinite(step.reward)) {
    throw bad('reward', step.reward, 'not a finite number');
  }
  for (const flag of ['done', 'truncated', 'intervened'] as const) {
    if (typeof step[flag] !== 'boolean') throw bad(flag, step[flag], 'not a boolean');
  }
  if (!SOURCES.has(step.source)) throw bad('source', step.source, 'not policy, human or scripted');
  if (!Number.isSafeInteger(step.policyVersion) || step.policyVersion < 0) {
    throw bad('policyVersion', step.policyVersion, 'not an integer ≥ 0');
  }
}
