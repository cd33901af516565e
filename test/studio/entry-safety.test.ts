// Every entry point that steps a robot does it through the safety layer (createRobot wraps each
// robot): `serve` (a live studio over the RPC), `record`, `train` and `replay`, each shown to
// clamp or hold a bad action and to record what it did. The ROS 2 robot's case is in
// test/robots/ros2.test.ts (the stand-in, behind SafeRobot).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { encodeFloats } from '../../src/store/blob.ts';
import { tandem, tempDir } from '../cli/helpers.ts';
import { RpcTestClient, startRpcStudio } from '../server/rpc-studio.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** panda-lift: metres of tool-point motion per unit of action (its default actionScale). */
const SCALE = 0.025;
const stepLength = (action: readonly number[]) =>
  Math.hypot(action[0]!, action[1]!, action[2]!) * SCALE;

describe('the safety layer on every entry point', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const db = join(tmp.dir, 'entry.db');

  it('serve: an operator packet outside the action box is clamped into it, and stored as clamped', async () => {
    const studio = await startRpcStudio('serve-safety.db', { config: { realtime: 'off' } });
    const desk = await RpcTestClient.connect(studio.url);
    try {
      await desk.ask({
        method: 'mode',
        command: { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
      });
      await desk.ask({ method: 'start' });
      let seq = 0;
      const deadline = Date.now() + 20_000;
      while (studio.session.status().loop.ticks < 8) {
        assert.ok(Date.now() < deadline, 'the live loop did not tick');
        await desk.ask({ method: 'teleop', packet: { seq: ++seq, action: [5, 0, -7, 1] } });
        await sleep(40);
      }
      await desk.ask({ method: 'stop' });
      studio.session.flush();
      const episode = studio.store.listEpisodes({ runId: studio.session.runId })[0]!;
      // A tick no new packet reached (the sender is slower than 10 Hz under load) holds.
      const all = studio.store.readSteps(episode.id).filter((s) => s.source === 'human');
      const steps = all.filter((s) => s.safety?.reasons.join() !== 'no-packet');
      assert.ok(steps.length >= 3, `${steps.length} human steps driven by a packet`);
      for (const s of steps) {
        assert.equal(s.safety?.verdict, 'clamped');
        assert.ok(s.safety.reasons.includes('bounds'), s.safety.reasons.join());
        assert.ok(
          s.action.every((a) => a >= -1 && a <= 1),
          `executed ${s.action.join()}`,
        );
      }
      assert.equal(studio.session.status().loop.writesInTicks, 0, 'SQLite written in a tick');
    } finally {
      await desk.close();
      await studio.close();
    }
  });

  it('record: the expert is held to --safety maxStepMetres, every step stored with its verdict', () => {
    const r = tandem(
      [
        'record',
        '--task',
        'sim/panda-lift',
        '--episodes',
        '1',
        '--safety',
        'maxStepMetres=0.004',
        '--db',
        db,
      ],
      tmp.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /safety \{"staleMs":250,"maxStepMetres":0.004,"maxDelta":2\}/);
    const store = Store.open(db, { readonly: true });
    try {
      const steps = store.readSteps(store.listEpisodes({ kind: 'demo' })[0]!.id);
      assert.ok(steps.every((s) => s.safety !== undefined));
      const limited = steps.filter((s) => s.safety!.reasons.includes('delta'));
      assert.ok(limited.length > 10, `${limited.length} steps limited`);
      for (const s of steps) assert.ok(stepLength(s.action) <= 0.004 + 1e-9, s.action.join());
    } finally {
      store.close();
    }
    const bad = tandem(
      ['record', '--task', 'probe', '--safety', 'maxStepMetres=-1', '--db', db],
      tmp.dir,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--safety: maxStepMetres/);
  });

  it('train: random exploration is limited the same way, and the run keeps its settings', () => {
    const r = tandem(
      [
        'train',
        '--task',
        'sim/panda-lift',
        '--env-steps',
        '150',
        '--random-steps',
        '150',
        '--safety',
        'maxStepMetres=0.004',
        '--set',
        'hidden=[16,16]',
        '--set',
        'ensembleSize=2',
        '--db',
        db,
      ],
      tmp.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const store = Store.open(db, { readonly: true });
    try {
      const run = store.getRun(store.listEpisodes({ kind: 'train' })[0]!.runId)!;
      assert.deepEqual(run.config.safety, { maxStepMetres: 0.004 });
      const episodes = store.listEpisodes({ runId: run.id, kind: 'train' });
      const steps = episodes.flatMap((e) => store.readSteps(e.id));
      assert.equal(steps.length, 150);
      assert.ok(steps.filter((s) => s.safety?.verdict === 'clamped').length > 50);
      for (const s of steps) assert.ok(stepLength(s.action) <= 0.004 + 1e-9, s.action.join());
    } finally {
      store.close();
    }
  });

  it('replay: a stored action outside the box or NaN is re-filtered, never executed as stored', () => {
    const store = Store.open(db);
    const episode = store.listEpisodes({ kind: 'demo' })[0]!;
    try {
      const clean = tandem(['replay', String(episode.id), '--db', db], tmp.dir);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      assert.match(clean.stdout, /→ deterministic/);
      // A row written by something without the layer (or tampered with).
      store.db
        .prepare('UPDATE steps SET action = ? WHERE episode_id = ? AND idx IN (3, 4)')
        .run(encodeFloats([40, 0, 0, 1]), episode.id);
      store.db
        .prepare('UPDATE steps SET action = ? WHERE episode_id = ? AND idx = 6')
        .run(encodeFloats([Number.NaN, 0, 0, 1]), episode.id);
    } finally {
      store.close();
    }
    const r = tandem(['replay', String(episode.id), '--db', db], tmp.dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /the safety layer changed 3 recorded actions \(first at step 3\)/);
    assert.match(r.stdout, /DIFFERS/);
  });
});
