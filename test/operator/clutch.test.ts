import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClutchMapper, xrToRobot, type ClutchOptionsInput } from '../../src/operator/clutch.ts';
import { box, MAX_XR_PACKET_BYTES, RobotSpec, XrPacket } from '../../src/protocol/index.ts';
import type { Robot } from '../../src/robots/index.ts';
import { PANDA_LIFT_OBS, PandaLift } from '../../src/robots/sim/panda-lift.ts';
import { SafetyLayer } from '../../src/robots/safety.ts';

const M = 0.025;
type Xyz = [number, number, number];

/** A 4-D end-effector-delta arm whose observation is just the tool point. */
const SPEC = RobotSpec.parse({
  task: 'test/arm',
  observation: box(['tcp.x', 'tcp.y', 'tcp.z'], -1, 1),
  action: box(['dx', 'dy', 'dz', 'gripper'], -1, 1),
  rateHz: 10,
  maxSteps: 100,
  safety: {
    kind: 'ee-delta',
    eeObs: ['tcp.x', 'tcp.y', 'tcp.z'],
    translation: [0, 1, 2],
    metresPerUnit: M,
    gripper: { index: 3, atReset: -1 },
    workspace: { low: [0.2, -0.3, 0.01], high: [0.65, 0.3, 0.5] },
  },
});
const TCP: Xyz = [0.4, 0, 0.25];
/** Where the emulated right controller starts (WebXR: standing, hand at waist height). */
const HOME: Xyz = [0.2, 1.1, -0.3];

interface Hand {
  position?: Xyz;
  grip?: boolean;
  trigger?: boolean;
  a?: boolean;
  b?: boolean;
  hand?: 'left' | 'right';
}

function packet(seq: number, hand: Hand = {}, extra: Partial<XrPacket> = {}): XrPacket {
  const buttons = [0, 0, 0, 0, 0, 0];
  buttons[0] = hand.trigger ? 1 : 0;
  buttons[1] = hand.grip ? 0.9 : 0.1;
  buttons[4] = hand.a ? 1 : 0;
  buttons[5] = hand.b ? 1 : 0;
  return {
    seq,
    t: 1000 + seq * 11,
    controllers: [
      {
        hand: hand.hand ?? 'right',
        ...(hand.position ? { grip: { position: hand.position, orientation: [0, 0, 0, 1] } } : {}),
        buttons,
        axes: [0, 0, 0, 0],
      },
    ],
    ...extra,
  };
}

const add = (a: Xyz, b: Xyz): Xyz => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const near = (a: ArrayLike<number>, b: ArrayLike<number>, eps = 1e-9) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= eps, `[${Array.from(a)}] vs [${Array.from(b)}]`);
  }
};

/** Engages at HOME on `tcp`, then moves the controller by `move`: returns that tick's action. */
function afterMove(move: Xyz, options: ClutchOptionsInput = {}, tcp: Xyz = TCP): number[] {
  const m = new ClutchMapper(SPEC, { deadband: 0, ...options });
  m.accept(packet(1, { position: HOME, grip: true }), 0);
  near(m.action(tcp), [0, 0, 0, -1]);
  m.accept(packet(2, { position: add(HOME, move), grip: true }), 100);
  return m.action(tcp);
}

describe('xrToRobot', () => {
  it('maps WebXR forward/right/up to robot +x/−y/+z, and yaw rotates about the vertical', () => {
    near(xrToRobot([0, 0, -1], 0), [1, 0, 0]);
    near(xrToRobot([1, 0, 0], 0), [0, -1, 0]);
    near(xrToRobot([0, 1, 0], 0), [0, 0, 1]);
    near(xrToRobot([0, 0, -1], 90), [0, 1, 0], 1e-12);
    near(xrToRobot([1, 0, 0], 90), [1, 0, 0], 1e-12);
    near(xrToRobot([0, 1, 0], 90), [0, 0, 1], 1e-12);
  });
});

describe('ClutchMapper', () => {
  it('moves the target 10 cm forward / right / up in robot +x / −y / +z (clamped to one unit)', () => {
    near(afterMove([0, 0, -0.1]), [1, 0, 0, -1]);
    near(afterMove([0.1, 0, 0]), [0, -1, 0, -1]);
    near(afterMove([0, 0.1, 0]), [0, 0, 1, -1]);
    // Small moves are proportional: 1 cm forward = 0.4 units of 2.5 cm.
    near(afterMove([0, 0, -0.01]), [0.4, 0, 0, -1], 1e-9);
    near(afterMove([0.01, 0, 0]), [0, -0.4, 0, -1], 1e-9);
  });

  it('applies yaw and scale', () => {
    near(afterMove([0, 0, -0.1], { yawDeg: 90 }), [0, 1, 0, -1], 1e-9);
    near(afterMove([0, 0, -0.01], { yawDeg: 90 }), [0, 0.4, 0, -1], 1e-9);
    near(afterMove([0, 0, -0.01], { scale: 0.5 }), [0.2, 0, 0, -1], 1e-9);
  });

  it('steers toward the target: as the tool point arrives the delta shrinks to zero', () => {
    const m = new ClutchMapper(SPEC, { deadband: 0 });
    m.accept(packet(1, { position: HOME, grip: true }), 0);
    m.action(TCP);
    m.accept(packet(2, { position: add(HOME, [0, 0, -0.02]), grip: true }), 100);
    near(m.action(TCP), [0.8, 0, 0, -1], 1e-9);
    near(m.action([0.41, 0, 0.25]), [0.4, 0, 0, -1], 1e-9);
    near(m.action([0.42, 0, 0.25]), [0, 0, 0, -1], 1e-9);
  });

  it('does not move until the clutch is held, and re-latches without a jump', () => {
    const m = new ClutchMapper(SPEC);
    assert.deepEqual(m.action(TCP), [0, 0, 0, -1], 'no packet yet: hold, gripper as at reset');
    m.accept(packet(1, { position: HOME }), 0);
    m.accept(packet(2, { position: add(HOME, [0, 0, -0.3]) }), 10);
    assert.deepEqual(m.action(TCP), [0, 0, 0, -1], 'unclutched: a moving hand does nothing');
    assert.equal(m.engaged, false);
    // Engage far from where the hand started: latched here, so no jump.
    m.accept(packet(3, { position: add(HOME, [0, 0, -0.3]), grip: true }), 20);
    assert.deepEqual(m.action(TCP), [0, 0, 0, -1]);
    assert.equal(m.engaged, true);
    m.accept(packet(4, { position: add(HOME, [0, 0, -0.31]), grip: true }), 30);
    near(m.action(TCP), [0.4, 0, 0, -1], 1e-9);
    // Release, move the hand back (ratcheting), re-engage: no jump toward the old latch.
    m.accept(packet(5, { position: HOME }), 40);
    assert.deepEqual(m.action([0.41, 0, 0.25]), [0, 0, 0, -1]);
    assert.equal(m.engaged, false);
    m.accept(packet(6, { position: HOME, grip: true }), 50);
    assert.deepEqual(m.action([0.41, 0, 0.25]), [0, 0, 0, -1]);
    m.accept(packet(7, { position: add(HOME, [0, 0.01, 0]), grip: true }), 60);
    near(m.action([0.41, 0, 0.25]), [0, 0, 0.4, -1], 1e-9);
    assert.equal(m.counters().engagements, 2);
  });

  it('ignores motion under the deadband', () => {
    const m = new ClutchMapper(SPEC, { deadband: 0.005 });
    m.accept(packet(1, { position: HOME, grip: true }), 0);
    m.action(TCP);
    m.accept(packet(2, { position: add(HOME, [0.003, 0.004, -0.002]), grip: true }), 10);
    assert.deepEqual(m.action(TCP), [0, 0, 0, -1]);
    m.accept(packet(3, { position: add(HOME, [0.003, 0.004, -0.01]), grip: true }), 20);
    near(m.action(TCP), [0.4, 0, 0, -1], 1e-9);
  });

  it('trigger closes, release opens; unclutched the last gripper command holds', () => {
    const m = new ClutchMapper(SPEC);
    m.accept(packet(1, { position: HOME, grip: true, trigger: true }), 0);
    assert.deepEqual(m.action(TCP), [0, 0, 0, 1]);
    m.accept(packet(2, { position: HOME }), 10);
    assert.deepEqual(m.action(TCP), [0, 0, 0, 1], 'released: gripper stays closed');
    m.accept(packet(3, { position: HOME, trigger: false }), 20);
    assert.deepEqual(m.action(TCP), [0, 0, 0, 1]);
    m.accept(packet(4, { position: HOME, grip: true }), 30);
    assert.deepEqual(m.action(TCP), [0, 0, 0, -1], 'clutched, trigger up: opens');
    m.reset();
    assert.deepEqual(m.action(TCP), [0, 0, 0, -1]);
  });

  it('refuses malformed, oversized and out-of-order packets without motion, and counts them', () => {
    const m = new ClutchMapper(SPEC, { deadband: 0 });
    m.accept(packet(5, { position: HOME, grip: true }), 0);
    m.action(TCP);
    const far = add(HOME, [0, 0, -0.2]);
    const bad: unknown[] = [
      { ...packet(6, { position: far, grip: true }), extra: 1 },
      packet(6, { position: [Number.NaN, 1, 0], grip: true }),
      { ...packet(6, { position: far, grip: true }), seq: -1 },
      { ...packet(6, { position: far, grip: true }), seq: 6.5 },
      packet(6, { position: [0, 1e6, 0], grip: true }),
      { ...packet(6), controllers: [...packet(6).controllers, ...packet(6).controllers] },
      { ...packet(6), controllers: [{ ...packet(6).controllers[0]!, buttons: [2] }] },
      { ...packet(6), controllers: [{ ...packet(6).controllers[0]!, axes: new Array(9).fill(0) }] },
      '{"seq": 6',
      null,
      'null',
      42,
    ];
    for (const raw of bad) assert.equal(m.accept(raw, 10), 'malformed', JSON.stringify(raw));
    assert.equal(
      m.accept(JSON.stringify({ ...packet(6), pad: 'x'.repeat(MAX_XR_PACKET_BYTES) }), 10),
      'oversized',
    );
    assert.equal(m.accept(packet(5, { position: far, grip: true }), 10), 'out-of-order');
    assert.equal(m.accept(packet(3, { position: far, grip: true }), 10), 'out-of-order');
    assert.deepEqual(m.action(TCP), [0, 0, 0, -1], 'nothing moved');
    assert.equal(m.latest?.seq, 5);
    assert.equal(m.receivedAt, 0);
    const c = m.counters();
    assert.equal(c.malformed, bad.length);
    assert.equal(c.oversized, 1);
    assert.equal(c.outOfOrder, 2);
    assert.equal(c.accepted, 1);
    // JSON text is taken too.
    assert.equal(
      m.accept(JSON.stringify(packet(6, { position: far, grip: true })), 20),
      'accepted',
    );
    assert.ok(m.action(TCP)[0]! > 0);
    assert.ok(XrPacket.safeParse(packet(7, { position: HOME })).success);
  });

  it('holds on lost tracking, and re-latches (no jump) when tracking returns', () => {
    const m = new ClutchMapper(SPEC, { deadband: 0 });
    m.accept(packet(1, { position: HOME, grip: true, trigger: true }), 0);
    m.action(TCP);
    m.accept(
      packet(2, { position: add(HOME, [0, 0, -0.01]), grip: true }, { tracking: false }),
      10,
    );
    assert.deepEqual(m.action(TCP), [0, 0, 0, 1], 'headset lost tracking: hold, gripper kept');
    m.accept(packet(3, { grip: true }), 20); // no grip pose: the controller is not tracked
    assert.deepEqual(m.action(TCP), [0, 0, 0, 1]);
    m.accept(packet(4, { position: add(HOME, [0, 0, -0.1]), grip: true, trigger: true }), 30);
    assert.deepEqual(m.action(TCP), [0, 0, 0, 1], 'back: latched where the hand is now');
    m.accept(packet(5, { position: add(HOME, [0, 0, -0.11]), grip: true, trigger: true }), 40);
    near(m.action(TCP), [0.4, 0, 0, 1], 1e-9);
    assert.equal(m.counters().lostTrackingTicks, 2);
    // The other hand's controller does not drive.
    m.accept(packet(6, { hand: 'left', position: HOME, grip: true }), 50);
    assert.deepEqual(m.action(TCP), [0, 0, 0, 1]);
  });

  it('turns A into intervene press/release and B into one success per press', () => {
    const m = new ClutchMapper(SPEC);
    const seq = [{ a: true }, { a: true }, { a: true, b: true }, { b: true }, {}, { b: true }];
    seq.forEach((h, i) => m.accept(packet(i + 1, { position: HOME, ...h }), 100 * i));
    m.accept(packet(3, { position: HOME }), 999); // out of order: no edge
    assert.deepEqual(m.events(), [
      { type: 'intervene', pressed: true, at: 0 },
      { type: 'success', at: 200 },
      { type: 'intervene', pressed: false, at: 300 },
      { type: 'success', at: 500 },
    ]);
    assert.deepEqual(m.events(), [], 'drained');
  });

  it('refuses a robot that does not take end-effector deltas', () => {
    const spec = RobotSpec.parse({ ...SPEC, safety: { kind: 'absolute' } });
    assert.throws(() => new ClutchMapper(spec), /end-effector/);
  });
});

describe('ClutchMapper on the real sim/panda-lift through the safety layer', () => {
  let robot: Robot;
  before(async () => {
    robot = await PandaLift.create();
  });
  after(() => robot.close());

  it('follows the controller 8 cm forward and 5 cm up, and the trigger closes the gripper', () => {
    const layer = new SafetyLayer(robot.spec);
    const mapper = new ClutchMapper(robot.spec);
    const periodMs = 1000 / robot.spec.rateHz;
    let obs = robot.reset(3);
    let now = 0;
    // A reset leaves the tool point near the top of the workspace: bring it 15 cm down first.
    for (let i = 0; i < 12; i++) {
      const r = layer.filter({
        action: i < 6 ? [0, 0, -1, -1] : [0, 0, 0, -1],
        source: 'policy',
        obs,
        now,
        lastOperatorPacketAt: undefined,
        estop: false,
        mode: 'autonomous',
      });
      obs = robot.step(r.action).obs;
    }
    const start = Array.from(obs);
    let seq = 0;
    let hand: Xyz = [...HOME];
    const tick = () => {
      const action = mapper.action(obs);
      const r = layer.filter({
        action,
        source: 'operator',
        obs,
        now,
        lastOperatorPacketAt: mapper.receivedAt,
        estop: false,
        mode: 'intervention',
      });
      assert.equal(r.verdict === 'held', false, `held: ${r.reasons.join(', ')}`);
      obs = robot.step(r.action).obs;
    };
    /** One control period: `frames` headset frames moving the hand by `step` each, then a tick. */
    const period = (step: Xyz, frames: number, trigger = false) => {
      for (let f = 0; f < frames; f++) {
        hand = add(hand, step);
        now += periodMs / frames;
        mapper.accept(packet(++seq, { position: hand, grip: true, trigger }), now);
      }
      tick();
    };
    period([0, 0, 0], 3); // engage
    // ~1 s: 10 periods of 3 frames, 8 cm toward −z (forward) and 5 cm up in total.
    for (let i = 0; i < 10; i++) period([0, 0.05 / 30, -0.08 / 30], 3);
    for (let i = 0; i < 10; i++) period([0, 0, 0], 3); // hold still
    const x = PANDA_LIFT_OBS['tcp.x']!;
    const y = PANDA_LIFT_OBS['tcp.y']!;
    const z = PANDA_LIFT_OBS['tcp.z']!;
    const dx = obs[x]! - start[x]!;
    const dy = obs[y]! - start[y]!;
    const dz = obs[z]! - start[z]!;
    assert.ok(Math.abs(dx - 0.08) <= 0.015, `dx ${dx}`);
    assert.ok(Math.abs(dz - 0.05) <= 0.015, `dz ${dz}`);
    assert.ok(Math.abs(dy) <= 0.015, `dy ${dy}`);

    const g = PANDA_LIFT_OBS['gripper.opening']!;
    const open = obs[g]!;
    for (let i = 0; i < 10; i++) period([0, 0, 0], 3, true);
    assert.ok(obs[g]! < open - 0.02, `gripper ${open} → ${obs[g]}`);
    assert.ok(Math.abs(obs[x]! - start[x]! - 0.08) <= 0.015, 'still there while closing');
  });
});
