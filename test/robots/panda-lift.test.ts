import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createExpert } from '../../src/robots/index.ts';
import { ActionError } from '../../src/robots/robot.ts';
import { PANDA_LIFT_OBS, PandaLift, WORKSPACE } from '../../src/robots/sim/panda-lift.ts';
import { Random } from '../../src/util/random.ts';

const TCP = PANDA_LIFT_OBS['tcp.x']!;
const CUBE = PANDA_LIFT_OBS['cube.x']!;
const OPENING = PANDA_LIFT_OBS['gripper.opening']!;

describe('sim/panda-lift', () => {
  let robot: PandaLift;
  before(async () => {
    robot = await PandaLift.create();
  });
  after(() => robot.close());

  it('offers the documented spec: 4-D action in [-1, 1], 10 Hz, 100 steps, 24-D state', () => {
    assert.deepEqual(robot.spec.action.names, ['dx', 'dy', 'dz', 'gripper']);
    assert.equal(robot.spec.rateHz, 10);
    assert.equal(robot.spec.maxSteps, 100);
    assert.equal(robot.spec.observation.names.length, 24);
    assert.equal(robot.reset(0).length, 24);
  });

  it('the scripted expert lifts the cube on at least 95 of 100 seeds', () => {
    const expert = createExpert(robot);
    let successes = 0;
    for (let seed = 0; seed < 100; seed++) {
      let obs = robot.reset(seed);
      expert.reset();
      for (let t = 0; t < robot.spec.maxSteps; t++) {
        const result = robot.step(expert.act(obs));
        obs = result.obs;
        if (result.done || result.truncated) {
          if (result.info.success) successes++;
          break;
        }
      }
    }
    assert.ok(successes >= 95, `expert succeeded on ${successes}/100 seeds`);
  });

  it('gives bit-equal observations for the same seed and actions, in another instance too', async () => {
    const other = await PandaLift.create();
    try {
      const run = (r: PandaLift) => {
        const rng = new Random(7);
        const out = [Array.from(r.reset(42))];
        for (let t = 0; t < 40; t++) {
          const a = [
            rng.uniform(-1, 1),
            rng.uniform(-1, 1),
            rng.uniform(-1, 1),
            rng.uniform(-1, 1),
          ];
          out.push(Array.from(r.step(a).obs));
        }
        return out;
      };
      const first = run(robot);
      assert.deepEqual(run(other), first);
      assert.deepEqual(run(robot), first, 'a reset restores everything the last episode changed');
      assert.notDeepEqual(
        robot.reset(43).slice(CUBE, CUBE + 2),
        robot.reset(42).slice(CUBE, CUBE + 2),
      );
    } finally {
      other.close();
    }
  });

  it('moves the tool point by actionScale per unit of action, orientation held', () => {
    const start = robot.reset(1);
    let obs = start;
    for (let t = 0; t < 4; t++) obs = robot.step([1, 0, 0, -1]).obs;
    for (let t = 0; t < 3; t++) obs = robot.step([0, 0, 0, -1]).obs; // settle
    const moved = obs[TCP]! - start[TCP]!;
    assert.ok(
      Math.abs(moved - 0.1) < 0.01,
      `4 steps of dx = 1 moved ${moved.toFixed(4)} m, expected 0.1`,
    );
    assert.ok(Math.abs(obs[TCP + 1]! - start[TCP + 1]!) < 0.005, 'y held');
    assert.ok(
      Math.abs(obs[TCP + 2]! - start[TCP + 2]!) < 0.005,
      `z held: ${obs[TCP + 2]} vs ${start[TCP + 2]}`,
    );
  });

  it('keeps the tool point inside the workspace box whatever the actions', () => {
    for (const push of [
      [1, 1, 1],
      [-1, -1, -1],
      [1, -1, -1],
      [-1, 1, 1],
    ]) {
      let obs = robot.reset(2);
      for (let t = 0; t < 60; t++) obs = robot.step([...push, -1]).obs;
      for (let i = 0; i < 3; i++) {
        assert.ok(
          obs[TCP + i]! >= WORKSPACE.low[i]! - 0.01,
          `axis ${i} ${obs[TCP + i]} below the box`,
        );
        assert.ok(
          obs[TCP + i]! <= WORKSPACE.high[i]! + 0.01,
          `axis ${i} ${obs[TCP + i]} above the box`,
        );
      }
    }
  });

  it('closes the gripper on +1 and opens it on -1', () => {
    let obs = robot.reset(3);
    assert.ok(obs[OPENING]! > 0.075, 'starts open');
    for (let t = 0; t < 3; t++) obs = robot.step([0, 0, 0, 1]).obs;
    assert.ok(obs[OPENING]! < 0.005, `closed to ${obs[OPENING]}`);
    for (let t = 0; t < 3; t++) obs = robot.step([0, 0, 0, -1]).obs;
    assert.ok(obs[OPENING]! > 0.075, `opened to ${obs[OPENING]}`);
  });

  it('pays the sparse reward only for a lifted cube and the dense one in [0, 1]', async () => {
    robot.reset(4);
    for (let t = 0; t < 10; t++) assert.equal(robot.step([0, 0, -1, -1]).reward, 0);
    const dense = await PandaLift.create({ reward: 'dense' });
    try {
      let obs = dense.reset(4);
      const expert = createExpert(dense);
      expert.reset();
      let last = 0;
      for (let t = 0; t < 100; t++) {
        const r = dense.step(expert.act(obs));
        assert.ok(r.reward >= 0 && r.reward <= 1, `dense reward ${r.reward}`);
        obs = r.obs;
        last = r.reward;
        if (r.done) break;
      }
      assert.ok(last > 0.9, `dense reward at success is ${last}`);
    } finally {
      dense.close();
    }
  });

  it('refuses NaN, infinite and wrong-length actions without moving', () => {
    const start = robot.reset(5);
    assert.throws(() => robot.step([Number.NaN, 0, 0, 0]), ActionError);
    assert.throws(() => robot.step([0, Infinity, 0, 0]), ActionError);
    assert.throws(() => robot.step([0, 0, 0]), /3 entries, this task takes 4/);
    const fresh = robot.reset(5);
    assert.deepEqual(Array.from(fresh), Array.from(start));
    robot.reset(5);
    assert.throws(() => robot.step([0, 0, Number.NaN, 0]), ActionError);
    const afterBad = robot.step([0.5, 0, 0, 0]).obs;
    robot.reset(5);
    assert.deepEqual(Array.from(afterBad), Array.from(robot.step([0.5, 0, 0, 0]).obs));
  });

  it('ends the episode at 100 steps as truncated, not done', () => {
    robot.reset(6);
    let result;
    for (let t = 0; t < 100; t++) result = robot.step([0, 0, 0, -1]);
    assert.equal(result!.truncated, true);
    assert.equal(result!.done, false);
  });
});
