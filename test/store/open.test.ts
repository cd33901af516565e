import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { EpisodeOutcome } from '../../src/protocol/index.ts';
import { LATEST_SCHEMA, Recorder, Store, StoreError } from '../../src/store/index.ts';
import { MIGRATIONS } from '../../src/store/schema.ts';
import { createTestRun, makeStep, snapshot, tempDir } from './helpers.ts';

function raw(path: string): Database.Database {
  return new Database(path);
}

test('a new file gets every migration, WAL and foreign keys', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'nested', 'deeper', 'tandem.db');
  const store = Store.open(path);
  t.after(() => store.close());
  assert.ok(LATEST_SCHEMA >= 1);
  assert.equal(store.db.pragma('user_version', { simple: true }), LATEST_SCHEMA);
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(store.db.pragma('synchronous', { simple: true }), 1); // NORMAL
  assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
  const tables = store.db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .pluck()
    .all();
  assert.deepEqual(tables, [
    'checkpoints',
    'episodes',
    'events',
    'metrics',
    'received',
    'runs',
    'steps',
  ]);
});

test('opening again keeps the data and runs no migration twice', (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const first = Store.open(path);
  const runId = createTestRun(first);
  first.close();
  const again = Store.open(path);
  t.after(() => again.close());
  assert.equal(again.getRun(runId)?.codeVersion, 'test');
  assert.equal(again.db.pragma('user_version', { simple: true }), LATEST_SCHEMA);
});

test('the outcome CHECK accepts every EpisodeOutcome (a new outcome needs a migration)', (t) => {
  const store = Store.open(join(tempDir(t), 'tandem.db'));
  t.after(() => store.close());
  const runId = createTestRun(store);
  const insert = store.db.prepare(
    'INSERT INTO episodes (run_id, task, kind, seed, started_at, outcome, writer_pid) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  for (const outcome of EpisodeOutcome.options) {
    insert.run(runId, 'probe', 'eval', 0, 1, outcome, process.pid);
  }
  assert.throws(() => insert.run(runId, 'probe', 'eval', 0, 1, 'exploded', process.pid), /CHECK/);
  assert.throws(() => insert.run(runId, 'probe', 'play', 0, 1, null, process.pid), /CHECK/);
});

test('a database from a newer Tandem is refused and left byte-for-byte as it was', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'tandem.db');
  Store.open(path).close();
  const db = raw(path);
  db.pragma('user_version = 7');
  db.close();
  const before = snapshot(path, dir);

  assert.throws(
    () => Store.open(path),
    (err: unknown) =>
      err instanceof StoreError &&
      err.message ===
        `${path} was written by a newer Tandem (schema 7; this one reads up to ${LATEST_SCHEMA}). Upgrade Tandem to open it; the file was not changed.`,
  );
  assert.throws(() => Store.open(path, { readonly: true }), /newer Tandem \(schema 7;/);
  assert.deepEqual(snapshot(path, dir), before);
});

test('a newer schema still in the -wal file (crashed writer) is refused without a checkpoint', (t) => {
  const dir = tempDir(t);
  const live = join(dir, 'live.db');
  Store.open(live).close();
  const writer = raw(live);
  t.after(() => writer.close());
  writer.pragma('wal_autocheckpoint = 0');
  writer.pragma('user_version = 9');
  // Copy while the writer is open: the copy is what a crash leaves, the change only in its WAL.
  const path = join(dir, 'crashed.db');
  copyFileSync(live, path);
  copyFileSync(`${live}-wal`, `${path}-wal`);
  const main = readFileSync(path);
  assert.equal(main.readInt32BE(60), LATEST_SCHEMA, 'the main file still says the current schema');

  assert.throws(() => Store.open(path), /newer Tandem \(schema 9;/);
  assert.deepEqual(readFileSync(path), main);
});

test('a garbage file is refused in one line, unchanged, with no -wal or -shm left', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'notes.db');
  writeFileSync(path, Buffer.from('these are my notes, not a database\n'.repeat(300)));
  const before = snapshot(path, dir);
  for (const readonly of [false, true]) {
    assert.throws(
      () => Store.open(path, { readonly }),
      (err: unknown) =>
        err instanceof StoreError &&
        err.message === `${path} is not a Tandem database (file is not a database)` &&
        !err.message.includes('\n'),
    );
  }
  assert.deepEqual(snapshot(path, dir), before);
});

test('a corrupt Tandem file is refused, unchanged, with no -wal or -shm left', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'tandem.db');
  const store = Store.open(path);
  createTestRun(store);
  store.close();
  const bytes = readFileSync(path);
  bytes.fill(0xa5, 100, 4096); // the schema page, after the header
  writeFileSync(path, bytes);
  const before = snapshot(path, dir);
  assert.throws(
    () => Store.open(path),
    /^StoreError: .* is not a Tandem database \(database disk image is malformed\)$/m,
  );
  assert.throws(
    () => Store.open(path),
    (err: unknown) =>
      err instanceof StoreError && err.message.startsWith(`${path} is not a Tandem database (`),
  );
  assert.deepEqual(snapshot(path, dir), before);
});

test("another application's SQLite file is refused and unchanged", (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'other.db');
  const db = raw(path);
  db.exec('CREATE TABLE contacts (name TEXT)');
  db.close();
  const before = snapshot(path, dir);
  assert.throws(
    () => Store.open(path),
    /other\.db is not a Tandem database \(it belongs to another application\)/,
  );
  assert.deepEqual(snapshot(path, dir), before);
});

test('an empty file becomes a new database', (t) => {
  const path = join(tempDir(t), 'empty.db');
  writeFileSync(path, '');
  const store = Store.open(path);
  t.after(() => store.close());
  assert.equal(store.db.pragma('user_version', { simple: true }), LATEST_SCHEMA);
});

test('read-only: a missing file is not created; an existing one reads but never writes', (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'missing.db');
  assert.throws(
    () => Store.open(missing, { readonly: true }),
    new StoreError(`${missing} does not exist`),
  );
  assert.equal(existsSync(missing), false);

  const path = join(dir, 'tandem.db');
  const writer = Store.open(path);
  const runId = createTestRun(writer);
  writer.close();
  const reader = Store.open(path, { readonly: true });
  t.after(() => reader.close());
  assert.equal(reader.getRun(runId)?.task, 'probe');
  assert.throws(() => createTestRun(reader), /readonly/);
});

test('a file of schema 1 is migrated: its episodes gain an empty trim, nothing else changes', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'v1.db');
  const db = raw(path);
  db.pragma('journal_mode = WAL');
  db.exec(MIGRATIONS[0]!);
  db.pragma('user_version = 1');
  db.close();
  const store = Store.open(path);
  t.after(() => store.close());
  assert.equal(store.db.pragma('user_version', { simple: true }), LATEST_SCHEMA);
  const runId = createTestRun(store);
  const recorder = new Recorder(store);
  const id = recorder.beginEpisode({
    runId,
    task: 'probe',
    kind: 'demo',
    seed: 0,
    obsDim: 4,
    actionDim: 2,
  });
  for (let i = 0; i < 4; i++) recorder.record(id, makeStep(i));
  recorder.endEpisode(id, { outcome: 'success', finalObs: [0, 0, 0, 0] });
  recorder.close();
  assert.equal(store.getEpisode(id)!.trim, undefined);
  assert.equal(store.readTransitions(id).length, 4);
  store.updateEpisode(id, { trim: { start: 1, end: 3 } });
  assert.deepEqual(store.getEpisode(id)!.trim, { start: 1, end: 3 });
  assert.deepEqual(
    store.readTransitions(id).map((tr) => tr.obs[0]),
    [1, 2].map((i) => Math.fround(makeStep(i).obs[0]!)),
  );
  assert.equal(store.readTransitions(id, { all: true }).length, 4, 'all: what was trained on');
  assert.throws(() => store.updateEpisode(id, { trim: { start: 2, end: 2 } }), /before its end/);
  assert.throws(() => store.updateEpisode(id, { trim: { start: 0, end: 5 } }), /has 4 steps/);
});
