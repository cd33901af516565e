import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createExpert, createRobot, UnknownTaskError } from '../../src/robots/index.ts';
import { Probe } from '../../src/robots/probe/probe.ts';

describe('probe', () => {
  it('pays −mean((a − t)²) with the mse reward: 0 at the target, less elsewhere', () => {
    const probe = new Probe({ actionDim: 3, target: [0.5, 0, -0.5] });
    probe.reset(0);
    assert.equal(probe.step([0.5, 0, -0.5]).reward, 0);
    assert.ok(Math.abs(probe.step([0, 0, 0]).reward - -(0.25 + 0.25) / 3) < 1e-12);
    assert.ok(Math.abs(probe.step([1, 1, 1]).reward - -(0.25 + 1 + 2.25) / 3) < 1e-12);
  });

  it('pays 1 / (1 + ‖a − t‖) with the shaped reward', () => {
    const probe = new Probe({ actionDim: 2, reward: 'shaped' });
    probe.reset(0);
    assert.equal(probe.step([0, 0]).reward, 1);
    assert.ok(Math.abs(probe.step([0.6, 0.8]).reward - 0.5) < 1e-12);
  });

  it('truncates after 200 steps and never terminates', () => {
    const probe = new Probe();
    probe.reset(0);
    for (let t = 1; t <= 200; t++) {
      const r = probe.step([0, 0, 0, 0, 0, 0]);
      assert.equal(r.done, false);
      assert.equal(r.truncated, t === 200);
    }
  });

  it('observes zeros, or seeded random values', () => {
    assert.deepEqual(Array.from(new Probe().reset(3)), [0, 0, 0, 0]);
    const a = new Probe({ observation: 'random' });
    const b = new Probe({ observation: 'random' });
    const first = Array.from(a.reset(9));
    assert.deepEqual(Array.from(b.reset(9)), first);
    assert.notDeepEqual(Array.from(a.reset(10)), first);
    assert.ok(first.every((v) => v >= -1 && v <= 1));
  });

  it('its expert outputs the target', async () => {
    const robot = await createRobot({ task: 'probe', options: { actionDim: 2, target: 0.3 } });
    const expert = createExpert(robot);
    const obs = robot.reset(0);
    assert.deepEqual(expert.act(obs), [0.3, 0.3]);
    // Executed as float32 (the safety layer's output): 0.3 is 1.2e-8 away from its float32.
    assert.ok(Math.abs(robot.apply(expert.act(obs)).reward) < 1e-12);
  });

  it('refuses bad options and unknown tasks with clear errors', async () => {
    assert.throws(
      () => new Probe({ actionDim: 2, target: [0, 0, 0] }),
      /3 entries, the action has 2/,
    );
    assert.throws(() => new Probe({ target: 2 }), /action box/);
    await assert.rejects(createRobot({ task: 'sim/pick-banana' }), UnknownTaskError);
    await assert.rejects(createRobot({ task: 'probe', options: { actionDim: 0 } }), /actionDim/);
  });
});
