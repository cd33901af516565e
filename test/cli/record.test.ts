import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { tandem, tempDir } from './helpers.ts';

describe('tandem record / episodes / replay', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'demos.db');
  let recorded: ReturnType<typeof tandem>;
  before(() => {
    recorded = tandem(
      [
        'record',
        '--task',
        'sim/panda-lift',
        '--episodes',
        '20',
        '--operator',
        'scripted',
        '--db',
        db,
      ],
      tmp.dir,
    );
  });
  after(() => tmp.cleanup());

  it('records 20 scripted panda-lift episodes, at least 19 successful, printing its settings', () => {
    assert.equal(recorded.code, 0, recorded.stderr);
    assert.match(
      recorded.stdout,
      /sim\/panda-lift \{"actionScale":0\.025,"reward":"sparse","maxSteps":100,"liftHeight":0\.1\}/,
    );
    assert.match(recorded.stdout, /operator scripted, 20 demo episodes from seed 0/);
    assert.match(recorded.stderr, /recording \[#+\] 20\/20/, 'progress bar');
    const store = Store.open(db, { readonly: true });
    try {
      const episodes = store.listEpisodes({ limit: 100 });
      assert.equal(episodes.length, 20);
      const successes = episodes.filter((e) => e.outcome === 'success').length;
      assert.ok(successes >= 19, `${successes}/20 successful`);
      assert.ok(episodes.every((e) => e.kind === 'demo' && e.numSteps > 0));
      const steps = store.readSteps(episodes[0]!.id);
      assert.equal(steps.length, episodes[0]!.numSteps);
      assert.ok(
        steps.every((s) => s.source === 'scripted' && s.obs.length === 24 && s.action.length === 4),
      );
    } finally {
      store.close();
    }
  });

  it('lists the episodes, filters them and shows one', () => {
    const list = tandem(['episodes', 'list', '--db', db], tmp.dir);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trim().split('\n');
    assert.match(rows[0]!, /^id\s+run\s+task\s+kind\s+outcome/);
    assert.equal(rows.length, 21);
    assert.equal(rows.filter((r) => /sim\/panda-lift\s+demo\s+success/.test(r)).length >= 19, true);

    const json = JSON.parse(
      tandem(['episodes', 'list', '--db', db, '--outcome', 'success', '--json'], tmp.dir).stdout,
    ) as { outcome: string }[];
    assert.ok(json.length >= 19 && json.every((e) => e.outcome === 'success'));

    const show = tandem(['episodes', 'show', '1', '--db', db], tmp.dir);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /episode 1 \(run 1, demo, seed 0\)/);
    assert.match(show.stdout, /action\s+dx dy dz gripper/);
  });

  it('exports an episode as JSON with all its steps', () => {
    const out = tandem(['episodes', 'export', '2', '--format', 'json', '--db', db], tmp.dir);
    assert.equal(out.code, 0, out.stderr);
    const parsed = JSON.parse(out.stdout) as {
      episode: { id: number; numSteps: number };
      steps: { index: number; obs: number[] }[];
    };
    assert.equal(parsed.episode.id, 2);
    assert.equal(parsed.steps.length, parsed.episode.numSteps);
    assert.deepEqual(
      parsed.steps.map((s) => s.index),
      [...parsed.steps.keys()],
    );
    const bad = tandem(['episodes', 'export', '2', '--format', 'csv', '--db', db], tmp.dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format json is required/);
  });

  it('replays a recorded episode with no difference at all (the determinism check)', () => {
    const out = tandem(['replay', '3', '--db', db], tmp.dir);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(
      out.stdout,
      /largest observation difference 0\.000e\+0.*0 reward mismatches → deterministic/,
    );
  });

  it('puts data in the documented default folder when --db is left out', () => {
    const out = tandem(
      ['record', '--task', 'probe', '--episodes', '1', '--max-steps', '5'],
      tmp.dir,
    );
    assert.equal(out.code, 0, out.stderr);
    assert.ok(existsSync(join(tmp.dir, 'tandem.db')), 'TANDEM_HOME/tandem.db');
    assert.match(tandem(['episodes', 'list'], tmp.dir).stdout, /probe\s+demo\s+timeout/);
  });
});
