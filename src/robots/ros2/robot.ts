// A real robot over ROS 2. The Robot interface is synchronous and ROS is not, so: subscriptions
// keep the latest value of every observation dimension (with when it arrived); step() publishes
// the action and returns the observation assembled from those values. The control loop runs at the
// task's rate, so the next step sees the robot's response. A topic silent past its timeout makes
// step() hold still (publish no motion) and report the topic in `info.stale` and `faults()`, so the
// studio can alarm and pause; when the topic speaks again, step() moves again. Closing the robot,
// or the process dying with it open, publishes one last stop (exit-stop.ts; docs/ROS2.md, "When
// Tandem dies").
import {
  box,
  type RobotSpec,
  type SafetySpec,
  type SceneDescription,
} from '../../protocol/index.ts';
import { checkAction, type Robot, type StepResult } from '../robot.ts';
import { defaultBounds, sourceNames, type ObservationSource, type Ros2Config } from './config.ts';
import { decode, jointCommand, poseStamped, scalar, twistStamped } from './messages.ts';
import { pause, stopOnExit } from './exit-stop.ts';
import { QOS, type Rcl, type RclClient, type RclNode, type RclPublisher } from './rcl.ts';
import { UrdfModel } from './urdf.ts';

/** No first message on some observation topic within `connectTimeoutMs`. */
export class Ros2ConnectError extends Error {
  override name = 'Ros2ConnectError';
}

/** Why the robot holds still: a topic that never spoke, went silent, or sent refused messages. */
export interface RobotFault {
  topic: string;
  kind: 'never' | 'silent';
  message: string;
}

export interface Ros2RobotOptions {
  /** Monotonic milliseconds for the topics' timeouts (default performance.now). */
  now?: () => number;
  /** Milliseconds since the epoch for message stamps (default Date.now). */
  wallClock?: () => number;
  /** Called when the robot is closed (releases rclnodejs's context). */
  onClose?: () => void;
}

interface SourceState {
  source: ObservationSource;
  offset: number;
  names: string[];
  timeoutMs: number;
  /** When each dimension last got a value (−Infinity: never). */
  seenAt: Float64Array;
  /** Why the last refused message was refused. */
  refused: string | undefined;
}

type EeAction = Extract<Ros2Config['action'], { kind: 'ee-delta' }>;
type JointsAction = Extract<Ros2Config['action'], { kind: 'joints' }>;

const GRIPPER_NAME = 'gripper';

/**
 * How many copies of the final zero twist go out, and the milliseconds between them (and after the
 * last, before the node goes): a best-effort topic over Wi-Fi may lose one; three spaced copies
 * cost 15 ms of a closing (or dying) process.
 */
const STOP_COPIES = 3;
const STOP_GAP_MS = 5;

export class Ros2Robot implements Robot {
  readonly spec: RobotSpec;
  readonly config: Ros2Config;
  /** Things the user should know (URDF meshes drawn as placeholders, no robot_description). */
  readonly notes: string[] = [];
  /** What the last reset's service call did. */
  lastReset: 'none' | 'requested' | 'unavailable' | { success: boolean; message: string } = 'none';
  readonly #node: RclNode;
  readonly #sources: SourceState[];
  readonly #obs: Float64Array;
  readonly #now: () => number;
  readonly #wallClock: () => number;
  readonly #onClose: (() => void) | undefined;
  readonly #command: RclPublisher;
  readonly #gripper: RclPublisher | undefined;
  readonly #resetClient: RclClient | undefined;
  /** Observation index of each observed joint position, by joint name. */
  readonly #jointIndex = new Map<string, number>();
  /** Observation index of each commanded joint's position, in command order (joints action). */
  readonly #jointAt: number[] = [];
  /** Observation index of the tool point's x (ee-delta). */
  readonly #toolAt: number = -1;
  /** The tool pose's orientation is observed (right after its position: qw, qx, qy, qz). */
  readonly #toolOriented: boolean = false;
  /** The tool orientation a PoseStamped target keeps: measured at reset (w, x, y, z). */
  #holdQuat: number[] = [1, 0, 0, 0];
  #urdf: UrdfModel | undefined;
  #steps = 0;
  #closed = false;
  /** Takes the robot off the process-death hook (set last in the constructor). */
  readonly #unhook: () => void;

  private constructor(node: RclNode, rcl: Rcl, config: Ros2Config, opts: Ros2RobotOptions) {
    this.config = config;
    this.#node = node;
    this.#now = opts.now ?? (() => performance.now());
    this.#wallClock = opts.wallClock ?? (() => Date.now());
    this.#onClose = opts.onClose;
    let offset = 0;
    this.#sources = config.observation.map((source) => {
      const names = sourceNames(source);
      const state: SourceState = {
        source,
        offset,
        names,
        timeoutMs: source.timeoutMs ?? config.timeoutMs,
        seenAt: new Float64Array(names.length).fill(-Infinity),
        refused: undefined,
      };
      offset += names.length;
      return state;
    });
    const obsNames = this.#sources.flatMap((s) => s.names);
    this.#obs = new Float64Array(obsNames.length);
    obsNames.forEach((n, i) => {
      if (n.endsWith('.position')) this.#jointIndex.set(n.slice(0, -'.position'.length), i);
    });
    const bounds = this.#sources.map((s) => defaultBounds(s.source));
    const lows = bounds.flatMap(([low]) => low);
    const highs = bounds.flatMap(([, high]) => high);
    const action = config.action;
    let actionNames: string[];
    let safety: SafetySpec;
    if (action.kind === 'ee-delta') {
      this.#toolAt = obsNames.indexOf(`${action.toolPose}.x`);
      this.#toolOriented = obsNames[this.#toolAt + 3] === `${action.toolPose}.qw`;
      actionNames = ['dx', 'dy', 'dz', ...(action.gripper ? [GRIPPER_NAME] : [])];
      safety = {
        kind: 'ee-delta',
        eeObs: [`${action.toolPose}.x`, `${action.toolPose}.y`, `${action.toolPose}.z`],
        translation: [0, 1, 2],
        metresPerUnit: action.metresPerUnit,
        ...(action.gripper ? { gripper: { index: 3, atReset: action.gripper.atReset } } : {}),
        workspace: action.workspace,
      };
    } else {
      actionNames = action.joints.map((j) => j.name);
      // The config checks that every commanded joint's position is observed.
      this.#jointAt = action.joints.map((j) => this.#jointIndex.get(j.name)!);
      const homes = action.joints.map((j) => j.home);
      safety = {
        kind: 'absolute',
        ...(homes.every((h) => h !== undefined)
          ? { rest: action.joints.map((j) => normalise(j.home!, j.low, j.high)) }
          : {}),
      };
    }
    this.spec = {
      task: `ros2/${config.name}`,
      observation: { names: obsNames, low: lows, high: highs },
      action: box(actionNames, -1, 1),
      rateHz: config.rateHz,
      maxSteps: config.maxSteps,
      safety,
    };

    for (const state of this.#sources) {
      node.createSubscription(state.source.type, state.source.topic, {}, (message) =>
        this.#take(state, message),
      );
    }
    this.#command = node.createPublisher(action.command.type, action.command.topic);
    this.#gripper =
      action.kind === 'ee-delta' && action.gripper
        ? node.createPublisher(action.gripper.type, action.gripper.topic)
        : undefined;
    this.#resetClient = config.reset
      ? node.createClient(config.reset.type, config.reset.service)
      : undefined;
    if (config.robotDescription) {
      // robot_state_publisher latches the URDF (transient local): a late subscriber still gets it.
      const qos = new rcl.QoS(QOS.historyKeepLast, 1, QOS.reliable, QOS.transientLocal);
      node.createSubscription('std_msgs/msg/String', config.robotDescription.topic, { qos }, (m) =>
        this.#takeUrdf(m.data),
      );
    }
    // Last: a constructor that throws leaves nothing on the process (connect destroys the node).
    this.#unhook = stopOnExit(() => this.#stop());
  }

  /**
   * Subscribes and advertises as the config says, spins, and waits (up to `connectTimeoutMs`) for
   * a first message on every observation topic; rejects with Ros2ConnectError naming the silent
   * ones (the node is then destroyed).
   */
  static async connect(
    rcl: Rcl,
    config: Ros2Config,
    opts: Ros2RobotOptions = {},
  ): Promise<Ros2Robot> {
    const node = rcl.createNode(config.node.name, config.node.namespace);
    let robot: Ros2Robot;
    try {
      robot = new Ros2Robot(node, rcl, config, opts);
    } catch (err) {
      node.destroy();
      opts.onClose?.();
      throw err;
    }
    node.spin();
    const deadline = performance.now() + config.connectTimeoutMs;
    while (robot.faults().some((f) => f.kind === 'never') && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const never = robot.faults().filter((f) => f.kind === 'never');
    if (never.length > 0) {
      robot.close();
      throw new Ros2ConnectError(
        `ROS 2 robot ${config.name}: no message within ${config.connectTimeoutMs} ms on ` +
          `${never.map((f) => f.topic).join(', ')}. Is the robot's driver running? ` +
          `Check with: ros2 topic hz ${never[0]!.topic}`,
      );
    }
    if (config.robotDescription && !robot.#urdf) {
      robot.notes.push(
        `no URDF on ${config.robotDescription.topic} yet: the 3D view shows the robot once it arrives`,
      );
    }
    return robot;
  }

  /**
   * The topics the robot cannot trust now; empty when every observation is fresh. Called by every
   * step: a fresh topic costs one pass over its arrival times and no allocation.
   */
  faults(): RobotFault[] {
    const now = this.#now();
    const faults: RobotFault[] = [];
    for (const s of this.#sources) {
      let oldest = Infinity;
      for (let i = 0; i < s.seenAt.length; i++) oldest = Math.min(oldest, s.seenAt[i]!);
      const age = now - oldest; // Infinity when some dimension never got a value
      if (age <= s.timeoutMs) continue;
      const topic = s.source.topic;
      const refused = s.refused ? ` (last message refused: ${s.refused})` : '';
      const missing = s.names.filter((_, i) => s.seenAt[i] === -Infinity);
      if (missing.length === s.names.length) {
        faults.push({ topic, kind: 'never', message: `${topic}: no message yet${refused}` });
      } else if (missing.length > 0) {
        faults.push({
          topic,
          kind: 'never',
          message: `${topic}: messages lack ${missing.join(', ')}`,
        });
      } else {
        faults.push({
          topic,
          kind: 'silent',
          message: `${topic}: silent for ${Math.round(age)} ms (timeout ${s.timeoutMs} ms)${refused}`,
        });
      }
    }
    return faults;
  }

  /** A real arm has no seed: the operator (or the configured reset service) puts it back. */
  reset(_seed: number): Float64Array {
    this.#steps = 0;
    if (this.#toolOriented) {
      const q = this.#obs.subarray(this.#toolAt + 3, this.#toolAt + 7);
      if (q.every(Number.isFinite) && Math.hypot(...q) > 0.5) this.#holdQuat = [...q];
    }
    if (this.#resetClient) {
      if (this.#resetClient.isServiceServerAvailable()) {
        this.lastReset = 'requested';
        this.#resetClient.sendRequest({}, (response) => {
          this.lastReset = {
            success: response.success === true,
            message: typeof response.message === 'string' ? response.message : '',
          };
        });
      } else {
        this.lastReset = 'unavailable';
      }
    }
    return Float64Array.from(this.#obs);
  }

  step(action: ArrayLike<number>): StepResult {
    if (this.#closed) throw new Error(`ROS 2 robot ${this.config.name} is closed`);
    checkAction(action, this.spec.action.names.length);
    this.#steps++;
    const faults = this.faults();
    const info: StepResult['info'] = { success: false };
    if (faults.length > 0) {
      this.#hold();
      info.held = true;
      info.stale = faults.map((f) => f.topic);
      info.faults = faults.map((f) => f.message);
    } else if (this.config.action.kind === 'ee-delta') {
      this.#publishEe(this.config.action, action);
    } else {
      info.limited = this.#publishJoints(this.config.action, action);
    }
    return {
      obs: Float64Array.from(this.#obs),
      reward: 0,
      done: false,
      truncated: this.#steps >= this.config.maxSteps,
      info,
    };
  }

  /**
   * Publishes the stop (a velocity command's explicit zero, see #stop), then destroys the node and
   * releases rclnodejs. Idempotent. The node and rclnodejs are released even when the stop cannot
   * be published (a context already shut down), and that error is then thrown: the caller should
   * know the robot did not hear it.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhook();
    try {
      this.#stop();
    } finally {
      try {
        this.#node.destroy();
      } finally {
        this.#onClose?.();
      }
    }
  }

  scene(): SceneDescription {
    const action = this.config.action;
    return {
      ...(this.#urdf?.scene ?? { bodies: [{ name: 'world', parent: 0 }], geoms: [] }),
      ...(action.kind === 'ee-delta' ? { workspace: action.workspace, toolObs: this.#toolAt } : {}),
    };
  }

  poses(): Float64Array {
    if (!this.#urdf) return Float64Array.of(0, 0, 0, 1, 0, 0, 0);
    return this.#urdf.poses((joint) => {
      const i = this.#jointIndex.get(joint);
      return i === undefined ? undefined : this.#obs[i];
    });
  }

  #take(state: SourceState, message: Record<string, unknown>): void {
    if (this.#closed) return;
    const decoded = decode(state.source, message);
    if ('problem' in decoded) {
      state.refused = decoded.problem;
      return;
    }
    state.refused = undefined;
    const now = this.#now();
    decoded.values.forEach((v, i) => {
      if (v === undefined) return;
      this.#obs[state.offset + i] = v;
      state.seenAt[i] = now;
    });
  }

  #takeUrdf(data: unknown): void {
    if (typeof data !== 'string') return;
    try {
      this.#urdf = new UrdfModel(data);
      this.notes.push(...this.#urdf.notes);
    } catch (err) {
      this.notes.push(`the robot_description could not be read: ${(err as Error).message}`);
    }
  }

  /** No motion: a velocity command gets an explicit zero; position targets are simply not sent. */
  #hold(): void {
    const action = this.config.action;
    if (action.kind === 'ee-delta' && action.command.type === 'geometry_msgs/msg/TwistStamped') {
      this.#command.publish(twistStamped(this.#wallClock(), action.command.frameId, [0, 0, 0]));
    }
  }

  /**
   * The last command before Tandem lets go (close(), or the process dying: exit-stop.ts). A
   * TwistStamped controller keeps integrating the last velocity it heard until its own timeout, so
   * it gets an explicit zero, in STOP_COPIES spaced copies. Pose and joint targets get nothing, as
   * in the hold: the controller keeps the last target, which is at most one step (maxStepRad, or
   * metresPerUnit) from where the arm was measured when it was sent, and the arm settles there.
   * Re-sending the measured position instead would make a new target out of an observation that
   * lags the arm (it would pull it back by its tracking error) or is stale (the reason a dying
   * studio may have stopped stepping). The gripper is left as it is.
   */
  #stop(): void {
    const action = this.config.action;
    if (action.kind !== 'ee-delta' || action.command.type !== 'geometry_msgs/msg/TwistStamped') {
      return;
    }
    for (let i = 0; i < STOP_COPIES; i++) {
      this.#hold();
      pause(STOP_GAP_MS);
    }
  }

  #publishEe(action: EeAction, a: ArrayLike<number>): void {
    const ms = this.#wallClock();
    const frame = action.command.frameId;
    const step = [0, 1, 2].map((k) => a[k]! * action.metresPerUnit);
    if (action.command.type === 'geometry_msgs/msg/TwistStamped') {
      this.#command.publish(
        twistStamped(
          ms,
          frame,
          step.map((d) => d * this.config.rateHz),
        ),
      );
    } else {
      const { low, high } = action.workspace;
      const target = step.map((d, k) =>
        Math.min(high[k]!, Math.max(low[k]!, this.#obs[this.#toolAt + k]! + d)),
      );
      this.#command.publish(poseStamped(ms, frame, target, this.#holdQuat));
    }
    if (this.#gripper && action.gripper) {
      const { open, closed } = action.gripper;
      const g = Math.min(1, Math.max(-1, a[3]!));
      this.#gripper.publish(scalar(open + ((g + 1) / 2) * (closed - open)));
    }
  }

  /** Publishes joint targets (action [−1, 1] → [low, high]); returns how many were step-limited. */
  #publishJoints(action: JointsAction, a: ArrayLike<number>): number {
    let limited = 0;
    const targets = action.joints.map((joint, i) => {
      const wanted = denormalise(a[i]!, joint.low, joint.high);
      const measured = this.#obs[this.#jointAt[i]!]!;
      const t = Math.min(
        measured + action.maxStepRad,
        Math.max(measured - action.maxStepRad, wanted),
      );
      if (t !== wanted) limited++;
      return Math.min(joint.high, Math.max(joint.low, t));
    });
    const names = this.spec.action.names; // the joints, in command order
    this.#command.publish(jointCommand(action.command.type, this.#wallClock(), names, targets));
    return limited;
  }
}

/** [low, high] → [−1, 1]. */
function normalise(v: number, low: number, high: number): number {
  return Math.min(1, Math.max(-1, (2 * (v - low)) / (high - low) - 1));
}

/** [−1, 1] → [low, high]. */
function denormalise(a: number, low: number, high: number): number {
  return low + ((Math.min(1, Math.max(-1, a)) + 1) / 2) * (high - low);
}
