import type Database from 'better-sqlite3';
import { z } from 'zod';
import { Episode, RobotSpec, RunConfig, type Step, type Transition } from '../protocol/index.ts';
import { EpisodeFilter, episodeOrderAndPage, episodeWhere } from './episode-filter.ts';
import { StoreError, messageOf } from './errors.ts';
import { openDatabase } from './open.ts';
import { episodesAsRecovered, markInterrupted } from './recover.ts';
import { Metric, Run, StoredEvent, optional, parseInput, parseRow } from './rows.ts';
import { LATEST_SCHEMA, migrate, schemaVersion } from './schema.ts';
import {
  type Dims,
  STEP_COLUMNS,
  decodeBlob,
  dimsOf,
  stepFromRow,
  transitionsFromRows,
} from './steps.ts';

export interface StoreOptions {
  /** Open without writing anything: no migration, no recovery of interrupted episodes. */
  readonly?: boolean;
}

export interface NewRun {
  command: string;
  task: string;
  config: z.input<typeof RunConfig>;
  /** The blob layout of every episode of the run: its observation and action names. */
  spec: RobotSpec;
  codeVersion?: string;
  backend?: string;
}

export interface EpisodePatch {
  /** 'none' removes the label. */
  label?: 'success' | 'failure' | 'none';
  /** An empty string removes the notes. */
  notes?: string;
  /** Soft delete: the episode and its steps stay, `listEpisodes` hides it by default. */
  deleted?: boolean;
  /** Keep only steps [start, end) for learning (`readTransitions`); null keeps them all again. */
  trim?: { start: number; end: number } | null;
}

export interface NewEvent {
  runId: number;
  episodeId?: number;
  kind: string;
  payload?: unknown;
}

export interface NewMetric {
  step: number;
  name: string;
  value: number;
  /** Epoch ms; now if left out. */
  t?: number;
}

/** A stored learner checkpoint (see src/learner/checkpoint.ts for what meta and payload hold). */
export interface StoredCheckpoint {
  id: number;
  runId: number;
  /** The learner step it was taken at. */
  step: number;
  /** Epoch ms. */
  createdAt: number;
  meta: unknown;
  payload: Buffer;
}

/** A checkpoint without its payload, as `listCheckpoints` returns it. */
export type CheckpointInfo = Omit<StoredCheckpoint, 'payload'> & { payloadBytes: number };

const EPISODE_COLUMNS = `id, run_id, task, kind, seed, started_at, ended_at, outcome, num_steps,
  "return", intervened_steps, label, notes, deleted_at, trim_start, trim_end`;

const EpisodePatchInput = z
  .object({
    label: z.enum(['success', 'failure', 'none']).optional(),
    notes: z.string().optional(),
    deleted: z.boolean().optional(),
    trim: z
      .object({ start: z.number().int().nonnegative(), end: z.number().int().positive() })
      .refine((t) => t.start < t.end, 'trim start must be before its end')
      .nullable()
      .optional(),
  })
  .strict();

type Row = Record<string, unknown>;

/** The Tandem database: runs, episodes and their steps, events and metrics, in one SQLite file. */
export class Store {
  readonly path: string;
  readonly readonly: boolean;
  /** The connection, for the store's own modules (the Recorder); everything else uses methods. */
  readonly db: Database.Database;
  /** Episodes found running under a dead process when this store opened, now `interrupted`. */
  readonly interruptedOnOpen: readonly number[];
  #dims = new Map<number, Dims>();
  #beforeClose = new Set<() => void>();
  readonly #changes: Database.Statement;

  private constructor(
    path: string,
    db: Database.Database,
    readonly: boolean,
    interrupted: number[],
  ) {
    this.path = path;
    this.db = db;
    this.readonly = readonly;
    this.interruptedOnOpen = interrupted;
    this.#changes = db.prepare('SELECT total_changes()').pluck();
  }

  /** Opens (creating it and its folder if needed) and upgrades the database. Throws StoreError. */
  static open(path: string, opts: StoreOptions = {}): Store {
    const readonly = opts.readonly ?? false;
    const db = openDatabase(path, readonly);
    try {
      if (readonly) {
        const version = schemaVersion(db);
        if (version < LATEST_SCHEMA) {
          throw new StoreError(
            `${path} has schema ${version}, older than this Tandem's ${LATEST_SCHEMA}; open it once without read-only to upgrade it`,
          );
        }
        return new Store(path, db, true, []);
      }
      migrate(db);
      return new Store(path, db, false, markInterrupted(db));
    } catch (err) {
      db.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError(`${path} could not be prepared (${messageOf(err)})`, { cause: err });
    }
  }

  createRun(run: NewRun): number {
    const config = parseInput(RunConfig, run.config, 'run config');
    const spec = parseInput(RobotSpec, run.spec, 'run spec');
    const result = this.db
      .prepare(
        `INSERT INTO runs (created_at, command, task, config, spec, code_version, backend)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        Date.now(),
        run.command,
        run.task,
        JSON.stringify(config),
        JSON.stringify(spec),
        run.codeVersion ?? null,
        run.backend ?? null,
      );
    return Number(result.lastInsertRowid);
  }

  /** Records which tensor backend a run's learner ended up on (known only once it started). */
  /** Rows changed by this connection since it opened (SQLite's total_changes): a write counter. */
  changes(): number {
    return this.#changes.get() as number;
  }

  setRunBackend(id: number, backend: string): void {
    this.db.prepare('UPDATE runs SET backend = ? WHERE id = ?').run(backend, id);
  }

  getRun(id: number): Run | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined;
    if (!row) return undefined;
    const what = `run ${id}`;
    return parseRow(
      Run,
      {
        id: row.id,
        createdAt: row.created_at,
        command: row.command,
        task: row.task,
        config: parseJson(row.config, `${what}: config`),
        spec: parseJson(row.spec, `${what}: spec`),
        codeVersion: optional(row.code_version),
        backend: optional(row.backend),
      },
      what,
    );
  }

  /**
   * The episodes the filter selects. One whose writer died reads as interrupted here, marked in
   * the file or not yet (see episodesAsRecovered): readers never show a dead run as running.
   */
  listEpisodes(filter: EpisodeFilter = {}): Episode[] {
    const parsed = parseInput(EpisodeFilter, filter, 'episode filter');
    const where = episodeWhere(parsed);
    const page = episodeOrderAndPage(parsed);
    const from = episodesAsRecovered(this.db);
    const rows = this.db
      .prepare(`SELECT ${EPISODE_COLUMNS} FROM ${from.sql}${where.sql}${page.sql}`)
      .all(...from.params, ...where.params, ...page.params) as Row[];
    return rows.map(episodeFromRow);
  }

  /** How many episodes match the filter (its order, limit and offset are ignored). */
  countEpisodes(filter: EpisodeFilter = {}): number {
    const where = episodeWhere(parseInput(EpisodeFilter, filter, 'episode filter'));
    const from = episodesAsRecovered(this.db);
    const count = this.db
      .prepare(`SELECT count(*) FROM ${from.sql}${where.sql}`)
      .pluck()
      .get(...from.params, ...where.params);
    return count as number;
  }

  /** The episode, read as `listEpisodes` reads it (interrupted if its writer died). */
  getEpisode(id: number): Episode | undefined {
    const from = episodesAsRecovered(this.db);
    const row = this.db
      .prepare(`SELECT ${EPISODE_COLUMNS} FROM ${from.sql} WHERE id = ?`)
      .get(...from.params, id);
    return row ? episodeFromRow(row as Row) : undefined;
  }

  /** Every recorded step of the episode, in order, with its arrays decoded (float32 precision). */
  readSteps(episodeId: number): Step[] {
    const dims = this.#dimsOfEpisode(episodeId).dims;
    return this.db
      .prepare(`SELECT ${STEP_COLUMNS} FROM steps WHERE episode_id = ? ORDER BY idx`)
      .all(episodeId)
      .map((raw, i) => stepFromRow(raw, dims, episodeId, i));
  }

  /** The episode as (s, a, r, s', done) transitions; see `transitionsFromRows` for the pairing. */
  /**
   * The episode's transitions: only those its trim keeps (see EpisodePatch.trim), or every one
   * with `all` (what a learner that trained on the episode as it ran saw).
   */
  readTransitions(episodeId: number, { all = false } = {}): Transition[] {
    const { dims, finalObs } = this.#dimsOfEpisode(episodeId);
    const rows = this.db
      .prepare(`SELECT ${STEP_COLUMNS} FROM steps WHERE episode_id = ? ORDER BY idx`)
      .all(episodeId);
    const transitions = transitionsFromRows(rows, finalObs, dims, episodeId);
    const trim = all ? undefined : this.getEpisode(episodeId)?.trim;
    return trim ? transitions.slice(trim.start, trim.end) : transitions;
  }

  /** The observation after the episode's last step (float32 precision), if it ended with one. */
  readFinalObs(episodeId: number): number[] | undefined {
    const { dims, finalObs } = this.#dimsOfEpisode(episodeId);
    if (!finalObs) return undefined;
    return Array.from(decodeBlob(finalObs, dims.obs, `episode ${episodeId}: final_obs`));
  }

  updateEpisode(id: number, patch: EpisodePatch): Episode {
    const p = parseInput(EpisodePatchInput, patch, `change to episode ${id}`);
    const sets: string[] = [];
    const params: (string | number | null)[] = [];
    if (p.label !== undefined) {
      sets.push('label = ?');
      params.push(p.label === 'none' ? null : p.label);
    }
    if (p.notes !== undefined) {
      sets.push('notes = ?');
      params.push(p.notes === '' ? null : p.notes);
    }
    if (p.deleted !== undefined) {
      sets.push(p.deleted ? 'deleted_at = coalesce(deleted_at, ?)' : 'deleted_at = NULL');
      if (p.deleted) params.push(Date.now());
    }
    if (p.trim !== undefined) {
      const steps = this.getEpisode(id)?.numSteps;
      if (p.trim && steps !== undefined && p.trim.end > steps) {
        throw new StoreError(
          `episode ${id} has ${steps} steps: cannot trim to [${p.trim.start}, ${p.trim.end})`,
        );
      }
      sets.push('trim_start = ?', 'trim_end = ?');
      params.push(p.trim?.start ?? null, p.trim?.end ?? null);
    }
    if (sets.length > 0) {
      this.db.prepare(`UPDATE episodes SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
    }
    const episode = this.getEpisode(id);
    if (!episode) throw new StoreError(`there is no episode ${id} in ${this.path}`);
    return episode;
  }

  addEvent(event: NewEvent): number {
    const result = this.db
      .prepare('INSERT INTO events (run_id, episode_id, t, kind, payload) VALUES (?, ?, ?, ?, ?)')
      .run(
        event.runId,
        event.episodeId ?? null,
        Date.now(),
        event.kind,
        JSON.stringify(event.payload ?? {}),
      );
    return Number(result.lastInsertRowid);
  }

  listEvents(runId: number): StoredEvent[] {
    const rows = this.db
      .prepare('SELECT * FROM events WHERE run_id = ? ORDER BY t, id')
      .all(runId) as Row[];
    return rows.map((row) => {
      const what = `event ${String(row.id)}`;
      return parseRow(
        StoredEvent,
        {
          id: row.id,
          runId: row.run_id,
          episodeId: optional(row.episode_id),
          t: row.t,
          kind: row.kind,
          payload: parseJson(row.payload, `${what}: payload`),
        },
        what,
      );
    });
  }

  /** Appends metric rows in one transaction. */
  addMetrics(runId: number, rows: readonly NewMetric[]): void {
    const insert = this.db.prepare(
      'INSERT INTO metrics (run_id, step, name, value, t) VALUES (?, ?, ?, ?, ?)',
    );
    const now = Date.now();
    this.db
      .transaction(() => {
        // SQLite stores NaN as NULL; readMetrics turns it back into NaN.
        for (const m of rows) insert.run(runId, m.step, m.name, m.value, m.t ?? now);
      })
      .immediate();
  }

  /** A run's metrics (one name, or all; only after a learner step if given), by name then step. */
  readMetrics(runId: number, name?: string, afterStep?: number): Metric[] {
    const byName = name === undefined ? '' : ' AND name = ?';
    const after = afterStep === undefined ? '' : ' AND step > ?';
    const params = [runId, ...(name === undefined ? [] : [name]), ...(after ? [afterStep!] : [])];
    const rows = this.db
      .prepare(
        `SELECT run_id, step, name, value, t FROM metrics WHERE run_id = ?${byName}${after}
         ORDER BY name, step, rowid`,
      )
      .all(...params) as Row[];
    return rows.map((row, i) =>
      parseRow(
        Metric,
        { runId: row.run_id, step: row.step, name: row.name, value: row.value ?? NaN, t: row.t },
        `metric row ${i} of run ${runId}`,
      ),
    );
  }

  /** Stores a learner checkpoint of the run; `meta` must be JSON (non-finite numbers are refused). */
  saveCheckpoint(runId: number, step: number, meta: unknown, payload: Uint8Array): number {
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new StoreError(`checkpoint step must be a non-negative integer, got ${step}`);
    }
    if (payload.byteLength === 0) throw new StoreError('checkpoint payload is empty');
    const json = JSON.stringify(meta, (key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new StoreError(`checkpoint meta is invalid: ${key || 'meta'} is ${value}`);
      }
      return value;
    });
    if (json === undefined) throw new StoreError('checkpoint meta is invalid: not JSON');
    if (this.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId) === undefined) {
      throw new StoreError(`there is no run ${runId} in ${this.path}`);
    }
    const blob = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const result = this.db
      .prepare(
        'INSERT INTO checkpoints (run_id, step, created_at, meta, payload) VALUES (?, ?, ?, ?, ?)',
      )
      .run(runId, step, Date.now(), json, blob);
    return Number(result.lastInsertRowid);
  }

  /** Deletes all but the run's newest `keep` checkpoints (by step, then id); returns how many went. */
  pruneCheckpoints(runId: number, keep: number): number {
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw new StoreError(`pruneCheckpoints keeps at least 1 checkpoint, got ${keep}`);
    }
    const result = this.db
      .prepare(
        `DELETE FROM checkpoints WHERE run_id = ? AND id NOT IN
           (SELECT id FROM checkpoints WHERE run_id = ? ORDER BY step DESC, id DESC LIMIT ?)`,
      )
      .run(runId, runId, keep);
    return result.changes;
  }

  /** Deletes one checkpoint (a superseded rollback point); false if there was none. */
  deleteCheckpoint(id: number): boolean {
    return this.db.prepare('DELETE FROM checkpoints WHERE id = ?').run(id).changes > 0;
  }

  /** The run's checkpoint at its highest step (the newest one of that step). */
  latestCheckpoint(runId: number): StoredCheckpoint | undefined {
    const row = this.db
      .prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC, id DESC LIMIT 1')
      .get(runId) as Row | undefined;
    return row ? checkpointFromRow(row) : undefined;
  }

  getCheckpoint(id: number): StoredCheckpoint | undefined {
    const row = this.db.prepare('SELECT * FROM checkpoints WHERE id = ?').get(id) as
      Row | undefined;
    return row ? checkpointFromRow(row) : undefined;
  }

  /** The run's checkpoints by step then id, without their payloads. */
  listCheckpoints(runId: number): CheckpointInfo[] {
    const rows = this.db
      .prepare(
        `SELECT id, run_id, step, created_at, meta, length(payload) AS payload_bytes
         FROM checkpoints WHERE run_id = ? ORDER BY step, id`,
      )
      .all(runId) as Row[];
    return rows.map((row) => {
      const what = `checkpoint ${String(row.id)}`;
      return {
        id: row.id as number,
        runId: row.run_id as number,
        step: row.step as number,
        createdAt: row.created_at as number,
        meta: parseJson(row.meta, `${what}: meta`),
        payloadBytes: row.payload_bytes as number,
      };
    });
  }

  /** Runs `fn` before the connection closes (a Recorder flushes there); returns its removal. */
  beforeClose(fn: () => void): () => void {
    this.#beforeClose.add(fn);
    return () => this.#beforeClose.delete(fn);
  }

  /** Flushes registered recorders, then closes. Safe to call twice. */
  close(): void {
    if (!this.db.open) return;
    let failure: unknown;
    for (const fn of [...this.#beforeClose]) {
      try {
        fn();
      } catch (err) {
        failure ??= err;
      }
    }
    this.#beforeClose.clear();
    if (!this.readonly) this.db.pragma('optimize');
    this.db.close();
    if (failure) throw failure;
  }

  #dimsOfEpisode(episodeId: number): { dims: Dims; finalObs: Buffer | undefined } {
    const row = this.db
      .prepare('SELECT run_id, final_obs FROM episodes WHERE id = ?')
      .get(episodeId) as { run_id: number; final_obs: Buffer | null } | undefined;
    if (!row) throw new StoreError(`there is no episode ${episodeId} in ${this.path}`);
    return { dims: this.dimsOfRun(row.run_id), finalObs: optional(row.final_obs) };
  }

  /** Lengths of the run's obs and action arrays, from its spec (runs never change: cached). */
  dimsOfRun(runId: number): Dims {
    let dims = this.#dims.get(runId);
    if (!dims) {
      const spec = this.db.prepare('SELECT spec FROM runs WHERE id = ?').pluck().get(runId);
      if (spec === undefined) throw new StoreError(`there is no run ${runId} in ${this.path}`);
      const what = `run ${runId}: spec`;
      dims = dimsOf(parseRow(RobotSpec, parseJson(spec, what), what));
      this.#dims.set(runId, dims);
    }
    return dims;
  }
}

function episodeFromRow(row: Row): Episode {
  return parseRow(
    Episode,
    {
      id: row.id,
      runId: row.run_id,
      task: row.task,
      kind: row.kind,
      seed: row.seed,
      startedAt: row.started_at,
      endedAt: optional(row.ended_at),
      outcome: optional(row.outcome),
      numSteps: row.num_steps,
      return: row.return,
      intervenedSteps: row.intervened_steps,
      label: optional(row.label),
      notes: optional(row.notes),
      ...(row.trim_start !== null && row.trim_end !== null
        ? { trim: { start: row.trim_start, end: row.trim_end } }
        : {}),
      deleted: row.deleted_at !== null,
    },
    `episode ${String(row.id)}`,
  );
}

function checkpointFromRow(row: Row): StoredCheckpoint {
  const what = `checkpoint ${String(row.id)}`;
  if (!Buffer.isBuffer(row.payload)) {
    throw new StoreError(`${what} cannot be read: its payload is not a blob`);
  }
  return {
    id: row.id as number,
    runId: row.run_id as number,
    step: row.step as number,
    createdAt: row.created_at as number,
    meta: parseJson(row.meta, `${what}: meta`),
    payload: row.payload,
  };
}

function parseJson(text: unknown, what: string): unknown {
  if (typeof text !== 'string') throw new StoreError(`${what} cannot be read: not JSON text`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new StoreError(`${what} cannot be read: ${messageOf(err)}`, { cause: err });
  }
}
