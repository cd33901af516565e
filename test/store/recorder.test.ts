import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Step } from '../../src/protocol/index.ts';
import { Recorder, Store, StoreError } from '../../src/store/index.ts';
import { FINAL_OBS, createTestRun, makeStep, openTemp, recordEpisode, tempDir } from './helpers.ts';

const float32 = (values: readonly number[]) => values.map(Math.fround);
const begin = (rec: Recorder, runId: number, obsDim = 4, actionDim = 2) =>
  rec.beginEpisode({ runId, task: 'probe', kind: 'demo', seed: 3, obsDim, actionDim });
const stepCount = (store: Store, episodeId: number) =>
  store.db.prepare('SELECT count(*) FROM steps WHERE episode_id = ?').pluck().get(episodeId);

test('steps round-trip: float32-exact arrays, exact scalars, flags, sources', (t) => {
  const store = openTemp(t);
  const runId = createTestRun(store, 3, 2);
  const rec = new Recorder(store);
  const id = begin(rec, runId, 3, 2);
  const steps: Step[] = [
    makeStep(0, 3, 2, { obs: [0.1, -0, 1e-40], source: 'scripted', policyVersion: 0 }),
    makeStep(1, 3, 2, { proposed: null, source: 'human', intervened: true, reward: -0.3 }),
    makeStep(2, 3, 2, { done: true, truncated: true, reward: 1 / 3, policyVersion: 12 }),
  ];
  for (const step of steps) rec.record(id, step);
  rec.endEpisode(id, { outcome: 'success', finalObs: new Float64Array([0.7, 0.8, 0.9]) });
  assert.deepEqual(store.readFinalObs(id), float32([0.7, 0.8, 0.9]));

  const back = store.readSteps(id);
  const want = steps.map((s) => ({
    ...s,
    obs: float32(s.obs),
    action: float32(s.action),
    proposed: s.proposed && float32(s.proposed),
  }));
  assert.deepEqual(back, want);
  assert.ok(Object.is(back[0]?.obs[1], -0));
  assert.notDeepEqual(back[0]?.obs, steps[0]?.obs, '0.1 is not a float32: the round is visible');
});

test('record copies its arrays: reusing a buffer afterwards changes nothing', (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store);
  const id = begin(rec, createTestRun(store));
  const obs = new Float64Array([1, 2, 3, 4]);
  rec.record(id, { ...makeStep(0), obs });
  obs.fill(0);
  rec.flush();
  assert.deepEqual(store.readSteps(id)[0]?.obs, [1, 2, 3, 4]);
});

test('endEpisode writes totals, outcome and final observation with the last steps', (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store, { flushIntervalMs: 60_000 });
  const runId = createTestRun(store);
  const id = recordEpisode(rec, runId, 8, { intervenedEvery: 4, outcome: 'timeout' });
  const e = store.getEpisode(id);
  assert.equal(e?.outcome, 'timeout');
  assert.equal(e?.numSteps, 8);
  assert.equal(e?.return, (0.25 * 8 * 7) / 2);
  assert.equal(e?.intervenedSteps, 2);
  assert.ok(e?.endedAt !== undefined && e.endedAt >= e.startedAt);
  assert.equal(stepCount(store, id), 8);
  assert.equal(rec.pending, 0);
  assert.deepEqual(store.readFinalObs(id), FINAL_OBS);
  assert.deepEqual(store.readTransitions(id).at(-1)?.nextObs, new Float32Array(FINAL_OBS));
  assert.throws(() => rec.record(id, makeStep(8)), /episode \d+ is not being recorded/);
});

test('bad steps throw a StoreError and queue nothing', (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store);
  const id = begin(rec, createTestRun(store));
  rec.record(id, makeStep(0));
  const bad: [Partial<Step>, RegExp][] = [
    [{ obs: [0, NaN, 0, 0] }, /obs\[1\] is NaN, not a finite float32; nothing was recorded/],
    [{ obs: [0, 0, 0] }, /obs must have 4 entries, got 3 entries/],
    [{ action: [0, Infinity] }, /action\[1\] is Infinity/],
    [{ action: [1e39, 0] }, /action\[0\] is 1e\+39, not a finite float32/],
    [{ proposed: [0] }, /proposed must have 2 entries, got 1/],
    [{ reward: NaN }, /reward is NaN, not a finite number/],
    [{ t: -1 }, /t is -1/],
    [{ source: 'robot' as 'human' }, /source is robot/],
    [{ done: 1 as unknown as boolean }, /done is 1, not a boolean/],
    [{ policyVersion: 1.5 }, /policyVersion is 1\.5/],
    [{ index: 5 }, /step 5 of episode \d+: expected index 1/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => rec.record(id, makeStep(1, 4, 2, change)),
      (err: unknown) => err instanceof StoreError && message.test(err.message),
      `${JSON.stringify(change)} should be refused with ${message}`,
    );
  }
  assert.equal(rec.pending, 1);
  rec.record(id, makeStep(1));
  rec.endEpisode(id, { outcome: 'failure' });
  assert.deepEqual(
    store.readSteps(id).map((s) => s.index),
    [0, 1],
  );
  assert.equal(store.getEpisode(id)?.numSteps, 2);
  assert.throws(() => rec.record(999, makeStep(0)), /episode 999 is not being recorded/);
});

test("an episode whose dims differ from the run's spec is refused", (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store);
  const runId = createTestRun(store, 4, 2);
  assert.throws(() => begin(rec, runId, 5, 2), /obsDim 5 and actionDim 2 do not match/);
  assert.throws(() => begin(rec, runId + 1), /no run/);
  assert.deepEqual(store.listEpisodes(), []);
  const reader = Store.open(store.path, { readonly: true });
  t.after(() => reader.close());
  assert.throws(() => new Recorder(reader), /is open read-only: cannot record/);
});

test('steps wait in memory until the batch is full, then land in one flush', (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store, { flushIntervalMs: 60_000, maxBatch: 5 });
  const id = begin(rec, createTestRun(store));
  for (let i = 0; i < 4; i++) rec.record(id, makeStep(i));
  assert.equal(rec.pending, 4);
  assert.equal(stepCount(store, id), 0);
  assert.equal(rec.flushes, 0);
  rec.record(id, makeStep(4));
  assert.equal(stepCount(store, id), 5);
  assert.deepEqual([rec.pending, rec.stepsWritten, rec.flushes], [0, 5, 1]);
  assert.ok(rec.lastFlushMs >= 0);
  // A running episode shows its written steps in listings.
  const running = store.getEpisode(id);
  assert.equal(running?.outcome, undefined);
  assert.equal(running?.numSteps, 5);
});

test('the timer writes a quiet queue within the flush interval', async (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store, { flushIntervalMs: 20 });
  const id = begin(rec, createTestRun(store));
  rec.record(id, makeStep(0));
  rec.record(id, makeStep(1));
  assert.equal(stepCount(store, id), 0);
  await sleep(150);
  assert.equal(stepCount(store, id), 2);
  assert.equal(rec.pending, 0);
  rec.close();
});

test('writes by the caller: record never writes, a quiet queue waits for flushIfDue once due', async (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store, { flushIntervalMs: 20, maxBatch: 2, writes: 'caller' });
  t.after(() => rec.close());
  const id = begin(rec, createTestRun(store));
  rec.record(id, makeStep(0));
  rec.flushIfDue();
  assert.equal(stepCount(store, id), 0, 'not due yet');
  await sleep(60);
  assert.equal(stepCount(store, id), 0, 'no timer wrote it');
  rec.record(id, makeStep(1));
  rec.record(id, makeStep(2));
  assert.equal(stepCount(store, id), 0, 'record wrote nothing, though due and over maxBatch');
  rec.flushIfDue();
  assert.equal(stepCount(store, id), 3);
  assert.equal(rec.pending, 0);
});

test('a step older than the flush interval is written by the next record', (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store, { flushIntervalMs: 40 });
  t.after(() => rec.close());
  const id = begin(rec, createTestRun(store));
  rec.record(id, makeStep(0));
  // Busy-wait: the timer cannot run while this test holds the thread, only record() can flush.
  const start = performance.now();
  while (performance.now() - start < 60);
  assert.equal(stepCount(store, id), 0);
  rec.record(id, makeStep(1));
  assert.equal(stepCount(store, id), 2);
});

test('a failed timer flush is never swallowed: the next call throws it, steps stay queued', async (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store, { flushIntervalMs: 10 });
  const id = begin(rec, createTestRun(store));
  rec.record(id, makeStep(0));
  store.db.prepare('DELETE FROM episodes WHERE id = ?').run(id); // the steps' foreign key now fails
  await sleep(60);
  assert.throws(
    () => rec.record(id, makeStep(1)),
    /^StoreError: could not write 1 steps to .*FOREIGN KEY constraint failed.*they stay queued$/,
  );
  assert.equal(rec.pending, 1);
  assert.throws(() => rec.close(), /could not write 1 steps/);
});

test('closing the recorder, or the store, writes what is queued', (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const store = Store.open(path);
  const runId = createTestRun(store);
  const first = new Recorder(store, { flushIntervalMs: 60_000 });
  const a = begin(first, runId);
  first.record(a, makeStep(0));
  first.close();
  assert.equal(stepCount(store, a), 1);

  const second = new Recorder(store, { flushIntervalMs: 60_000 });
  const b = begin(second, runId);
  second.record(b, makeStep(0));
  second.record(b, makeStep(1));
  store.close();
  const again = Store.open(path);
  t.after(() => again.close());
  assert.equal(again.readSteps(b).length, 2);
});

test('readTransitions pairs each step with the next observation', (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store);
  const id = begin(rec, createTestRun(store));
  const steps = [
    makeStep(0),
    makeStep(1, 4, 2, { intervened: true, source: 'human' }),
    makeStep(2, 4, 2, { done: true }),
  ];
  for (const s of steps) rec.record(id, s);
  rec.endEpisode(id, { outcome: 'success', finalObs: FINAL_OBS });

  const tr = store.readTransitions(id);
  assert.equal(tr.length, 3);
  tr.forEach((x, i) => {
    const s = steps[i] as Step;
    assert.deepEqual(x.obs, new Float32Array(s.obs));
    assert.deepEqual(x.action, new Float32Array(s.action));
    assert.equal(x.reward, s.reward);
    assert.equal(x.intervened, s.intervened);
    assert.equal(x.source, s.source);
  });
  assert.deepEqual(tr[0]?.nextObs, new Float32Array(steps[1]?.obs ?? []));
  assert.deepEqual(tr[1]?.nextObs, new Float32Array(steps[2]?.obs ?? []));
  assert.deepEqual(tr[2]?.nextObs, new Float32Array(FINAL_OBS));
  assert.deepEqual(
    tr.map((x) => x.done),
    [false, false, true],
  );
});

test('a truncated step still bootstraps; no final observation drops the last step', (t) => {
  const store = openTemp(t);
  const rec = new Recorder(store);
  const runId = createTestRun(store);
  const truncated = begin(rec, runId);
  rec.record(truncated, makeStep(0));
  rec.record(truncated, makeStep(1, 4, 2, { truncated: true }));
  rec.endEpisode(truncated, { outcome: 'timeout', finalObs: FINAL_OBS });
  assert.deepEqual(
    store.readTransitions(truncated).map((x) => x.done),
    [false, false],
  );

  const noFinal = begin(rec, runId);
  for (let i = 0; i < 4; i++) rec.record(noFinal, makeStep(i));
  rec.endEpisode(noFinal, { outcome: 'discarded' });
  assert.equal(store.readFinalObs(noFinal), undefined);
  const tr = store.readTransitions(noFinal);
  assert.equal(tr.length, 3);
  assert.deepEqual(tr[2]?.nextObs, new Float32Array(makeStep(3).obs));

  const empty = begin(rec, runId);
  rec.endEpisode(empty, { outcome: 'failure', finalObs: FINAL_OBS });
  assert.deepEqual(store.readTransitions(empty), []);
  assert.throws(() => store.readTransitions(12345), /no episode 12345/);
});

// Its speed is a benchmark figure (npm run bench -- record), not an assertion: shared CI cores.
test('150 episodes of 1000 steps (obs 32, action 7, with proposals) are all written', (t) => {
  const store = openTemp(t);
  const runId = createTestRun(store, 32, 7);
  const rec = new Recorder(store);
  const obs = Array.from({ length: 32 }, (_, i) => i / 7);
  const action = Array.from({ length: 7 }, (_, i) => i / 9);
  const step = { ...makeStep(0), obs, action, proposed: action };
  const perSecond: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const start = performance.now();
    for (let e = 0; e < 50; e++) {
      const id = begin(rec, runId, 32, 7);
      for (let i = 0; i < 1000; i++) rec.record(id, { ...step, index: i });
      rec.endEpisode(id, { outcome: 'timeout', finalObs: obs });
    }
    perSecond.push(50_000 / ((performance.now() - start) / 1000));
  }
  const best = Math.max(...perSecond);
  t.diagnostic(`best of 3: ${Math.round(best / 1000)}k steps/s`);
  assert.equal(store.db.prepare('SELECT count(*) FROM steps').pluck().get(), 150_000);
});
