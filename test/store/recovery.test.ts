import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Recorder, Store } from '../../src/store/index.ts';
import { tandem } from '../cli/helpers.ts';
import { createTestRun, makeStep, tempDir } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/record-until-killed.ts', import.meta.url));

/** The pid of a process that has exited (its number is free again). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
    encoding: 'utf8',
  });
  return Number(child.stdout.trim());
}

/** Leaves an episode of `steps` steps running in the file at `path`, owned by `pid`. */
function leaveRunning(path: string, steps: number, pid: number): number {
  const store = Store.open(path);
  const rec = new Recorder(store);
  const id = rec.beginEpisode({
    runId: createTestRun(store),
    task: 'probe',
    kind: 'train',
    seed: 1,
    obsDim: 4,
    actionDim: 2,
  });
  for (let i = 0; i < steps; i++) {
    rec.record(id, makeStep(i, 4, 2, { intervened: i === 1, reward: 0.5 }));
  }
  rec.flush();
  store.db.prepare('UPDATE episodes SET writer_pid = ? WHERE id = ?').run(pid, id);
  store.close();
  return id;
}

test('an episode whose writer died is marked interrupted on open, its steps kept', (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const id = leaveRunning(path, 3, deadPid());
  const store = Store.open(path);
  t.after(() => store.close());
  const e = store.getEpisode(id);
  assert.equal(e?.outcome, 'interrupted');
  assert.equal(
    e?.endedAt,
    (e?.startedAt ?? 0) + makeStep(2).t * 1000,
    "ended at its last step's time",
  );
  assert.equal(e?.numSteps, 3);
  assert.equal(e?.return, 1.5);
  assert.equal(e?.intervenedSteps, 1);
  assert.equal(store.readSteps(id).length, 3);
  assert.deepEqual(store.interruptedOnOpen, [id]);
  const events = store.listEvents(e?.runId ?? 0);
  assert.deepEqual(
    events.map((ev) => [ev.kind, ev.episodeId, (ev.payload as { keptSteps: number }).keptSteps]),
    [['episode-interrupted', id, 3]],
  );
});

test('an interrupted episode without steps ends at its start', (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const id = leaveRunning(path, 0, deadPid());
  const store = Store.open(path);
  t.after(() => store.close());
  const e = store.getEpisode(id);
  assert.equal(e?.outcome, 'interrupted');
  assert.equal(e?.endedAt, e?.startedAt);
});

test('episodes of live writers (this process, another one) stay running', async (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  t.after(() => sleeper.kill('SIGKILL'));
  const ours = leaveRunning(path, 2, process.pid);
  const theirs = leaveRunning(path, 2, sleeper.pid as number);
  const store = Store.open(path);
  t.after(() => store.close());
  assert.equal(store.getEpisode(ours)?.outcome, undefined);
  assert.equal(store.getEpisode(theirs)?.outcome, undefined);
  assert.deepEqual(store.interruptedOnOpen, []);
  const reader = Store.open(path, { readonly: true });
  t.after(() => reader.close());
  assert.deepEqual(
    reader.listEpisodes().map((e) => e.outcome),
    [undefined, undefined],
  );
  assert.deepEqual(reader.listEpisodes({ outcome: 'interrupted' }), []);
});

/** The episode's row as stored, whatever a store reports of it. */
function storedRow(store: Store, id: number): unknown {
  return store.db.prepare('SELECT outcome, ended_at, num_steps FROM episodes WHERE id = ?').get(id);
}

test('a read-only store reports an episode whose writer died as interrupted, without marking it', (t) => {
  const path = join(tempDir(t), 'tandem.db');
  const id = leaveRunning(path, 3, deadPid());
  const reader = Store.open(path, { readonly: true });
  t.after(() => reader.close());
  const seen = reader.getEpisode(id);
  assert.equal(seen?.outcome, 'interrupted');
  assert.equal(seen?.endedAt, (seen?.startedAt ?? 0) + makeStep(2).t * 1000);
  assert.equal(seen?.numSteps, 3);
  assert.equal(seen?.return, 1.5);
  assert.equal(seen?.intervenedSteps, 1);
  assert.deepEqual(reader.listEpisodes(), [seen]);
  assert.deepEqual(
    reader.listEpisodes({ outcome: 'interrupted', intervened: true }).map((e) => e.id),
    [id],
  );
  assert.deepEqual(reader.listEpisodes({ outcome: 'timeout' }), []);
  assert.equal(reader.countEpisodes({ outcome: 'interrupted' }), 1);
  assert.deepEqual(reader.interruptedOnOpen, []);
  assert.deepEqual(storedRow(reader, id), { outcome: null, ended_at: null, num_steps: 3 });
  assert.deepEqual(reader.listEvents(seen?.runId ?? 0), [], 'nothing written');

  const writer = Store.open(path);
  t.after(() => writer.close());
  assert.deepEqual(writer.interruptedOnOpen, [id]);
  assert.deepEqual(writer.getEpisode(id), seen, 'marked as the reader reported it');
});

interface Ended {
  outcome: string;
  return: number;
}

/**
 * Runs the recorder fixture on the file at `path` and kills it (SIGKILL) early in an episode,
 * after at least three ended: the episodes it reported ended, and the one it was recording.
 */
async function recordUntilKilled(
  t: TestContext,
  path: string,
): Promise<{ ended: Map<number, Ended>; victim: { id: number; flushed: number } }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, path], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );

  const ended = new Map<number, Ended>();
  let victim: { id: number; flushed: number } | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const [what, id, a, b] = line.split(' ');
    if (what === 'ended') ended.set(Number(id), { outcome: a as string, return: Number(b) });
    // Kill early in an episode (≤ 30 of 50 steps) so it cannot finish before the signal lands.
    if (what === 'flushed' && ended.size >= 3 && Number(a) > 0 && Number(a) <= 30) {
      victim = { id: Number(id), flushed: Number(a) };
      child.kill('SIGKILL');
      break;
    }
  }
  assert.equal(await exited, 'SIGKILL', `the recorder died on its own: ${stderr}`);
  assert.ok(victim, 'the recorder never reported a mid-episode flush');
  return { ended, victim };
}

test(
  'SIGKILL mid-episode loses no finished episode and keeps the flushed steps',
  { timeout: 60_000 },
  async (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const { ended, victim } = await recordUntilKilled(t, path);

    const store = Store.open(path);
    t.after(() => store.close());
    assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
    for (const [id, want] of ended) {
      const e = store.getEpisode(id);
      assert.equal(e?.outcome, want.outcome, `episode ${id}`);
      assert.equal(e?.return, want.return, `episode ${id}`);
      assert.equal(e?.numSteps, 50);
      assert.deepEqual(
        store.readSteps(id).map((s) => s.index),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(store.readTransitions(id).length, 50);
    }
    const cut = store.getEpisode(victim.id);
    assert.equal(cut?.outcome, 'interrupted');
    const kept = store.readSteps(victim.id);
    assert.ok(
      kept.length >= victim.flushed,
      `${kept.length} steps kept, ${victim.flushed} were flushed`,
    );
    assert.ok(kept.length < 50);
    assert.deepEqual(
      kept.map((s) => s.index),
      Array.from({ length: kept.length }, (_, i) => i),
    );
    assert.equal(cut?.numSteps, kept.length);
    assert.equal(cut?.endedAt, (cut?.startedAt ?? 0) + (kept.at(-1)?.t ?? NaN) * 1000);
    assert.deepEqual(store.interruptedOnOpen, [victim.id]);
    assert.equal(store.readTransitions(victim.id).length, kept.length - 1);
  },
);

test(
  'readers see an episode cut by SIGKILL as interrupted until a writer marks it',
  { timeout: 60_000 },
  async (t) => {
    const path = join(tempDir(t), 'tandem.db');
    const { ended, victim } = await recordUntilKilled(t, path);
    const reader = Store.open(path, { readonly: true });
    t.after(() => reader.close());
    const seen = reader.getEpisode(victim.id);
    assert.equal(seen?.outcome, 'interrupted');
    assert.equal(seen?.numSteps, reader.readSteps(victim.id).length);
    assert.ok((seen?.numSteps ?? 0) >= victim.flushed);
    assert.ok(seen?.endedAt !== undefined);
    assert.deepEqual(
      reader.listEpisodes({ outcome: 'interrupted' }).map((e) => e.id),
      [victim.id],
    );
    assert.ok(
      reader.listEpisodes().every((e) => e.outcome !== undefined),
      'none running',
    );
    assert.equal(reader.countEpisodes(), ended.size + 1);
    assert.equal((storedRow(reader, victim.id) as { outcome: unknown }).outcome, null);

    const list = tandem(['episodes', 'list', '--db', path, '--json'], dirname(path));
    assert.equal(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { id: number; outcome?: string }[];
    assert.equal(listed.find((e) => e.id === victim.id)?.outcome, 'interrupted');
    const show = tandem(['episodes', 'show', String(victim.id), '--db', path], dirname(path));
    assert.match(show.stdout, /outcome {3}interrupted/);
    assert.equal((storedRow(reader, victim.id) as { outcome: unknown }).outcome, null);

    const writer = Store.open(path);
    t.after(() => writer.close());
    assert.deepEqual(writer.interruptedOnOpen, [victim.id]);
    assert.deepEqual(writer.getEpisode(victim.id), seen);
  },
);
