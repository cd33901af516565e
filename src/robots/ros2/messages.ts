// ROS 2 messages in rclnodejs's shapes ↔ observation values and action commands. Pure functions:
// what goes over the wire is decided here and tested without ROS.
import type { ObservationSource, Ros2Config } from './config.ts';
import type { RosMessage } from './rcl.ts';

/** A decoded message: one entry per source dimension (undefined: not in this message). */
export type Decoded = { values: (number | undefined)[] } | { problem: string };

type Vec = ArrayLike<unknown>;

function isVec(v: unknown): v is Vec {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function field(message: RosMessage, ...path: string[]): unknown {
  let v: unknown = message;
  for (const key of path)
    v = typeof v === 'object' && v !== null ? (v as RosMessage)[key] : undefined;
  return v;
}

/** The values of `source`'s dimensions in `message`, or why the message is refused. */
export function decode(source: ObservationSource, message: RosMessage): Decoded {
  switch (source.type) {
    case 'sensor_msgs/msg/JointState': {
      const names = message.name;
      if (!isVec(names)) return { problem: 'JointState without name[]' };
      const index = new Map<unknown, number>();
      for (let i = 0; i < names.length; i++) index.set(names[i], i);
      const values: (number | undefined)[] = [];
      for (const joint of source.joints) {
        const at = index.get(joint);
        for (const f of source.fields) {
          const arr = message[f];
          // A driver may leave velocity or effort empty: that joint's field is then not updated.
          values.push(at !== undefined && isVec(arr) ? num(arr[at]) : undefined);
        }
      }
      return { values };
    }
    case 'geometry_msgs/msg/PoseStamped': {
      const frame = field(message, 'header', 'frame_id');
      if (source.frameId !== undefined && frame !== source.frameId) {
        return { problem: `frame "${String(frame)}", expected "${source.frameId}"` };
      }
      const p = (k: string) => num(field(message, 'pose', 'position', k));
      const q = (k: string) => num(field(message, 'pose', 'orientation', k));
      const values = [p('x'), p('y'), p('z')];
      if (source.orientation) values.push(q('w'), q('x'), q('y'), q('z'));
      if (values.some((v) => v === undefined)) return { problem: 'pose with a non-finite entry' };
      return { values };
    }
    case 'std_msgs/msg/Float32MultiArray':
    case 'std_msgs/msg/Float64MultiArray': {
      const data = message.data;
      if (!isVec(data) || data.length < source.names.length) {
        const got = isVec(data) ? data.length : 0;
        return { problem: `data has ${got} entries, ${source.names.length} are mapped` };
      }
      return { values: source.names.map((_, i) => num(data[i])) };
    }
    case 'std_msgs/msg/Float32':
    case 'std_msgs/msg/Float64':
      return { values: [num(message.data)] };
  }
}

/** A ROS 2 time stamp from milliseconds since the epoch. */
function stamp(ms: number): { sec: number; nanosec: number } {
  const sec = Math.floor(ms / 1000);
  return { sec, nanosec: Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6)) };
}

const header = (ms: number, frameId: string) => ({ stamp: stamp(ms), frame_id: frameId });

/** A TwistStamped moving the tool point by `velocity` (m/s) with no rotation. */
export function twistStamped(ms: number, frameId: string, velocity: ArrayLike<number>): RosMessage {
  return {
    header: header(ms, frameId),
    twist: {
      linear: { x: velocity[0]!, y: velocity[1]!, z: velocity[2]! },
      angular: { x: 0, y: 0, z: 0 },
    },
  };
}

/** A PoseStamped target; `quat` is w, x, y, z. */
export function poseStamped(
  ms: number,
  frameId: string,
  position: ArrayLike<number>,
  quat: ArrayLike<number>,
): RosMessage {
  return {
    header: header(ms, frameId),
    pose: {
      position: { x: position[0]!, y: position[1]!, z: position[2]! },
      orientation: { x: quat[1]!, y: quat[2]!, z: quat[3]!, w: quat[0]! },
    },
  };
}

/** A joint command in the type the config names, positions in the config's joint order. */
export function jointCommand(
  type: Extract<Ros2Config['action'], { kind: 'joints' }>['command']['type'],
  ms: number,
  names: readonly string[],
  positions: ArrayLike<number>,
): RosMessage {
  const position = Array.from(positions);
  if (type === 'sensor_msgs/msg/JointState') {
    return { header: header(ms, ''), name: [...names], position, velocity: [], effort: [] };
  }
  return { layout: { dim: [], data_offset: 0 }, data: position };
}

/** std_msgs/Float64 or Float32. */
export function scalar(value: number): RosMessage {
  return { data: value };
}
