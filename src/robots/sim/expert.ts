import type { RobotSpec } from '../../protocol/index.ts';

/** Phases of the scripted pick: each is entered from the observation, so a slip sends it back. */
export type ExpertPhase = 'reach' | 'descend' | 'grasp' | 'lift';

const HOVER = 0.07; // metres above the cube's centre before descending
const XY_TOLERANCE = 0.006;
const Z_TOLERANCE = 0.006;
const GRASP_STEPS = 3; // control steps for the fingers to close before lifting
const GAIN = 1.5; // proportional gain on the position error, in units of actionScale

/**
 * The scripted expert for `sim/panda-lift`: reach above the cube, descend, grasp, lift. It is the
 * stand-in operator for tests, demos and benchmarks. It reads the observation by name, so it
 * keeps working when dimensions are added.
 */
export class PandaLiftExpert {
  #phase: ExpertPhase = 'reach';
  #graspSteps = 0;
  readonly #actionScale: number;
  readonly #tcp: number;
  readonly #cube: number;
  readonly #opening: number;

  constructor(spec: RobotSpec, actionScale: number) {
    const index = (name: string): number => {
      const i = spec.observation.names.indexOf(name);
      if (i < 0) throw new Error(`the panda-lift expert needs observation ${name}`);
      return i;
    };
    this.#tcp = index('tcp.x');
    this.#cube = index('cube.x');
    this.#opening = index('gripper.opening');
    this.#actionScale = actionScale;
  }

  get phase(): ExpertPhase {
    return this.#phase;
  }

  reset(): void {
    this.#phase = 'reach';
    this.#graspSteps = 0;
  }

  act(obs: ArrayLike<number>): number[] {
    const tcp = [obs[this.#tcp]!, obs[this.#tcp + 1]!, obs[this.#tcp + 2]!];
    const cube = [obs[this.#cube]!, obs[this.#cube + 1]!, obs[this.#cube + 2]!];
    const dxy = Math.hypot(cube[0]! - tcp[0]!, cube[1]! - tcp[1]!);
    const holding = dxy < 0.015 && Math.abs(cube[2]! - tcp[2]!) < 0.015;

    if (this.#phase === 'lift' && !holding) this.#phase = 'reach'; // dropped it: start over
    if (this.#phase === 'reach' && dxy < XY_TOLERANCE && tcp[2]! > cube[2]! + HOVER - 0.02) {
      this.#phase = 'descend';
    }
    if (this.#phase === 'descend') {
      if (dxy > 2 * XY_TOLERANCE + 0.004) this.#phase = 'reach';
      else if (Math.abs(tcp[2]! - cube[2]!) < Z_TOLERANCE) {
        this.#phase = 'grasp';
        this.#graspSteps = 0;
      }
    }
    if (this.#phase === 'grasp' && ++this.#graspSteps > GRASP_STEPS) this.#phase = 'lift';

    let goal: number[];
    let gripper: number;
    switch (this.#phase) {
      case 'reach':
        goal = [cube[0]!, cube[1]!, cube[2]! + HOVER];
        // Rise before travelling sideways so the open fingers never sweep the cube.
        if (dxy > 0.03 && tcp[2]! < cube[2]! + HOVER - 0.03) goal = [tcp[0]!, tcp[1]!, goal[2]!];
        gripper = -1;
        break;
      case 'descend':
        goal = [cube[0]!, cube[1]!, cube[2]!];
        gripper = -1;
        break;
      case 'grasp':
        goal = tcp;
        gripper = 1;
        break;
      case 'lift':
        goal = [tcp[0]!, tcp[1]!, tcp[2]! + 0.1];
        gripper = 1;
        break;
    }
    const action = goal.map((g, i) => clamp((GAIN * (g - tcp[i]!)) / this.#actionScale));
    action.push(gripper);
    return action;
  }

  /** The gripper's opening, for callers that report it. */
  opening(obs: ArrayLike<number>): number {
    return obs[this.#opening]!;
  }
}

function clamp(v: number): number {
  return Math.max(-1, Math.min(1, v));
}
