import type Database from 'better-sqlite3';

/** `PRAGMA application_id` of a Tandem database ("TNDM"), so another app's SQLite file is refused. */
export const TANDEM_APPLICATION_ID = 0x544e444d;

/**
 * The schema, one migration per version; migration N brings `user_version` from N-1 to N.
 * Never edit a released migration: add the next one. Times are Unix epoch milliseconds, except
 * `steps.t`: seconds since the episode started. Float arrays are little-endian Float32 blobs
 * whose lengths follow `runs.spec`.
 */
export const MIGRATIONS: readonly string[] = [
  `
  PRAGMA application_id = ${TANDEM_APPLICATION_ID};

  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    command TEXT NOT NULL,
    task TEXT NOT NULL,
    config TEXT NOT NULL CHECK (json_valid(config)),
    spec TEXT NOT NULL CHECK (json_valid(spec)),
    code_version TEXT,
    backend TEXT
  ) STRICT;

  CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    task TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('demo', 'train', 'eval')),
    seed INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    outcome TEXT CHECK (outcome IN ('success', 'failure', 'timeout', 'interrupted', 'discarded')),
    num_steps INTEGER NOT NULL DEFAULT 0,
    "return" REAL NOT NULL DEFAULT 0,
    intervened_steps INTEGER NOT NULL DEFAULT 0,
    final_obs BLOB,
    label TEXT CHECK (label IN ('success', 'failure')),
    notes TEXT,
    deleted_at REAL,
    writer_pid INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX episodes_run_started ON episodes (run_id, started_at);
  CREATE INDEX episodes_started ON episodes (started_at);
  CREATE INDEX episodes_kind_started ON episodes (kind, started_at);
  CREATE INDEX episodes_outcome_started ON episodes (outcome, started_at);
  CREATE INDEX episodes_running ON episodes (id) WHERE outcome IS NULL;

  CREATE TABLE steps (
    episode_id INTEGER NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL CHECK (idx >= 0),
    t REAL NOT NULL,
    obs BLOB NOT NULL,
    action BLOB NOT NULL,
    proposed BLOB,
    reward REAL NOT NULL,
    done INTEGER NOT NULL CHECK (done IN (0, 1)),
    truncated INTEGER NOT NULL CHECK (truncated IN (0, 1)),
    source TEXT NOT NULL CHECK (source IN ('policy', 'human', 'scripted')),
    intervened INTEGER NOT NULL CHECK (intervened IN (0, 1)),
    policy_version INTEGER NOT NULL,
    PRIMARY KEY (episode_id, idx)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    step INTEGER NOT NULL,
    created_at REAL NOT NULL,
    meta TEXT NOT NULL CHECK (json_valid(meta)),
    payload BLOB NOT NULL
  ) STRICT;
  CREATE INDEX checkpoints_run_step ON checkpoints (run_id, step);

  -- value NULL stands for NaN (SQLite stores NaN as NULL); a NaN loss is worth keeping.
  CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    t REAL NOT NULL
  ) STRICT;
  CREATE INDEX metrics_run_name_step ON metrics (run_id, name, step);

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    episode_id INTEGER REFERENCES episodes (id),
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL CHECK (json_valid(payload))
  ) STRICT;
  CREATE INDEX events_run_t ON events (run_id, t);
  `,
  // 2: an episode's trim, the steps [trim_start, trim_end) kept for learning (NULL: all of them).
  `
  ALTER TABLE episodes ADD COLUMN trim_start INTEGER;
  ALTER TABLE episodes ADD COLUMN trim_end INTEGER;
  `,
  // 3: each step's safety verdict, "verdict" or "verdict:reason,reason" (NULL: recorded before).
  `
  ALTER TABLE steps ADD COLUMN safety TEXT;
  `,
  // 4: a remote learner's received transitions (tandem learner serve), each actor's rows numbered
  // by the actor from 1 without gaps; source: policy | human | scripted | demo.
  `
  CREATE TABLE received (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    actor TEXT NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    obs BLOB NOT NULL,
    action BLOB NOT NULL,
    reward REAL NOT NULL,
    next_obs BLOB NOT NULL,
    done INTEGER NOT NULL,
    t REAL NOT NULL,
    UNIQUE (run_id, actor, seq)
  );
  `,
];

/** The newest schema this code reads and writes. */
export const LATEST_SCHEMA = MIGRATIONS.length;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies the missing migrations in order, each in its own write transaction. */
export function migrate(db: Database.Database): void {
  for (let version = schemaVersion(db) + 1; version <= LATEST_SCHEMA; version++) {
    db.transaction(() => {
      // Re-read inside the write lock: another process may have migrated meanwhile.
      if (schemaVersion(db) >= version) return;
      db.exec(MIGRATIONS[version - 1] as string);
      db.pragma(`user_version = ${version}`);
    }).immediate();
  }
}
