import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store/index.ts';
import { TRAIN_CHECKPOINT_EVENT } from '../../src/studio/train-checkpoints.ts';
import { tandem, tempDir } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));
// Probe episodes are 200 steps: checkpoints land at 200, 400, …; evaluations at 400 and 800.
const RUN = ['train', '--task', 'probe', '--action-dim', '2', '--target', '0.3'];
const SETTINGS = ['--checkpoint-every', '200', '--eval-every', '400', '--seed', '4'];

interface Stored {
  evals: { envSteps: number; return: number }[];
  /** Actions of the training episodes, by episode seed (the last run of each seed). */
  actions: Map<number, number[]>;
  checkpoints: number;
}

function read(db: string): Stored {
  const store = Store.open(db, { readonly: true });
  try {
    const evals = store
      .listEpisodes({ kind: 'eval', order: 'oldest' })
      .map((e, i) => ({ envSteps: 400 * (i + 1), return: e.return }));
    const actions = new Map<number, number[]>();
    for (const e of store.listEpisodes({ kind: 'train', order: 'oldest' })) {
      if (e.numSteps === 0) continue;
      actions.set(
        e.seed,
        store.readSteps(e.id).flatMap((s) => [...s.action]),
      );
    }
    return { evals, actions, checkpoints: store.listCheckpoints(1).length };
  } finally {
    store.close();
  }
}

describe('tandem train --resume', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const whole = join(tmp.dir, 'whole.db');
  let reference: Stored;

  it('an uninterrupted run stores checkpoints and keeps the newest two', () => {
    const out = tandem([...RUN, ...SETTINGS, '--env-steps', '800', '--db', whole], tmp.dir);
    assert.equal(out.code, 0, out.stderr);
    reference = read(whole);
    assert.equal(reference.evals.length, 2);
    assert.equal(reference.checkpoints, 2);
  });

  it('a run stopped at 400 env steps and resumed to 800 trains exactly as the uninterrupted one', () => {
    const db = join(tmp.dir, 'stopped.db');
    const first = tandem([...RUN, ...SETTINGS, '--env-steps', '400', '--db', db], tmp.dir);
    assert.equal(first.code, 0, first.stderr);
    const second = tandem(['train', '--resume', '1', '--env-steps', '800', '--db', db], tmp.dir);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /resuming run 1 \(probe\) at env step 400/);
    assert.match(second.stdout, /online buffer refilled: 400 transitions/);
    const resumed = read(db);
    assert.deepEqual(resumed.evals, reference.evals);
    assert.deepEqual([...resumed.actions.keys()], [...reference.actions.keys()]);
    for (const [seed, actions] of reference.actions) {
      assert.deepEqual(resumed.actions.get(seed), actions, `training episode of seed ${seed}`);
    }
  });

  it('a run killed mid-episode resumes from its last checkpoint and ends as the uninterrupted one', async () => {
    const db = join(tmp.dir, 'killed.db');
    const child = spawn(
      process.execPath,
      [BIN, ...RUN, ...SETTINGS, '--env-steps', '800', '--db', db],
      {
        env: { ...process.env, TANDEM_HOME: tmp.dir },
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Kill it once its checkpoint at env step 400 is stored, while it is inside the next episode.
    const deadline = Date.now() + 100_000;
    for (;;) {
      assert.ok(Date.now() < deadline, 'no checkpoint at env step 400 within 100 s');
      await new Promise((r) => setTimeout(r, 200));
      let at: number;
      try {
        const store = Store.open(db, { readonly: true });
        try {
          at = Math.max(
            0,
            ...store
              .listEvents(1)
              .filter((e) => e.kind === TRAIN_CHECKPOINT_EVENT)
              .map((e) => (e.payload as { envSteps: number }).envSteps),
          );
        } finally {
          store.close();
        }
      } catch {
        continue; // not created yet
      }
      if (at >= 400) break;
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await exited;

    const out = tandem(['train', '--resume', '1', '--env-steps', '800', '--db', db], tmp.dir);
    assert.equal(out.code, 0, out.stderr);
    const resumed = read(db);
    assert.deepEqual(resumed.evals.at(-1), reference.evals.at(-1));
    for (const [seed, actions] of reference.actions) {
      assert.deepEqual(resumed.actions.get(seed), actions, `training episode of seed ${seed}`);
    }
    const store = Store.open(db, { readonly: true });
    try {
      const killed = store.listEpisodes({ kind: 'train', outcome: 'interrupted' });
      assert.ok(killed.length >= 1, 'the episode cut by the kill is kept, marked interrupted');
    } finally {
      store.close();
    }
  });

  it('refuses what cannot be resumed, with the reason', () => {
    const missing = tandem(['train', '--resume', '7', '--db', whole], tmp.dir);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /there is no run 7/);
    const done = tandem(['train', '--resume', '1', '--env-steps', '800', '--db', whole], tmp.dir);
    assert.equal(done.code, 2);
    assert.match(done.stderr, /checkpoint is at env step 800; give --env-steps above that/);
    const mixed = tandem(['train', '--resume', '1', '--seed', '3', '--db', whole], tmp.dir);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /only --env-steps, --backend and --db go with it \(got --seed\)/);
  });
});
