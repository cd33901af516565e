import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeUnusable } from '../../src/learner/backend.ts';
import { Store } from '../../src/store/index.ts';
import { TRAIN_CHECKPOINT_EVENT } from '../../src/studio/train-checkpoints.ts';
import { tandem, tempDir } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));
// Probe episodes are 200 steps: checkpoints land at 200, 400, …; evaluations at 400 and 800.
const RUN = ['train', '--task', 'probe', '--action-dim', '2', '--target', '0.3'];
const SETTINGS = ['--checkpoint-every', '200', '--eval-every', '400', '--seed', '4'];
const nativeMissing = nativeUnusable();
const skipNative =
  nativeMissing && !process.env.CI ? `native addon not available: ${nativeMissing}` : false;
/** How far a run that changed backends may end from one that did not (eval return at 800). */
const DRIFT = 1;

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

/** The newest training checkpoint's loop state in the file (none while the file is not there). */
function newestCheckpoint(db: string): { envSteps: number; lastEpisodeId: number } | undefined {
  let store: Store;
  try {
    store = Store.open(db, { readonly: true });
  } catch {
    return undefined; // not created yet
  }
  try {
    const states = store
      .listEvents(1)
      .filter((e) => e.kind === TRAIN_CHECKPOINT_EVENT)
      .map((e) => e.payload as { envSteps: number; lastEpisodeId: number });
    return states.sort((a, b) => a.envSteps - b.envSteps).at(-1);
  } finally {
    store.close();
  }
}

/** Steps on disk of the live training episode begun after `afterEpisode` (0: none yet). */
function runningSteps(db: string, afterEpisode: number): number {
  const store = Store.open(db, { readonly: true });
  try {
    const running = store
      .listEpisodes({ runId: 1, kind: 'train' })
      .find((e) => e.id > afterEpisode && e.outcome === undefined);
    return running?.numSteps ?? 0;
  } finally {
    store.close();
  }
}

/**
 * Runs `tandem args` and kills it (SIGKILL) once it has stored a checkpoint at env step
 * `atLeast` or later and then recorded steps of the next training episode: it dies mid-episode,
 * leaving steps on disk that its newest checkpoint does not cover.
 */
async function killAfterCheckpoint(args: string[], db: string, atLeast: number): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, TANDEM_HOME: dirname(db) },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + 100_000;
  for (;;) {
    assert.equal(code, undefined, `tandem ${args.join(' ')} ended before it could be killed`);
    assert.ok(Date.now() < deadline, `no checkpoint at env step ${atLeast} within 100 s`);
    await new Promise((r) => setTimeout(r, 50));
    const at = newestCheckpoint(db);
    if (at && at.envSteps >= atLeast && runningSteps(db, at.lastEpisodeId) > 0) break;
  }
  child.kill('SIGKILL');
  await exited;
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
    await killAfterCheckpoint([...RUN, ...SETTINGS, '--env-steps', '800', '--db', db], db, 400);

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

  it('a run killed, resumed, killed again and resumed again ends as the uninterrupted one', async () => {
    const db = join(tmp.dir, 'twice.db');
    const resume = ['train', '--resume', '1', '--env-steps', '800', '--db', db];
    await killAfterCheckpoint([...RUN, ...SETTINGS, '--env-steps', '800', '--db', db], db, 400);
    // The resumed run checkpoints past the steps the first one left after its checkpoint.
    await killAfterCheckpoint(resume, db, 600);
    const out = tandem(resume, tmp.dir);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /resuming run 1 \(probe\) at env step 600/);
    assert.match(out.stdout, /online buffer refilled: 600 transitions/);
    const resumed = read(db);
    assert.deepEqual(resumed.evals, reference.evals);
    assert.deepEqual([...resumed.actions.keys()], [...reference.actions.keys()]);
    for (const [seed, actions] of reference.actions) {
      assert.deepEqual(resumed.actions.get(seed), actions, `training episode of seed ${seed}`);
    }
    const store = Store.open(db, { readonly: true });
    try {
      const trained = store.listEpisodes({ runId: 1, kind: 'train', order: 'oldest' });
      const whole = trained.filter((e) => e.outcome !== 'interrupted');
      assert.deepEqual(
        whole.map((e) => [e.seed, e.numSteps]),
        [...reference.actions.keys()].map((seed) => [seed, 200]),
        'each training episode ran once to its end, 800 env steps in all',
      );
      const cut = trained.filter((e) => e.outcome === 'interrupted' && e.numSteps > 0);
      assert.equal(cut.length, 2, 'the two episodes cut by the kills are kept, interrupted');
      assert.equal(newestCheckpoint(db)?.envSteps, 800);
    } finally {
      store.close();
    }
  });

  it(
    'a run started on wasm resumes on native and back on wasm, and learns on',
    { skip: skipNative },
    (t) => {
      if (nativeMissing) assert.fail(`the native addon is required on CI: ${nativeMissing}`);
      const db = join(tmp.dir, 'switched.db');
      const steps = (n: number) => ['--env-steps', String(n), '--db', db];
      const first = tandem([...RUN, ...SETTINGS, '--backend', 'wasm', ...steps(400)], tmp.dir);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /learner backend wasm/);
      const native = tandem(
        ['train', '--resume', '1', '--backend', 'native', ...steps(600)],
        tmp.dir,
      );
      assert.equal(native.code, 0, native.stderr);
      assert.match(native.stdout, /resuming run 1 \(probe\) at env step 400/);
      assert.match(native.stdout, /learner backend native: critics and actor in the addon/);
      const back = tandem(['train', '--resume', '1', '--backend', 'wasm', ...steps(800)], tmp.dir);
      assert.equal(back.code, 0, back.stderr);
      assert.match(back.stdout, /resuming run 1 \(probe\) at env step 600/);
      assert.match(back.stdout, /learner backend wasm/);
      const switched = read(db);
      // Evaluations at 400 and 800 (and one where the native segment ended).
      assert.ok(switched.evals.length >= 2, `${switched.evals.length} evaluations`);
      // The same learning as on one backend throughout (float32 rounding apart), not a fresh start.
      const early = switched.evals[0]!.return;
      const late = switched.evals.at(-1)!.return;
      assert.ok(
        Math.abs(late! - reference.evals[1]!.return) < DRIFT,
        `eval return ${late} at 800 steps, ${reference.evals[1]!.return} without switching`,
      );
      t.diagnostic(
        `eval returns ${early} → ${late}; without switching ${reference.evals.map((e) => e.return).join(' → ')}`,
      );
    },
  );

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
