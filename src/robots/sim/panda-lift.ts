import type { MainModule, MjData, MjModel } from 'mujoco-js';
import { PandaLiftOptions, type RobotSpec, type SceneDescription } from '../../protocol/index.ts';
import { Random } from '../../util/random.ts';
import { checkAction, type Robot, type StepResult } from '../robot.ts';
import { SiteIk } from './ik.ts';
import { idOf, loadModel } from './mujoco.ts';
import { bodyPoses, describeModel } from './scene.ts';

export const PANDA_LIFT_MODEL = new URL('../../../assets/models/panda-lift.xml', import.meta.url);

const ARM_JOINTS = 7;
const HOME = [0, -Math.PI / 4, 0, (-3 * Math.PI) / 4, 0, Math.PI / 2, Math.PI / 4];
/** Gripper pointing down, fingers along the world y axis (the site's rotation at HOME). */
const TCP_DOWN = [1, 0, 0, 0, -1, 0, 0, 0, -1];
const CONTROL_HZ = 10;
const FINGER_OPEN = 0.04;
const CUBE_HALF = 0.02;
/** Where the tool-centre point may go (robot base frame, metres); targets are clamped into it. */
export const WORKSPACE = { low: [0.2, -0.3, 0.01], high: [0.65, 0.3, 0.5] } as const;
/** Where the cube is placed at reset, uniformly. */
export const CUBE_SAMPLING = { low: [0.32, -0.15], high: [0.55, 0.15] } as const;
/** Largest distance the commanded target may lead the measured tool point (no wind-up). */
const MAX_LEAD_STEPS = 2;

const JOINT_NAMES = Array.from({ length: ARM_JOINTS }, (_, i) => `joint${i + 1}`);
const OBS_NAMES = [
  ...JOINT_NAMES.map((n) => `${n}.pos`),
  ...JOINT_NAMES.map((n) => `${n}.vel`),
  'gripper.opening',
  'tcp.x',
  'tcp.y',
  'tcp.z',
  'cube.x',
  'cube.y',
  'cube.z',
  'cube_minus_tcp.x',
  'cube_minus_tcp.y',
  'cube_minus_tcp.z',
];

/** Physical ranges of the observation: joint limits, speeds, the gripper, the table area. */
function observationBox(jointRange: Float64Array): RobotSpec['observation'] {
  const MAX_JOINT_SPEED = 5; // rad/s; the Panda's nominal limits are 2.2–2.6
  const low: number[] = [];
  const high: number[] = [];
  const add = (lo: number, hi: number, n = 1) => {
    for (let i = 0; i < n; i++) {
      low.push(lo);
      high.push(hi);
    }
  };
  for (let i = 0; i < ARM_JOINTS; i++) add(jointRange[2 * i]!, jointRange[2 * i + 1]!);
  add(-MAX_JOINT_SPEED, MAX_JOINT_SPEED, ARM_JOINTS);
  add(0, 2 * FINGER_OPEN);
  add(-1, 1, 9); // tool point, cube and their difference: within a metre of the base
  return { names: OBS_NAMES, low, high };
}

/** Index of each named observation entry, for readers such as the scripted expert. */
export const PANDA_LIFT_OBS = Object.fromEntries(OBS_NAMES.map((n, i) => [n, i])) as Record<
  string,
  number
>;

/**
 * `sim/panda-lift`: lift a cube 0.1 m off the table. Action `[dx, dy, dz, gripper]` in [−1, 1]:
 * the tool point's target moves by `actionScale` metres per unit, orientation held down; gripper
 * +1 closes, −1 opens (a finger-opening target). 10 Hz control over 2 ms physics steps.
 */
export class PandaLift implements Robot {
  readonly spec: RobotSpec;
  readonly options: PandaLiftOptions;
  readonly #mj: MainModule;
  readonly #model: MjModel;
  readonly #data: MjData;
  readonly #ik: SiteIk;
  readonly #tcp: number;
  readonly #substeps: number;
  readonly #cubeQpos: number;
  readonly #fingerQpos: [number, number];
  readonly #qDes = new Float64Array(ARM_JOINTS);
  readonly #target = new Float64Array(3);
  #steps = 0;
  #cubeRestZ = CUBE_HALF;
  #closed = false;

  static async create(options: Partial<PandaLiftOptions> = {}): Promise<PandaLift> {
    const { mj, model, data } = await loadModel(PANDA_LIFT_MODEL);
    return new PandaLift(mj, model, data, PandaLiftOptions.parse(options));
  }

  private constructor(mj: MainModule, model: MjModel, data: MjData, options: PandaLiftOptions) {
    this.#mj = mj;
    this.#model = model;
    this.#data = data;
    this.options = options;
    const obj = mj.mjtObj;
    this.#tcp = idOf(mj, model, obj.mjOBJ_SITE.value, 'tcp');
    const jntQposAdr = model.jnt_qposadr as Int32Array;
    this.#cubeQpos = jntQposAdr[idOf(mj, model, obj.mjOBJ_JOINT.value, 'cube')]!;
    this.#fingerQpos = [
      jntQposAdr[idOf(mj, model, obj.mjOBJ_JOINT.value, 'finger_left')]!,
      jntQposAdr[idOf(mj, model, obj.mjOBJ_JOINT.value, 'finger_right')]!,
    ];
    this.#substeps = Math.round(1 / CONTROL_HZ / model.opt.timestep);
    this.#ik = new SiteIk(mj, model, {
      armDofs: ARM_JOINTS,
      site: this.#tcp,
      damping: 0.02,
      iterations: 2,
      nullGain: 0.05,
      rest: HOME,
    });
    this.spec = {
      task: 'sim/panda-lift',
      observation: observationBox(model.jnt_range as Float64Array),
      action: { names: ['dx', 'dy', 'dz', 'gripper'], low: [-1, -1, -1, -1], high: [1, 1, 1, 1] },
      rateHz: CONTROL_HZ,
      maxSteps: options.maxSteps,
      safety: {
        kind: 'ee-delta',
        eeObs: ['tcp.x', 'tcp.y', 'tcp.z'],
        translation: [0, 1, 2],
        metresPerUnit: options.actionScale,
        gripper: { index: 3, atReset: -1 }, // a reset opens the fingers
        targetLead: MAX_LEAD_STEPS,
        workspace: { low: [...WORKSPACE.low], high: [...WORKSPACE.high] },
      },
    };
  }

  reset(seed: number): Float64Array {
    const mj = this.#mj;
    const rng = new Random(seed);
    mj.mj_resetDataKeyframe(this.#model, this.#data, 0);
    const qpos = this.#data.qpos as Float64Array;
    const c = this.#cubeQpos;
    qpos[c] = rng.uniform(CUBE_SAMPLING.low[0], CUBE_SAMPLING.high[0]);
    qpos[c + 1] = rng.uniform(CUBE_SAMPLING.low[1], CUBE_SAMPLING.high[1]);
    qpos[c + 2] = CUBE_HALF;
    mj.mj_forward(this.#model, this.#data);
    this.#qDes.set(HOME);
    this.#target.set(
      (this.#data.site_xpos as Float64Array).subarray(3 * this.#tcp, 3 * this.#tcp + 3),
    );
    this.#cubeRestZ = CUBE_HALF;
    this.#steps = 0;
    this.#closed = false;
    return this.#observe();
  }

  step(action: ArrayLike<number>): StepResult {
    checkAction(action, 4);
    const { actionScale } = this.options;
    const tcp = this.#tcpPos();
    const lead = MAX_LEAD_STEPS * actionScale;
    for (let i = 0; i < 3; i++) {
      const a = Math.max(-1, Math.min(1, action[i]!));
      const moved = this.#target[i]! + a * actionScale;
      const led = Math.max(tcp[i]! - lead, Math.min(tcp[i]! + lead, moved));
      this.#target[i] = Math.max(WORKSPACE.low[i]!, Math.min(WORKSPACE.high[i]!, led));
    }
    this.#ik.solve(this.#qDes, this.#target, TCP_DOWN);
    const grip = Math.max(-1, Math.min(1, action[3]!));
    this.#closed = grip > 0;
    const ctrl = this.#data.ctrl as Float64Array;
    ctrl.set(this.#qDes);
    ctrl[ARM_JOINTS] = (FINGER_OPEN * (1 - grip)) / 2;
    for (let i = 0; i < this.#substeps; i++) this.#mj.mj_step(this.#model, this.#data);
    this.#steps++;

    const obs = this.#observe();
    const lift = this.#cubePos()[2]! - this.#cubeRestZ;
    const success = lift >= this.options.liftHeight;
    const reward =
      this.options.reward === 'sparse' ? (success ? 1 : 0) : this.#denseReward(obs, lift);
    return {
      obs,
      reward,
      done: success,
      truncated: !success && this.#steps >= this.options.maxSteps,
      info: { success, lift, target: Array.from(this.#target), gripperClosed: this.#closed },
    };
  }

  /** The MuJoCo model and data, read-only, for viewers. */
  get simulation(): { model: MjModel; data: MjData } {
    return { model: this.#model, data: this.#data };
  }

  scene(): SceneDescription {
    return {
      ...describeModel(this.#mj, this.#model),
      workspace: {
        low: [...WORKSPACE.low] as [number, number, number],
        high: [...WORKSPACE.high] as [number, number, number],
      },
      toolObs: PANDA_LIFT_OBS['tcp.x']!,
    };
  }

  poses(): Float64Array {
    return bodyPoses(this.#model, this.#data);
  }

  close(): void {
    this.#ik.delete();
    this.#data.delete();
    this.#model.delete();
  }

  // Dense variant (docs/SIM.md): 0.3·exp(−20·‖cube − tcp‖) + 0.7·clip(lift / liftHeight, 0, 1).
  #denseReward(obs: Float64Array, lift: number): number {
    const i = PANDA_LIFT_OBS['cube_minus_tcp.x']!;
    const dist = Math.hypot(obs[i]!, obs[i + 1]!, obs[i + 2]!);
    const lifted = Math.max(0, Math.min(1, lift / this.options.liftHeight));
    return 0.3 * Math.exp(-20 * dist) + 0.7 * lifted;
  }

  #tcpPos(): Float64Array {
    const p = 3 * this.#tcp;
    return (this.#data.site_xpos as Float64Array).subarray(p, p + 3);
  }

  #cubePos(): Float64Array {
    return (this.#data.qpos as Float64Array).subarray(this.#cubeQpos, this.#cubeQpos + 3);
  }

  #observe(): Float64Array {
    const qpos = this.#data.qpos as Float64Array;
    const qvel = this.#data.qvel as Float64Array;
    const obs = new Float64Array(OBS_NAMES.length);
    obs.set(qpos.subarray(0, ARM_JOINTS), 0);
    obs.set(qvel.subarray(0, ARM_JOINTS), ARM_JOINTS);
    obs[2 * ARM_JOINTS] = qpos[this.#fingerQpos[0]]! + qpos[this.#fingerQpos[1]]!;
    const tcp = this.#tcpPos();
    const cube = this.#cubePos();
    for (let i = 0; i < 3; i++) {
      obs[15 + i] = tcp[i]!;
      obs[18 + i] = cube[i]!;
      obs[21 + i] = cube[i]! - tcp[i]!;
    }
    return obs;
  }
}
