import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { createTestRun, openTemp, tempDir } from './helpers.ts';

const blob = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * seed) & 0xff));

test('checkpoints round-trip: meta as JSON, payload byte for byte', (t) => {
  const store = openTemp(t);
  const runId = createTestRun(store);
  const meta = { version: 1, steps: 40, nested: { shape: [3, 4] }, name: 'actor/h0/w' };
  const payload = blob(5000, 7);
  const before = Date.now();
  const id = store.saveCheckpoint(runId, 40, meta, payload);
  const back = store.getCheckpoint(id);
  assert.ok(back);
  assert.equal(back.id, id);
  assert.equal(back.runId, runId);
  assert.equal(back.step, 40);
  assert.deepEqual(back.meta, meta);
  assert.ok(back.payload.equals(payload));
  assert.ok(back.createdAt >= before && back.createdAt <= Date.now());
  assert.equal(store.getCheckpoint(id + 1), undefined);
});

test('a payload that is a view into a larger buffer stores only its bytes', (t) => {
  const store = openTemp(t);
  const runId = createTestRun(store);
  const big = blob(100, 3);
  const id = store.saveCheckpoint(runId, 1, {}, big.subarray(10, 30));
  assert.ok(store.getCheckpoint(id)?.payload.equals(big.subarray(10, 30)));
});

test('latestCheckpoint is the highest step (newest among equals), per run', (t) => {
  const store = openTemp(t);
  const runA = createTestRun(store);
  const runB = createTestRun(store);
  assert.equal(store.latestCheckpoint(runA), undefined);
  const a10 = store.saveCheckpoint(runA, 10, { n: 1 }, blob(8, 1));
  const a30 = store.saveCheckpoint(runA, 30, { n: 2 }, blob(8, 2));
  store.saveCheckpoint(runA, 20, { n: 3 }, blob(8, 3)); // saved later, but an earlier step
  const b5 = store.saveCheckpoint(runB, 5, { n: 4 }, blob(8, 4));
  assert.equal(store.latestCheckpoint(runA)?.id, a30);
  assert.equal(store.latestCheckpoint(runB)?.id, b5);
  const again30 = store.saveCheckpoint(runA, 30, { n: 5 }, blob(8, 5));
  assert.equal(store.latestCheckpoint(runA)?.id, again30);

  const list = store.listCheckpoints(runA);
  assert.deepEqual(
    list.map((c) => [c.step, c.payloadBytes]),
    [
      [10, 8],
      [20, 8],
      [30, 8],
      [30, 8],
    ],
  );
  assert.equal(list[0]?.id, a10);
  assert.deepEqual(list[0]?.meta, { n: 1 });
  assert.ok(!('payload' in list[0]!), 'listing leaves the blobs out');
  assert.deepEqual(store.listCheckpoints(runB + 1), []);
});

test('saveCheckpoint refuses an unknown run, a bad step, non-JSON meta and an empty payload', (t) => {
  const store = openTemp(t);
  const runId = createTestRun(store);
  assert.throws(
    () => store.saveCheckpoint(runId + 1, 1, {}, blob(4, 1)),
    /^StoreError: there is no run \d+ in /,
  );
  assert.throws(
    () => store.saveCheckpoint(runId, -1, {}, blob(4, 1)),
    /^StoreError: checkpoint step must be a non-negative integer, got -1$/,
  );
  assert.throws(
    () => store.saveCheckpoint(runId, 1.5, {}, blob(4, 1)),
    /checkpoint step must be a non-negative integer/,
  );
  assert.throws(
    () => store.saveCheckpoint(runId, 1, { config: { gradClip: Infinity } }, blob(4, 1)),
    /^StoreError: checkpoint meta is invalid: gradClip is Infinity$/,
  );
  assert.throws(
    () => store.saveCheckpoint(runId, 1, undefined, blob(4, 1)),
    /^StoreError: checkpoint meta is invalid: not JSON$/,
  );
  assert.throws(
    () => store.saveCheckpoint(runId, 1, {}, Buffer.alloc(0)),
    /^StoreError: checkpoint payload is empty$/,
  );
  store.saveCheckpoint(runId, 0, {}, blob(4, 1));
  assert.equal(store.listCheckpoints(runId).length, 1, 'only the valid one was stored');
});

test('checkpoints survive closing and reopening, and read in a read-only store', (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const store = Store.open(path);
  const runId = createTestRun(store);
  const id = store.saveCheckpoint(runId, 3, { k: 'v' }, blob(1 << 16, 5));
  store.close();
  const ro = Store.open(path, { readonly: true });
  t.after(() => ro.close());
  const back = ro.getCheckpoint(id);
  assert.ok(back?.payload.equals(blob(1 << 16, 5)));
  assert.deepEqual(back?.meta, { k: 'v' });
  assert.equal(ro.listCheckpoints(runId)[0]?.payloadBytes, 1 << 16);
});
