import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nativeUnusable } from '../../src/learner/backend.ts';
import { Store } from '../../src/store/index.ts';
import { tandem, tempDir } from './helpers.ts';

describe('tandem train --task probe', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  /** Trains through the CLI and returns what it stored: eval episodes, metric names, health events. */
  function trainProbe(reward: 'mse' | 'shaped') {
    const db = join(tmp.dir, `${reward}.db`);
    const out = tandem(
      [
        'train',
        '--task',
        'probe',
        '--action-dim',
        '6',
        '--reward',
        reward,
        '--env-steps',
        '1300',
        '--db',
        db,
      ],
      tmp.dir,
    );
    assert.equal(out.code, 0, out.stderr);
    const store = Store.open(db, { readonly: true });
    try {
      const run = store.getRun(1)!;
      return {
        out,
        run,
        evals: store.listEpisodes({ kind: 'eval' }),
        metrics: new Set(store.readMetrics(1).map((m) => m.name)),
        health: store.listEvents(1).filter((e) => e.kind.startsWith('health.')),
      };
    } finally {
      store.close();
    }
  }

  it('learns the mse probe, prints its settings and backend, stores metrics, raises no alert', () => {
    const { out, run, evals, metrics, health } = trainProbe('mse');
    assert.match(out.stdout, /learner \{"hidden":\[64,64\]/);
    // Native when the addon is built (always on CI), else wasm with the reason.
    const backend = nativeUnusable() && !process.env.CI ? 'wasm' : 'native: critics and actor';
    assert.match(out.stdout, new RegExp(`learner backend ${backend}`));
    assert.match(run.backend ?? '', new RegExp(`^learner backend ${backend}`));
    const reward = Number(/mean reward\/step (-?[\d.]+)/.exec(out.stdout)?.[1]);
    assert.ok(reward >= -0.01, `mean reward/step ${reward}`);
    assert.ok(evals.length >= 2 && evals.every((e) => e.numSteps === 200));
    for (const name of [
      'critic_loss',
      'q_mean',
      'q_std',
      'entropy',
      'temperature',
      'updates_per_s',
      'online_size',
      // the learning curves beside them
      'alone_success',
      'alone_return',
      'update_to_data',
      'eval_success',
    ]) {
      assert.ok(metrics.has(name), `metric ${name} stored`);
    }
    assert.deepEqual(health, [], 'a healthy run raises nothing');
  });

  it('flags the always-positive shaped reward as a reward-design trap', () => {
    const { out, health } = trainProbe('shaped');
    assert.match(out.stderr, /health raised: reward_design_trap/);
    assert.ok(
      health.some(
        (e) =>
          e.kind === 'health.raised' &&
          (e.payload as { pathology: string }).pathology === 'reward_design_trap',
      ),
    );
  });
});

describe('tandem train --set gripper=discrete', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('trains panda-lift with the grasp critic picking the gripper, and refuses a robot without one', () => {
    const db = join(tmp.dir, 'discrete.db');
    const common = ['--env-steps', '260', '--random-steps', '100', '--eval-every', '260'];
    const out = tandem(
      [
        'train',
        '--task',
        'sim/panda-lift',
        ...common,
        '--eval-episodes',
        '1',
        '--set',
        'gripper=discrete',
        '--set',
        'ensembleSize=2',
        '--db',
        db,
      ],
      tmp.dir,
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /"gripper":"discrete"/);
    const store = Store.open(db, { readonly: true });
    try {
      const metrics = new Set(store.readMetrics(1).map((m) => m.name));
      for (const name of ['grasp_loss', 'grasp_q_mean', 'grasp_change_rate'])
        assert.ok(metrics.has(name), `metric ${name} stored`);
      const [evalEpisode] = store.listEpisodes({ kind: 'eval' });
      assert.ok(evalEpisode, 'the policy was evaluated');
      const grips = store.readSteps(evalEpisode.id).map((s) => s.action[3]);
      assert.ok(
        grips.every((g) => g === 1 || g === -1),
        `the evaluated policy's gripper commands are whole choices: ${[...new Set(grips)].join(', ')}`,
      );
    } finally {
      store.close();
    }
    const refused = tandem(
      ['train', '--task', 'probe', ...common, '--set', 'gripper=discrete', '--db', db],
      tmp.dir,
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /gripper 'discrete' needs a robot with a gripper: probe/);
  });
});
