import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { box, RobotSpec, type Mode } from '../../src/protocol/index.ts';
import { createExpert, type Robot } from '../../src/robots/index.ts';
import { Probe } from '../../src/robots/probe/probe.ts';
import { PANDA_LIFT_OBS, PandaLift, WORKSPACE } from '../../src/robots/sim/panda-lift.ts';
import {
  SafetyLayer,
  SafetyOptions,
  type SafetyInput,
  type SafetyResult,
} from '../../src/robots/safety.ts';
import { Random } from '../../src/util/random.ts';

const M = 0.025;
type Xyz = [number, number, number];
const WS: { low: Xyz; high: Xyz } = { low: [0.2, -0.3, 0.01], high: [0.65, 0.3, 0.5] };

/** A 4-D end-effector-delta arm whose observation is just the tool point and one more entry. */
function armSpec(extra: Partial<Extract<RobotSpec['safety'], { kind: 'ee-delta' }>> = {}) {
  return RobotSpec.parse({
    task: 'test/arm',
    observation: box(['tcp.x', 'tcp.y', 'tcp.z', 'other'], -1, 1),
    action: box(['dx', 'dy', 'dz', 'gripper'], -1, 1),
    rateHz: 10,
    maxSteps: 100,
    safety: {
      kind: 'ee-delta',
      eeObs: ['tcp.x', 'tcp.y', 'tcp.z'],
      translation: [0, 1, 2],
      metresPerUnit: M,
      gripper: { index: 3, atReset: -1 },
      workspace: { low: [...WS.low], high: [...WS.high] },
      ...extra,
    },
  });
}

const CENTRE = [0.4, 0, 0.25, 0];

function input(action: ArrayLike<number> | null, over: Partial<SafetyInput> = {}): SafetyInput {
  return {
    action,
    source: 'policy',
    obs: CENTRE,
    now: 10_000,
    lastOperatorPacketAt: undefined,
    estop: false,
    mode: 'autonomous',
    ...over,
  };
}

const arr = (r: SafetyResult) => Array.from(r.action);
const close = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps;

describe('SafetyLayer (unit)', () => {
  it('passes an in-bounds action unchanged, as float32', () => {
    const layer = new SafetyLayer(armSpec());
    const r = layer.filter(input([0.5, -0.25, 0.1, 1]));
    assert.equal(r.verdict, 'pass');
    assert.deepEqual(r.reasons, []);
    assert.equal(r.alarm, undefined);
    assert.ok(r.action instanceof Float32Array);
    assert.deepEqual(arr(r), [0.5, -0.25, Math.fround(0.1), 1]);
  });

  it('holds on NaN, infinite, missing or wrong-length actions, keeping the gripper closed', () => {
    const layer = new SafetyLayer(armSpec());
    layer.filter(input([0.2, 0, 0, 1])); // executed: gripper closed
    for (const [bad, reason] of [
      [[Number.NaN, 0, 0, 1], 'nan'],
      [[0, Infinity, 0, 1], 'nan'],
      [[0, 0, -Infinity, -1], 'nan'],
      [[0, 0, 0, Number.NaN], 'nan'],
      [[1, 1, 1], 'length'],
      [[1, 1, 1, 1, 1], 'length'],
      [[], 'length'],
      [null, 'missing'],
      [['1', 0, 0, 0] as unknown as number[], 'nan'],
    ] as const) {
      const r = layer.filter(input(bad));
      assert.equal(r.verdict, 'held', `${String(bad)}`);
      assert.deepEqual(r.reasons, [reason]);
      assert.deepEqual(arr(r), [0, 0, 0, 1], 'no translation, gripper still closed');
    }
  });

  it('raises an alarm when a hold begins, not on every tick it lasts, and counts every reason', () => {
    const layer = new SafetyLayer(armSpec());
    const first = layer.filter(input([Number.NaN, 0, 0, 0]));
    assert.match(first.alarm ?? '', /policy proposed action\[0\] = NaN: holding still/);
    assert.equal(layer.filter(input([Number.NaN, 0, 0, 0])).alarm, undefined);
    assert.equal(layer.filter(input([0, 0, 0, 0])).verdict, 'pass');
    assert.ok(layer.filter(input([0, Number.NaN, 0, 0])).alarm, 'a new streak alarms again');
    const length = layer.filter(input([0, 0]));
    assert.match(length.alarm ?? '', /proposed 2 entries, the robot takes 4/);
    layer.filter(input([5, 0, 0, 0])); // bounds
    const stats = layer.stats();
    assert.equal(stats.ticks, 6);
    assert.deepEqual(stats.verdicts, { pass: 1, clamped: 1, held: 4 });
    assert.equal(stats.reasons.nan, 3);
    assert.equal(stats.reasons.length, 1);
    assert.equal(stats.reasons.bounds, 1);
    assert.equal(stats.reasons.workspace, 0);
  });

  it('before any executed action a hold keeps the gripper as a reset leaves it', () => {
    const layer = new SafetyLayer(armSpec());
    assert.deepEqual(arr(layer.filter(input(null))), [0, 0, 0, -1]);
    layer.filter(input([0, 0, 0, 0.5]));
    assert.deepEqual(arr(layer.filter(input(null))), [0, 0, 0, 0.5]);
    layer.reset();
    assert.deepEqual(arr(layer.filter(input(null))), [0, 0, 0, -1]);
  });

  it('clamps to the action box', () => {
    const layer = new SafetyLayer(armSpec());
    const r = layer.filter(input([3, -1e9, 0.5, 7]));
    assert.equal(r.verdict, 'clamped');
    assert.deepEqual(r.reasons, ['bounds']);
    assert.deepEqual(arr(r), [1, -1, 0.5, 1]);
  });

  it('rounds into the box when float32 rounding would step outside it', () => {
    const spec = armSpec();
    spec.action.high[3] = 0.1; // fround(0.1) > 0.1
    spec.action.low[3] = -0.1;
    spec.safety = { ...spec.safety!, gripper: { index: 3, atReset: 0 } } as typeof spec.safety;
    const layer = new SafetyLayer(spec);
    const r = layer.filter(input([0, 0, 0, 0.1]));
    assert.ok(r.action[3]! <= 0.1 && r.action[3]! > 0.0999999);
    assert.ok(layer.filter(input([0, 0, 0, -5])).action[3]! >= -0.1);
  });

  it('limits the translation per step to maxStepMetres, keeping its direction', () => {
    const layer = new SafetyLayer(armSpec(), { maxStepMetres: 0.0125 });
    const r = layer.filter(input([1, 1, 0, 1]));
    assert.equal(r.verdict, 'clamped');
    assert.deepEqual(r.reasons, ['delta']);
    const [x, y, z, g] = arr(r);
    assert.ok(close(Math.hypot(x!, y!, z!) * M, 0.0125), `step ${Math.hypot(x!, y!, z!) * M}`);
    assert.ok(Math.hypot(x!, y!, z!) * M <= 0.0125, 'rounded toward zero, never longer');
    assert.equal(x, y);
    assert.equal(z, 0);
    assert.equal(g, 1, 'the gripper is not a translation');
    assert.equal(layer.filter(input([0.4, 0.2, 0.1, 0])).verdict, 'pass', 'small steps pass');
  });

  it('by default is no tighter than the action box: a full diagonal step passes', () => {
    const layer = new SafetyLayer(armSpec());
    assert.ok(close(layer.settings.maxStepMetres!, Math.sqrt(3) * M, 1e-12));
    assert.equal(layer.filter(input([1, -1, 1, 0])).verdict, 'pass');
    assert.equal(layer.filter(input([-1, -1, -1, 0])).verdict, 'pass');
  });

  it('keeps the commanded tool point in the workspace box, shrinking only outward motion', () => {
    const layer = new SafetyLayer(armSpec());
    // 1 cm below the top: +z shrinks to 0.4 units, x and the gripper untouched.
    const nearTop = [0.4, 0, WS.high[2] - 0.01, 0];
    const r = layer.filter(input([0.5, 0, 1, 1], { obs: nearTop }));
    assert.equal(r.verdict, 'clamped');
    assert.deepEqual(r.reasons, ['workspace']);
    assert.ok(close(r.action[2]!, 0.4), `dz ${r.action[2]}`);
    assert.ok(nearTop[2]! + r.action[2]! * M <= WS.high[2]);
    assert.equal(r.action[0], 0.5);
    assert.equal(r.action[3], 1);
    // Moving away from the wall is free.
    assert.equal(layer.filter(input([0, 0, -1, 0], { obs: nearTop })).verdict, 'pass');
    // Already outside (below the floor): further down is stopped, back up is free.
    const below = [0.4, 0, WS.low[2] - 0.005, 0];
    const down = layer.filter(input([0, 0, -0.5, 0], { obs: below }));
    assert.deepEqual(arr(down), [0, 0, 0, 0]);
    assert.deepEqual(down.reasons, ['workspace']);
    assert.equal(layer.filter(input([0, 0, 0.3, 0], { obs: below })).verdict, 'pass');
    // Every face: a full push from 5 mm inside never commands past it.
    for (let k = 0; k < 3; k++) {
      for (const dir of [-1, 1]) {
        const obs = [...CENTRE];
        obs[k] = (dir > 0 ? WS.high[k]! : WS.low[k]!) - dir * 0.005;
        const a = [0, 0, 0, 0];
        a[k] = dir;
        const out = layer.filter(input(a, { obs })).action;
        const p = obs[k]! + out[k]! * M;
        assert.ok(p <= WS.high[k]! + 1e-12 && p >= WS.low[k]! - 1e-12, `axis ${k} dir ${dir}`);
        assert.ok(close(Math.abs(out[k]!), 0.2), `axis ${k} dir ${dir}: ${out[k]}`);
      }
    }
  });

  it('holds when the observation gives no finite tool point', () => {
    const layer = new SafetyLayer(armSpec());
    const r = layer.filter(input([1, 0, 0, 0], { obs: [Number.NaN, 0, 0.2, 0] }));
    assert.equal(r.verdict, 'held');
    assert.deepEqual(r.reasons, ['bad-obs']);
    assert.equal(layer.filter(input([1, 0, 0, 0], { obs: [0.4, 0] })).verdict, 'held');
  });

  it('holds on e-stop (flag or mode) and in paused mode, without alarms', () => {
    const layer = new SafetyLayer(armSpec());
    layer.filter(input([0.3, 0, 0, 1]));
    for (const over of [{ estop: true }, { mode: 'e-stop' as Mode }, { mode: 'paused' as Mode }]) {
      const r = layer.filter(input([1, 1, 1, -1], over));
      assert.equal(r.verdict, 'held');
      assert.deepEqual(r.reasons, [over.mode === 'paused' ? 'paused' : 'e-stop']);
      assert.equal(r.alarm, undefined);
      assert.deepEqual(arr(r), [0, 0, 0, 1]);
    }
    // An e-stop hold wins over everything else wrong with the tick.
    const r = layer.filter(input([Number.NaN], { estop: true, source: 'operator' }));
    assert.deepEqual(r.reasons, ['e-stop']);
  });

  it('holds and alarms when operator input is stale while the operator drives', () => {
    const layer = new SafetyLayer(armSpec());
    const op = (now: number, last: number | undefined) =>
      layer.filter(input([0.5, 0, 0, 1], { source: 'operator', now, lastOperatorPacketAt: last }));
    assert.equal(op(1000, 900).verdict, 'pass');
    assert.equal(op(1250, 1000).verdict, 'pass', 'exactly staleMs old is not yet stale');
    const stale = op(1251, 1000);
    assert.equal(stale.verdict, 'held');
    assert.deepEqual(stale.reasons, ['stale-operator']);
    assert.match(stale.alarm ?? '', /no packet for 251 ms \(limit 250 ms\)/);
    assert.deepEqual(arr(stale), [0, 0, 0, 1], 'still, gripper still closed');
    assert.equal(op(1400, 1000).alarm, undefined, 'one alarm per stale spell');
    assert.equal(op(1400, 1390).verdict, 'pass', 'a fresh packet resumes');
    assert.match(op(1500, undefined).alarm ?? '', /no operator input has arrived/);
    // Packet age does not matter for the policy or the scripted expert.
    for (const source of ['policy', 'expert'] as const) {
      const r = layer.filter(input([0.5, 0, 0, 1], { source, now: 1e6, lastOperatorPacketAt: 0 }));
      assert.equal(r.verdict, 'pass');
    }
    const tight = new SafetyLayer(armSpec(), { staleMs: 50 });
    const r = tight.filter(
      input([0, 0, 0, 0], { source: 'operator', now: 100, lastOperatorPacketAt: 40 }),
    );
    assert.equal(r.verdict, 'held');
  });

  it('always returns a finite in-bounds action of the right length, whatever comes in', () => {
    const rng = new Random(3);
    const spec = armSpec({ targetLead: 2 });
    spec.action.low = [-1, -0.5, -0.3, -0.7];
    spec.action.high = [0.1, 0.9, 1, 0.3];
    spec.safety = { ...spec.safety!, gripper: { index: 3, atReset: 0 } } as typeof spec.safety;
    const layer = new SafetyLayer(spec, { maxStepMetres: 0.01 });
    const pick = () => {
      const u = rng.next();
      if (u < 0.05) return Number.NaN;
      if (u < 0.1) return (rng.next() < 0.5 ? -1 : 1) * Infinity;
      if (u < 0.2) return rng.uniform(-1e6, 1e6);
      return rng.uniform(-2, 2);
    };
    for (let t = 0; t < 5000; t++) {
      const len = rng.next() < 0.05 ? Math.floor(rng.uniform(0, 7)) : 4;
      const action = Array.from({ length: len }, pick);
      const obs = [rng.uniform(0, 0.8), rng.uniform(-0.4, 0.4), rng.uniform(-0.1, 0.6), 0];
      if (rng.next() < 0.02) obs[1] = Number.NaN;
      const r = layer.filter(
        input(action, {
          obs,
          source: rng.next() < 0.3 ? 'operator' : 'policy',
          now: t * 100,
          lastOperatorPacketAt: t * 100 - rng.uniform(0, 400),
          estop: rng.next() < 0.05,
        }),
      );
      assert.equal(r.action.length, 4);
      r.action.forEach((v, i) => {
        assert.ok(Number.isFinite(v), `tick ${t}: entry ${i} is ${v}`);
        assert.ok(v >= spec.action.low[i]! && v <= spec.action.high[i]!, `tick ${t}: ${i}=${v}`);
      });
      if (r.verdict !== 'held') {
        assert.ok(Math.hypot(r.action[0]!, r.action[1]!, r.action[2]!) * M <= 0.01 + 1e-12);
      }
    }
  });

  it('absolute robots: per-entry delta limit from the last executed action; a hold repeats it', () => {
    const spec = new Probe({ actionDim: 3 }).spec;
    const layer = new SafetyLayer(spec, { maxDelta: 0.25 });
    assert.deepEqual(arr(layer.filter(input(null, { obs: [0, 0, 0, 0] }))), [0, 0, 0], 'centre');
    const obs = [0, 0, 0, 0];
    assert.equal(layer.filter(input([0.2, -0.2, 0], { obs })).verdict, 'pass');
    const r = layer.filter(input([1, -1, 0.1], { obs }));
    assert.deepEqual(r.reasons, ['delta']);
    assert.deepEqual(arr(r), [Math.fround(0.45), Math.fround(-0.45), Math.fround(0.1)]);
    const held = layer.filter(input([Number.NaN, 0, 0], { obs }));
    assert.deepEqual(arr(held), arr(r), 'hold = last executed');
    const both = layer.filter(input([9, -0.45, 0], { obs }));
    assert.deepEqual(both.reasons, ['bounds', 'delta']);
    assert.ok(both.action[0]! <= 0.7 && both.action[0]! > 0.6999);
    layer.reset();
    assert.equal(layer.filter(input([1, 1, 1], { obs })).verdict, 'pass', 'no limit after reset');
  });

  it('absolute robots with a rest action hold at it before any action executes', () => {
    const spec = RobotSpec.parse({
      ...new Probe({ actionDim: 2 }).spec,
      safety: { kind: 'absolute', rest: [0.5, -0.5] },
    });
    const layer = new SafetyLayer(spec);
    assert.equal(layer.settings.maxDelta, 2);
    assert.deepEqual(
      arr(layer.filter(input([1, 1], { obs: [0, 0, 0, 0], estop: true }))),
      [0.5, -0.5],
    );
  });

  it('refuses a spec without a safety description or with one that does not fit', () => {
    const probe = new Probe().spec;
    assert.throws(
      () => new SafetyLayer({ ...probe, safety: undefined }),
      /task probe has no safety description/,
    );
    const bad = { ...armSpec(), safety: { ...armSpec().safety!, eeObs: ['a', 'tcp.y', 'tcp.z'] } };
    assert.throws(() => new SafetyLayer(bad as RobotSpec), /no observation named a/);
    assert.throws(
      () =>
        RobotSpec.parse({ ...armSpec(), safety: { ...armSpec().safety, translation: [0, 1, 9] } }),
      /action index 9 is out of range/,
    );
    assert.throws(
      () =>
        RobotSpec.parse({
          ...armSpec(),
          safety: { ...armSpec().safety, workspace: { low: [1, 0, 0], high: [0, 1, 1] } },
        }),
      /workspace low > high/,
    );
    assert.throws(
      () => RobotSpec.parse({ ...probe, safety: { kind: 'absolute', rest: [0, 0] } }),
      /rest has 2 entries, the action has 6/,
    );
  });

  it('options: defaults, strict keys, settings that print as they are', () => {
    assert.deepEqual(SafetyOptions.parse({}), { staleMs: 250, maxDelta: 2 });
    assert.throws(() => SafetyOptions.parse({ staleMS: 100 }), /staleMS/);
    assert.throws(() => SafetyOptions.parse({ staleMs: -1 }));
    const layer = new SafetyLayer(armSpec(), { staleMs: 100 });
    assert.deepEqual(JSON.parse(JSON.stringify(layer.settings)), {
      staleMs: 100,
      maxDelta: 2,
      maxStepMetres: Math.sqrt(3) * M,
    });
  });

  it('tracks a leading target (targetLead) so the target, not only the next step, stays in', () => {
    const layer = new SafetyLayer(armSpec({ targetLead: 2 }));
    // The target leads the measured point by 1.5 units after a fast approach toward +x.
    const high = WS.high[0];
    let r = layer.filter(input([1, 0, 0, 0], { obs: [high - 0.06, 0, 0.25, 0] }));
    assert.equal(r.verdict, 'pass'); // target: high − 0.035
    r = layer.filter(input([1, 0, 0, 0], { obs: [high - 0.05, 0, 0.25, 0] }));
    assert.equal(r.verdict, 'pass'); // target: high − 0.01, 1.6 units ahead of the tool point
    r = layer.filter(input([1, 0, 0, 0], { obs: [high - 0.03, 0, 0.25, 0] }));
    // Without tracking, tcp + 1 unit = high − 0.005 would pass; the target may gain only 0.01.
    assert.deepEqual(r.reasons, ['workspace']);
    assert.ok(close(r.action[0]!, 0.4), `dx ${r.action[0]}`);
  });
});

describe('SafetyLayer on the real sim/panda-lift', () => {
  let robot: Robot;
  const TCP = PANDA_LIFT_OBS['tcp.x']!;
  const CUBE = PANDA_LIFT_OBS['cube.x']!;
  const tcpOf = (obs: ArrayLike<number>) => [obs[TCP]!, obs[TCP + 1]!, obs[TCP + 2]!];
  const dist = (a: number[], b: number[]) => Math.hypot(...a.map((v, i) => v - b[i]!));

  before(async () => {
    robot = await PandaLift.create();
  });
  after(() => robot.close());

  /** Runs `ticks` control ticks: the layer filters `propose(t, obs)`, the robot executes it. */
  function drive(
    layer: SafetyLayer,
    obs: Float64Array,
    ticks: number,
    propose: (
      t: number,
      obs: Float64Array,
    ) => Partial<SafetyInput> & { action: SafetyInput['action'] },
  ) {
    const out: { obs: Float64Array; result: SafetyResult }[] = [];
    for (let t = 0; t < ticks; t++) {
      const result = layer.filter(input(null, { obs, ...propose(t, obs) }));
      obs = robot.step(result.action).obs;
      out.push({ obs, result });
    }
    return { obs, out };
  }

  it('describes the sim: ee-delta on tcp.x/y/z, actionScale metres per unit, WORKSPACE', () => {
    const s = robot.spec.safety;
    assert.ok(s && s.kind === 'ee-delta');
    assert.deepEqual(s.eeObs, ['tcp.x', 'tcp.y', 'tcp.z']);
    assert.equal(s.metresPerUnit, 0.025);
    assert.deepEqual(s.workspace, { low: [...WORKSPACE.low], high: [...WORKSPACE.high] });
    assert.deepEqual(RobotSpec.parse(robot.spec), robot.spec, 'the spec validates');
  });

  it('a NaN action never moves the arm', () => {
    const layer = new SafetyLayer(robot.spec);
    const start = robot.reset(11);
    const { out } = drive(layer, start, 20, () => ({ action: [Number.NaN, 1, 1, 1] }));
    for (const { obs, result } of out) {
      assert.equal(result.verdict, 'held');
      assert.ok(dist(tcpOf(obs), tcpOf(start)) < 1e-4, `moved ${dist(tcpOf(obs), tcpOf(start))}`);
    }
    assert.equal(layer.stats().reasons.nan, 20);
  });

  it('a policy pushing out of the workspace box keeps the tool point inside it', () => {
    // A box tighter than the sim's own, so it is the layer (not the sim's clamp) that holds it.
    const workspace = { low: [0.25, -0.2, 0.3], high: [0.55, 0.2, 0.5] };
    const spec = RobotSpec.parse({
      ...robot.spec,
      safety: { ...robot.spec.safety, workspace },
    });
    const layer = new SafetyLayer(spec);
    for (const push of [
      [1, 1, -1],
      [-1, -1, -1],
      [1, -0.3, -1],
    ]) {
      layer.reset();
      const { out } = drive(layer, robot.reset(12), 40, () => ({ action: [...push, -1] }));
      for (const { obs } of out) {
        tcpOf(obs).forEach((v, k) => {
          assert.ok(v >= workspace.low[k]! - 5e-4, `${push}: axis ${k} at ${v}`);
          assert.ok(v <= workspace.high[k]! + 5e-4, `${push}: axis ${k} at ${v}`);
        });
      }
      const final = tcpOf(out.at(-1)!.obs);
      assert.ok(close(final[2]!, 0.3, 2e-3), `${push}: reached the floor of the box, ${final[2]}`);
      assert.ok(layer.stats().reasons.workspace > 0);
    }
  });

  it('e-stop holds the arm still within one tick, even at full speed', () => {
    const layer = new SafetyLayer(robot.spec);
    const { obs } = drive(layer, robot.reset(13), 5, () => ({ action: [1, 0, -1, -1] }));
    const at = tcpOf(obs);
    const { out } = drive(layer, obs, 10, () => ({ action: [1, 0, -1, -1], estop: true }));
    out.forEach(({ obs: o }, t) => {
      const d = dist(tcpOf(o), at);
      // Momentum alone: ~1 mm in the first tick (a zero delta would finish the lead: ~2 cm).
      assert.ok(d < 0.003, `tick ${t + 1} after e-stop: ${(d * 1000).toFixed(2)} mm away`);
    });
    const settled = out.slice(2).map(({ obs: o }) => tcpOf(o));
    for (let t = 1; t < settled.length; t++) {
      assert.ok(dist(settled[t]!, settled[t - 1]!) < 3e-4, `still creeping at tick ${t + 3}`);
    }
  });

  it('stale operator input holds within one tick and the gripper stays closed on the cube', () => {
    const layer = new SafetyLayer(robot.spec);
    const expert = createExpert(robot);
    let obs = robot.reset(0);
    expert.reset();
    // The operator (the scripted expert, streaming a packet every tick) grasps and lifts the cube.
    let now = 0;
    let command: number[] = [];
    for (let t = 0; t < 100 && obs[CUBE + 2]! < 0.06; t++) {
      now += 100;
      command = expert.act(obs);
      const r = layer.filter(
        input(command, { obs, source: 'operator', now, lastOperatorPacketAt: now - 5 }),
      );
      assert.notEqual(r.verdict, 'held');
      obs = robot.step(r.action).obs;
    }
    assert.ok(obs[CUBE + 2]! >= 0.06, 'the operator lifted the cube');
    assert.equal(command[3], 1, 'closed on it');
    // The link drops mid-lift: the loop keeps the last packet's command until it is stale.
    const lastPacket = now - 5;
    let heldAt: number[] | undefined;
    let cubeAt = 0;
    for (let t = 0; t < 25; t++) {
      now += 100;
      const r = layer.filter(
        input(command, { obs, source: 'operator', now, lastOperatorPacketAt: lastPacket }),
      );
      const stale = now - lastPacket > 250;
      assert.equal(r.verdict, stale ? 'held' : 'pass', `${now - lastPacket} ms after the packet`);
      if (stale && !heldAt) {
        assert.match(r.alarm ?? '', /operator input stale: no packet for 305 ms/);
        heldAt = tcpOf(obs);
        cubeAt = obs[CUBE + 2]!;
      } else assert.equal(r.alarm, undefined);
      assert.equal(r.action[3], 1, 'the gripper command stays closed');
      obs = robot.step(r.action).obs;
      if (heldAt) {
        const d = dist(tcpOf(obs), heldAt);
        assert.ok(d < 0.003, `${now - lastPacket} ms: ${(d * 1000).toFixed(2)} mm from the hold`);
      }
    }
    assert.ok(Math.abs(obs[CUBE + 2]! - cubeAt) < 0.003, 'the cube is still held up');
    assert.ok(obs[CUBE + 2]! > 0.06);
  });

  it('by default leaves the scripted expert alone: same actions but at the floor, same success', () => {
    const layer = new SafetyLayer(robot.spec);
    const expert = createExpert(robot);
    let successes = 0;
    let walled = 0;
    for (let seed = 0; seed < 5; seed++) {
      let obs = robot.reset(seed);
      expert.reset();
      layer.reset();
      for (let t = 0; t < robot.spec.maxSteps; t++) {
        const proposed = Float32Array.from(expert.act(obs));
        const r = layer.filter(input(proposed, { obs, source: 'expert' }));
        // The expert presses the cube into the table at the grasp: the floor of the box stops
        // its target there, as the sim's own clamp would. Nothing else is ever changed.
        if (r.reasons.length > 0) assert.deepEqual(r.reasons, ['workspace']);
        else assert.deepEqual(arr(r), Array.from(proposed));
        walled += r.reasons.length;
        const step = robot.step(r.action);
        obs = step.obs;
        if (step.done) {
          successes++;
          break;
        }
      }
    }
    assert.equal(successes, 5);
    assert.ok(walled < 10, `${walled} workspace clamps`);
  });
});
