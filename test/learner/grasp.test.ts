import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { chooseBackend } from '../../src/learner/backend.ts';
import {
  checkpointOf,
  learnerFrom,
  parseCheckpoint,
  restoreCheckpoint,
} from '../../src/learner/checkpoint.ts';
import { LearnerConfig, withGripperOf } from '../../src/learner/config.ts';
import { CLOSE, GripperSplitter, OPEN, STAY } from '../../src/learner/grasp.ts';
import { PolicyRunner } from '../../src/learner/policy.ts';
import { Sac } from '../../src/learner/sac.ts';
import { actorWeights } from '../../src/learner/weights.ts';
import { Random } from '../../src/util/random.ts';

// A two-state task for the grasp critic: obs one-hot [cube near, cube far] (+ a constant);
// closing near the cube pays 1 and ends the episode, closing far from it ends it with 0, opening
// or staying goes on. The continuous action entries (0, 1) do nothing; the gripper is entry 2.
const OBS = 3;
const ACT = 3;
const GRIPPER = { index: 2, atReset: -1 };
const NEAR = Float32Array.of(1, 0, 1);
const FAR = Float32Array.of(0, 1, 1);

const config = (extra: Record<string, unknown> = {}) =>
  LearnerConfig.parse({
    hidden: [32, 32],
    batchSize: 64,
    lr: 3e-3,
    gamma: 0.9,
    actorLoss: 'bc',
    gripper: 'discrete',
    gripperAction: GRIPPER,
    critics: 'tfjs',
    actor: 'tfjs',
    seed: 3,
    ...extra,
  });

before(async () => {
  await chooseBackend('cpu');
});

test('a recorded command becomes open / stay / close against the command in force, episode by episode', () => {
  const splitter = new GripperSplitter(GRIPPER);
  const out = new Float32Array(2);
  const o = (x: number) => Float32Array.of(x, 0, 0);
  // an episode: open (stays open), close, close (stays closed), open
  assert.equal(splitter.split(o(0), [0.5, -0.5, -1], o(1), out), STAY);
  assert.deepEqual([...out], [0.5, -0.5]);
  assert.equal(splitter.split(o(1), [0, 0, 1], o(2), out), CLOSE);
  assert.equal(splitter.split(o(2), [0, 0, 0.7], o(3), out), STAY);
  assert.equal(splitter.split(o(3), [0, 0, -1], o(4), out), OPEN);
  assert.equal(splitter.split(o(4), [0, 0, 1], o(5), out), CLOSE);
  // a new episode (its first obs is not the last next obs): the reset opened the gripper again
  assert.equal(splitter.split(o(0), [0, 0, 1], o(1), out), CLOSE);
  assert.equal(splitter.split(o(0), [0, 0, -1], o(1), out), STAY);
});

test('the discrete gripper needs a robot with a gripper, and says so', () => {
  const discrete = LearnerConfig.parse({ gripper: 'discrete' });
  assert.throws(() => withGripperOf(discrete, { task: 'probe' }), /probe's spec names none/);
  assert.throws(() => new Sac(OBS, ACT, discrete), /needs gripperAction/);
  const filled = withGripperOf(discrete, {
    task: 'sim/panda-lift',
    safety: {
      kind: 'ee-delta',
      eeObs: ['x', 'y', 'z'],
      translation: [0, 1, 2],
      metresPerUnit: 0.01,
      gripper: { index: 3, atReset: -1 },
      workspace: { low: [0, 0, 0], high: [1, 1, 1] },
    },
  });
  assert.deepEqual(filled.gripperAction, { index: 3, atReset: -1 });
});

test('the grasp critic learns when to close, and the control side picks what it picks', () => {
  const sac = new Sac(OBS, ACT, config());
  try {
    assert.equal(sac.actionDim, 2, 'the actor and critics leave the gripper out');
    const rng = new Random(9);
    for (let i = 0; i < 400; i++) {
      const near = rng.next() < 0.5;
      const obs = near ? NEAR : FAR;
      const command = rng.next() < 0.4 ? 1 : -1;
      const closes = command > 0;
      sac.add(i % 2 === 0 ? 'online' : 'demo', {
        obs,
        action: [rng.uniform(-1, 1), rng.uniform(-1, 1), command],
        reward: closes && near ? 1 : 0,
        nextObs: closes ? obs : rng.next() < 0.5 ? NEAR : FAR,
        done: closes,
      });
    }
    let last: ReturnType<Sac['update']>;
    for (let i = 0; i < 300; i++) last = sac.update(i % 50 === 49);
    assert.ok(last && Number.isFinite(last.grasp_loss), 'the grasp critic reports its loss');
    assert.ok(last.grasp_change_rate! > 0.2, `change rate ${last.grasp_change_rate}`);
    const q = tf.tidy(
      () =>
        sac.grasp!.net.apply(tf.tensor2d([...NEAR, ...FAR], [2, OBS])).arraySync() as number[][],
    );
    const [near, far] = q as [number[], number[]];
    assert.ok(near[CLOSE]! > 0.8, `Q(near, close) ${near[CLOSE]} is about 1`);
    assert.ok(far[CLOSE]! < near[CLOSE]! - 0.3, `Q(far, close) ${far[CLOSE]} is well below`);
    // staying far from the cube is worth γ·(the chance of reaching it) − changes: above closing
    assert.ok(far[STAY]! > far[CLOSE]!, `far: stay ${far[STAY]} beats close ${far[CLOSE]}`);

    const runner = new PolicyRunner(OBS, ACT, [-5, 2]);
    const weights = actorWeights(sac);
    assert.deepEqual(
      { index: weights.grasp?.index, atReset: weights.grasp?.atReset },
      GRIPPER,
      'the weights carry the grasp critic',
    );
    runner.load(weights);
    const argmax = (row: number[]) => row.indexOf(Math.max(...row));
    assert.equal(runner.graspChoice(NEAR), argmax(near));
    assert.equal(runner.graspChoice(FAR), argmax(far));
    const a = runner.act(NEAR, undefined, -1);
    assert.equal(a.length, ACT);
    assert.equal(a[2], 1, 'near the cube the policy closes the gripper');
    const b = runner.act(FAR, new Random(1), 1);
    assert.ok(b.every(Number.isFinite));
    assert.ok([-1, 1].includes(b[2]!), 'far from it the gripper is opened or kept (held +1)');
  } finally {
    sac.dispose();
  }
});

test('a checkpoint keeps the grasp critic, its target and optimizer, and a continuous learner refuses it', async () => {
  const sac = new Sac(OBS, ACT, config());
  try {
    const rng = new Random(4);
    for (let i = 0; i < 100; i++) {
      sac.add('online', {
        obs: NEAR,
        action: [0, 0, rng.next() < 0.5 ? 1 : -1],
        reward: rng.next(),
        nextObs: FAR,
        done: false,
      });
    }
    for (let i = 0; i < 5; i++) sac.update();
    const { meta, payload } = await checkpointOf(sac);
    assert.equal(meta.actionDim, ACT, 'the checkpoint is for the task action');
    assert.equal(meta.optimizers.graspOptimizer?.iterations, 5);
    const back = await learnerFrom(parseCheckpoint(payload), (c) => ({
      ...c,
      critics: 'tfjs',
      actor: 'tfjs',
    }));
    try {
      const values = (s: Sac) => s.grasp!.net.variables.map((v) => [...v.dataSync()]);
      assert.deepEqual(values(back), values(sac));
      assert.deepEqual(
        back.grasp!.target.variables.map((v) => [...v.dataSync()]),
        sac.grasp!.target.variables.map((v) => [...v.dataSync()]),
      );
      assert.equal(back.grasp!.optimizer.iterations, 5);
    } finally {
      back.dispose();
    }
    const continuous = new Sac(OBS, ACT, config({ gripper: 'continuous' }));
    try {
      await assert.rejects(restoreCheckpoint(continuous, { payload }), /gripper/);
    } finally {
      continuous.dispose();
    }
  } finally {
    sac.dispose();
  }
});
