import type { Statement } from 'better-sqlite3';
import { decodeFloats, encodeFloats } from './blob.ts';
import type { Store } from './store.ts';

/** One received transition row, as the remote learner keeps it. */
export interface ReceivedRow {
  /** Its place in the run's log (ascending in the order the learner took rows in). */
  id: number;
  actor: string;
  seq: number;
  source: string;
  obs: Float32Array;
  action: Float32Array;
  reward: number;
  nextObs: Float32Array;
  done: boolean;
}

/**
 * A remote learner's log of the transitions its actors sent (the `received` table): what refills
 * its replay buffers on `--resume`, and where each actor's stream stands. Rows are written before
 * the learner acknowledges them, in one transaction a batch, so an acknowledged row is on disk.
 */
export class ReceivedLog {
  readonly #store: Store;
  readonly #runId: number;
  readonly #insert: Statement;

  constructor(store: Store, runId: number) {
    this.#store = store;
    this.#runId = runId;
    this.#insert = store.db.prepare(
      `INSERT INTO received (run_id, actor, seq, source, obs, action, reward, next_obs, done, t)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Each actor's last stored sequence number. */
  acked(): Map<string, number> {
    const rows = this.#store.db
      .prepare('SELECT actor, MAX(seq) AS seq FROM received WHERE run_id = ? GROUP BY actor')
      .all(this.#runId) as { actor: string; seq: number }[];
    return new Map(rows.map((r) => [r.actor, r.seq]));
  }

  /** Rows stored per actor and source. */
  counts(): { actor: string; source: string; n: number }[] {
    return this.#store.db
      .prepare(
        'SELECT actor, source, COUNT(*) AS n FROM received WHERE run_id = ? GROUP BY actor, source ORDER BY actor, source',
      )
      .all(this.#runId) as { actor: string; source: string; n: number }[];
  }

  /** The id of the last row stored (0: none). */
  lastId(): number {
    const row = this.#store.db
      .prepare('SELECT MAX(id) AS id FROM received WHERE run_id = ?')
      .get(this.#runId) as { id: number | null };
    return row.id ?? 0;
  }

  /** Stores rows of one actor, numbered `firstSeq` on, in one transaction. */
  append(
    actor: string,
    firstSeq: number,
    rows: readonly Omit<ReceivedRow, 'id' | 'actor' | 'seq'>[],
  ): void {
    const t = Date.now();
    this.#store.db
      .transaction(() => {
        rows.forEach((r, i) =>
          this.#insert.run(
            this.#runId,
            actor,
            firstSeq + i,
            r.source,
            encodeFloats(r.obs),
            encodeFloats(r.action),
            r.reward,
            encodeFloats(r.nextObs),
            r.done ? 1 : 0,
            t,
          ),
        );
      })
      .immediate();
  }

  /** Rows with `after` < id ≤ `upTo`, in id order, `chunk` at a time. */
  *read(after: number, upTo: number, chunk = 2048): Generator<ReceivedRow[]> {
    const select = this.#store.db.prepare(
      `SELECT id, actor, seq, source, obs, action, reward, next_obs, done FROM received
       WHERE run_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?`,
    );
    for (let from = after; ;) {
      const rows = select.all(this.#runId, from, upTo, chunk) as {
        id: number;
        actor: string;
        seq: number;
        source: string;
        obs: Buffer;
        action: Buffer;
        reward: number;
        next_obs: Buffer;
        done: number;
      }[];
      if (rows.length === 0) return;
      yield rows.map((r) => ({
        id: r.id,
        actor: r.actor,
        seq: r.seq,
        source: r.source,
        obs: decodeFloats(r.obs),
        action: decodeFloats(r.action),
        reward: r.reward,
        nextObs: decodeFloats(r.next_obs),
        done: r.done === 1,
      }));
      from = rows.at(-1)!.id;
    }
  }
}
