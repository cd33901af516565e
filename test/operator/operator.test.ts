import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorrectiveOperator } from '../../src/operator/corrective.ts';
import { TeleopError, TeleopInput } from '../../src/operator/teleop.ts';
import { createExpert, createRobot } from '../../src/robots/index.ts';

describe('TeleopInput', () => {
  it('takes well-formed packets in order, and refuses the rest without changing anything', () => {
    const input = new TeleopInput(4);
    input.accept({ seq: 1, action: [0.1, 0, 0, -1], device: 'gamepad' }, 1000);
    const bad: [unknown, RegExp][] = [
      [{ seq: 2, action: [Number.NaN, 0, 0, 1] }, /action.0/],
      [{ seq: 2, action: [0, 0, 1] }, /3 entries, the robot takes 4/],
      [{ seq: 1, action: [0, 0, 0, 1] }, /seq 1 is not after 1/],
      [{ seq: -3, action: [0, 0, 0, 1] }, /seq/],
      [{ seq: 2, action: [0, 0, 0, 1], extra: true }, /packet/],
      ['{"seq":2}', /packet/],
      [null, /packet/],
    ];
    for (const [packet, reason] of bad) {
      assert.throws(
        () => input.accept(packet, 2000),
        (err: unknown) => {
          assert.ok(err instanceof TeleopError);
          assert.match(err.message, reason);
          return true;
        },
      );
    }
    assert.deepEqual(input.latest?.action, [0.1, 0, 0, -1]);
    assert.equal(input.receivedAt, 1000);
    assert.equal(input.refused, bad.length);
  });
});

describe('CorrectiveOperator on the real panda-lift sim', () => {
  it('takes over from a policy that heads away, drives the task home, hands back when proposals agree', async () => {
    const robot = await createRobot({ task: 'sim/panda-lift', options: {} });
    try {
      const expert = createExpert(robot);
      const operator = new CorrectiveOperator(createExpert(robot));
      let obs = robot.reset(3);
      expert.reset();
      // A "policy" that rises and opens the gripper: always wrong for the pick.
      const bad = [0, 0, 1, -1];
      const first = operator.decide(obs, bad);
      let takenAt = first.intervene ? 0 : -1;
      let success = false;
      for (let t = 1; t < 100 && !success; t++) {
        const d = operator.decide(obs, bad);
        if (d.intervene && takenAt < 0) takenAt = t;
        const result = robot.apply(d.intervene ? d.action : bad);
        obs = result.obs;
        success = result.info.success;
      }
      assert.ok(takenAt >= 0 && takenAt <= 5, `took over at tick ${takenAt}`);
      assert.ok(success, 'the expert, once in control, lifts the cube');
      assert.equal(operator.takeovers, 1);

      // Proposals that agree with the expert: it hands back after its minimum of steps.
      operator.reset();
      obs = robot.reset(4);
      expert.reset();
      operator.decide(obs, undefined); // no policy yet: the expert drives
      let handedBack = -1;
      for (let t = 0; t < 30; t++) {
        const proposal = expert.act(obs);
        const d = operator.decide(obs, proposal);
        if (!d.intervene) {
          handedBack = t;
          break;
        }
        obs = robot.apply(d.action).obs;
      }
      assert.ok(handedBack >= 4 && handedBack <= 10, `handed back at tick ${handedBack}`);
    } finally {
      robot.close();
    }
  });
});
