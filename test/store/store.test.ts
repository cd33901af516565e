import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { RunConfig } from '../../src/protocol/index.ts';
import { Recorder, Store, StoreError } from '../../src/store/index.ts';
import { createTestRun, openTemp, recordEpisode, tempDir, testSpec } from './helpers.ts';

/** Four episodes over two runs with known lengths, returns and start times. */
function library(store: Store) {
  const runA = createTestRun(store);
  const runB = createTestRun(store);
  const rec = new Recorder(store);
  const e1 = recordEpisode(rec, runA, 10, { kind: 'demo', reward: 5, intervenedEvery: 3 });
  const e2 = recordEpisode(rec, runA, 30, { outcome: 'failure', reward: 0 });
  const e3 = recordEpisode(rec, runA, 20, {
    kind: 'eval',
    outcome: 'timeout',
    reward: 1,
    task: 'sim/panda-lift',
  });
  const e4 = recordEpisode(rec, runB, 5, { reward: -1 });
  rec.close();
  const setStart = store.db.prepare('UPDATE episodes SET started_at = ? WHERE id = ?');
  [e1, e2, e3, e4].forEach((id, i) => setStart.run((i + 1) * 1000, id));
  return { runA, runB, e1, e2, e3, e4 };
}

const ids = (store: Store, filter: Parameters<Store['listEpisodes']>[0]) =>
  store.listEpisodes(filter).map((e) => e.id);

test('a run reads back parsed, with its config defaults and spec', (t) => {
  const store = openTemp(t);
  const before = Date.now();
  const id = createTestRun(store);
  const run = store.getRun(id);
  assert.ok(run);
  assert.equal(run.command, 'record');
  assert.equal(run.task, 'probe');
  assert.deepEqual(run.config, RunConfig.parse({ command: 'record', task: { task: 'probe' } }));
  assert.deepEqual(run.spec, testSpec());
  assert.equal(run.codeVersion, 'test');
  assert.equal(run.backend, undefined);
  assert.ok(run.createdAt >= before && run.createdAt <= Date.now());
  assert.equal(store.getRun(id + 1), undefined);
});

test('a run with an invalid spec is refused, naming the field', (t) => {
  const store = openTemp(t);
  const spec = testSpec();
  spec.action.low = [0, 2]; // low > high
  assert.throws(
    () =>
      store.createRun({
        command: 'record',
        task: 'probe',
        config: { command: 'record', task: { task: 'probe' } },
        spec,
      }),
    /^StoreError: run spec is invalid: action\.low\.1: low > high for a1$/,
  );
  assert.equal(store.db.prepare('SELECT count(*) FROM runs').pluck().get(), 0);
});

test('an episode reads back with its totals', (t) => {
  const store = openTemp(t);
  const { runA, e1 } = library(store);
  const e = store.getEpisode(e1);
  assert.ok(e);
  assert.equal(e.runId, runA);
  assert.equal(e.kind, 'demo');
  assert.equal(e.task, 'probe');
  assert.equal(e.seed, 7);
  assert.equal(e.outcome, 'success');
  assert.equal(e.numSteps, 10);
  assert.equal(e.return, 50);
  assert.equal(e.intervenedSteps, 4); // steps 0, 3, 6, 9
  assert.equal(e.label, undefined);
  assert.equal(e.notes, undefined);
  assert.equal(e.deleted, false);
  assert.ok(e.endedAt !== undefined);
  assert.equal(store.getEpisode(9999), undefined);
});

test('listEpisodes sorts newest first by default, and by oldest, length or return', (t) => {
  const store = openTemp(t);
  const { e1, e2, e3, e4 } = library(store);
  assert.deepEqual(ids(store, {}), [e4, e3, e2, e1]);
  assert.deepEqual(ids(store, { order: 'newest' }), [e4, e3, e2, e1]);
  assert.deepEqual(ids(store, { order: 'oldest' }), [e1, e2, e3, e4]);
  assert.deepEqual(ids(store, { order: 'longest' }), [e2, e3, e1, e4]);
  assert.deepEqual(ids(store, { order: 'return' }), [e1, e3, e2, e4]);
});

test('listEpisodes filters by run, task, kind, outcome, intervention and time', (t) => {
  const store = openTemp(t);
  const { runA, runB, e1, e2, e3, e4 } = library(store);
  assert.deepEqual(ids(store, { runId: runB }), [e4]);
  assert.deepEqual(ids(store, { runId: runA, order: 'oldest' }), [e1, e2, e3]);
  assert.deepEqual(ids(store, { task: 'sim/panda-lift' }), [e3]);
  assert.deepEqual(ids(store, { kind: 'demo' }), [e1]);
  assert.deepEqual(ids(store, { kind: 'train' }), [e4, e2]);
  assert.deepEqual(ids(store, { outcome: 'failure' }), [e2]);
  assert.deepEqual(ids(store, { intervened: true }), [e1]);
  assert.deepEqual(ids(store, { intervened: false }), [e4, e3, e2]);
  assert.deepEqual(ids(store, { since: 2000, until: 4000 }), [e3, e2]);
  assert.deepEqual(ids(store, { runId: runA, kind: 'train', outcome: 'success' }), []);
});

test('countEpisodes counts what a filter matches, ignoring its paging', (t) => {
  const store = openTemp(t);
  const { runA, e2 } = library(store);
  assert.equal(store.countEpisodes(), 4);
  assert.equal(store.countEpisodes({ runId: runA, limit: 1 }), 3);
  assert.equal(store.countEpisodes({ outcome: 'failure' }), 1);
  store.updateEpisode(e2, { deleted: true });
  assert.equal(store.countEpisodes(), 3);
  assert.equal(store.countEpisodes({ includeDeleted: true }), 4);
});

test('listEpisodes pages with limit and offset', (t) => {
  const store = openTemp(t);
  const { e1, e2, e3 } = library(store);
  assert.deepEqual(ids(store, { limit: 2, offset: 1 }), [e3, e2]);
  assert.deepEqual(ids(store, { offset: 3 }), [e1]);
  assert.deepEqual(ids(store, { limit: 0 }), []);
});

test('an invalid filter is a StoreError naming the field', (t) => {
  const store = openTemp(t);
  assert.throws(
    () => store.listEpisodes({ kind: 'play' as 'demo' }),
    /^StoreError: episode filter is invalid: kind: /,
  );
  assert.throws(() => store.listEpisodes({ limit: -1 }), /episode filter is invalid: limit: /);
});

test('labels and notes are set, filtered on and removed', (t) => {
  const store = openTemp(t);
  const { e1, e2 } = library(store);
  const changed = store.updateEpisode(e2, { label: 'failure', notes: 'gripper slipped' });
  assert.equal(changed.label, 'failure');
  assert.equal(changed.notes, 'gripper slipped');
  store.updateEpisode(e1, { label: 'success' });
  assert.deepEqual(ids(store, { label: 'failure' }), [e2]);
  assert.deepEqual(ids(store, { label: 'success' }), [e1]);
  assert.equal(store.getEpisode(e2)?.notes, 'gripper slipped');

  store.updateEpisode(e2, { notes: 'kept' });
  assert.equal(store.getEpisode(e2)?.label, 'failure', 'a patch changes only what it names');
  const cleared = store.updateEpisode(e2, { label: 'none', notes: '' });
  assert.equal(cleared.label, undefined);
  assert.equal(cleared.notes, undefined);
  assert.throws(() => store.updateEpisode(424242, { notes: 'x' }), /no episode 424242/);
});

test('soft delete hides an episode from listings but keeps it and its steps', (t) => {
  const store = openTemp(t);
  const { e1, e2, e3, e4 } = library(store);
  assert.equal(store.updateEpisode(e3, { deleted: true }).deleted, true);
  assert.deepEqual(ids(store, {}), [e4, e2, e1]);
  assert.deepEqual(ids(store, { includeDeleted: true }), [e4, e3, e2, e1]);
  assert.equal(store.getEpisode(e3)?.deleted, true);
  assert.equal(store.readSteps(e3).length, 20);
  store.updateEpisode(e3, { deleted: false });
  assert.deepEqual(ids(store, {}), [e4, e3, e2, e1]);
});

test('events are listed per run in order, with their JSON payload', (t) => {
  const store = openTemp(t);
  const { runA, runB, e1 } = library(store);
  const first = store.addEvent({ runId: runA, kind: 'mode', payload: { to: 'intervention' } });
  store.addEvent({ runId: runB, kind: 'alarm' });
  const second = store.addEvent({ runId: runA, episodeId: e1, kind: 'e-stop', payload: [1, 'x'] });
  const events = store.listEvents(runA);
  assert.deepEqual(
    events.map((e) => [e.id, e.kind, e.episodeId, e.payload]),
    [
      [first, 'mode', undefined, { to: 'intervention' }],
      [second, 'e-stop', e1, [1, 'x']],
    ],
  );
  assert.deepEqual(
    store.listEvents(runB).map((e) => e.payload),
    [{}],
  );
});

test('metrics are stored per run and name, NaN included', (t) => {
  const store = openTemp(t);
  const runId = createTestRun(store);
  store.addMetrics(runId, [
    { step: 2, name: 'loss', value: NaN },
    { step: 1, name: 'loss', value: 0.5 },
    { step: 3, name: 'loss', value: -Infinity },
    { step: 1, name: 'alpha', value: 0.1, t: 5 },
  ]);
  assert.deepEqual(
    store.readMetrics(runId, 'loss').map((m) => [m.step, m.value]),
    [
      [1, 0.5],
      [2, NaN],
      [3, -Infinity],
    ],
  );
  const all = store.readMetrics(runId);
  assert.deepEqual(
    all.map((m) => m.name),
    ['alpha', 'loss', 'loss', 'loss'],
  );
  assert.equal(all[0]?.t, 5);
  assert.deepEqual(store.readMetrics(runId + 1), []);
});

test('a row a broken version wrote is a StoreError naming the field', (t) => {
  const store = openTemp(t);
  const { runA, e1, e4 } = library(store);
  store.db.prepare('UPDATE episodes SET num_steps = -3 WHERE id = ?').run(e1);
  assert.throws(
    () => store.getEpisode(e1),
    new RegExp(`^StoreError: episode ${e1} cannot be read: numSteps: `),
  );
  assert.throws(() => store.listEpisodes(), /cannot be read: numSteps/);

  store.db.prepare(`UPDATE runs SET spec = '{"task":"probe"}' WHERE id = ?`).run(runA);
  assert.throws(
    () => store.getRun(runA),
    new RegExp(`^StoreError: run ${runA} cannot be read: spec\\.observation: `),
  );

  store.db.prepare("UPDATE steps SET obs = x'0000' WHERE episode_id = ? AND idx = 2").run(e4);
  assert.throws(
    () => store.readSteps(e4),
    new RegExp(
      `^StoreError: step 2 of episode ${e4}: obs cannot be read: it has 2 bytes, the run's spec needs 16`,
    ),
  );
});

test('close is idempotent and the file reopens', (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const store = Store.open(path);
  const runId = createTestRun(store);
  store.close();
  store.close();
  const again = Store.open(path);
  t.after(() => again.close());
  assert.ok(again.getRun(runId));
  assert.ok(new StoreError('a\nb').message === 'a b', 'StoreError messages are one line');
});
