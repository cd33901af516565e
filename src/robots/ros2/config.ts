// A ROS 2 robot's config file: which topics make the observation, where the action goes, frames,
// rates and timeouts (docs/ROS2.md describes every field). Parsed by zod; a mistake is reported
// with the file's path and the field.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A config file that cannot be read or does not fit the schema; names the file and the field. */
export class Ros2ConfigError extends Error {
  override name = 'Ros2ConfigError';
}

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only');
const topic = z
  .string()
  .regex(/^~?\/?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/, 'not a ROS 2 topic name');
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const xyz = z.tuple([finite, finite, finite]);
const timeoutMs = z.number().positive().max(60_000);
/** One bound for every dimension of a source, or one per dimension. */
const bound = z.union([finite, z.array(finite)]);
const bounds = { timeoutMs: timeoutMs.optional(), low: bound.optional(), high: bound.optional() };
const frameId = z.string().min(1);

const JOINT_FIELDS = ['position', 'velocity', 'effort'] as const;

const JointStateSource = z
  .object({
    type: z.literal('sensor_msgs/msg/JointState'),
    topic,
    /** Read by name from each message (a driver may order or split them as it likes). */
    joints: z.array(z.string().min(1)).min(1),
    fields: z.array(z.enum(JOINT_FIELDS)).min(1).default(['position']),
    ...bounds,
  })
  .strict();

const PoseSource = z
  .object({
    type: z.literal('geometry_msgs/msg/PoseStamped'),
    topic,
    /** Prefix of the dimensions: NAME.x, NAME.y, NAME.z (and NAME.qw, .qx, .qy, .qz). */
    name,
    /** A message in another frame is refused (and the topic counts as silent until one fits). */
    frameId: frameId.optional(),
    orientation: z.boolean().default(true),
    ...bounds,
  })
  .strict();

const arraySource = <T extends string>(type: T) =>
  z.object({ type: z.literal(type), topic, names: z.array(name).min(1), ...bounds }).strict();
const scalarSource = <T extends string>(type: T) =>
  z.object({ type: z.literal(type), topic, name, ...bounds }).strict();

export const ObservationSource = z.discriminatedUnion('type', [
  JointStateSource,
  PoseSource,
  arraySource('std_msgs/msg/Float32MultiArray'),
  arraySource('std_msgs/msg/Float64MultiArray'),
  scalarSource('std_msgs/msg/Float32'),
  scalarSource('std_msgs/msg/Float64'),
]);
export type ObservationSource = z.infer<typeof ObservationSource>;

const EeDeltaAction = z
  .object({
    kind: z.literal('ee-delta'),
    /**
     * TwistStamped: a velocity (one unit for one control period moves `metresPerUnit`), zero to
     * hold. PoseStamped: a target, the measured tool point plus the delta, orientation as at reset.
     */
    command: z
      .object({
        type: z.enum(['geometry_msgs/msg/TwistStamped', 'geometry_msgs/msg/PoseStamped']),
        topic,
        frameId,
      })
      .strict(),
    /** The PoseStamped observation source that measures the tool point (by its `name`). */
    toolPose: name,
    metresPerUnit: z.number().positive().max(0.1),
    workspace: z
      .object({ low: xyz, high: xyz })
      .strict()
      .refine((w) => w.low.every((lo, i) => lo < w.high[i]!), 'workspace low must be < high'),
    /** +1 closes, −1 opens; published as `open + (a + 1) / 2 · (closed − open)`. */
    gripper: z
      .object({
        type: z.enum(['std_msgs/msg/Float64', 'std_msgs/msg/Float32']),
        topic,
        open: finite,
        closed: finite,
        atReset: z.number().min(-1).max(1).default(-1),
      })
      .strict()
      .refine((g) => g.open !== g.closed, 'gripper open and closed must differ')
      .optional(),
  })
  .strict();

const JointsAction = z
  .object({
    kind: z.literal('joints'),
    command: z
      .object({
        type: z.enum(['sensor_msgs/msg/JointState', 'std_msgs/msg/Float64MultiArray']),
        topic,
      })
      .strict(),
    /** In command order. An action entry in [−1, 1] maps linearly onto [low, high] (radians). */
    joints: z
      .array(
        z
          .object({ name: z.string().min(1), low: finite, high: finite, home: finite.optional() })
          .strict()
          .refine((j) => j.low < j.high, 'low must be < high')
          .refine((j) => j.home === undefined || (j.low <= j.home && j.home <= j.high), {
            message: 'home must lie within [low, high]',
          }),
      )
      .min(1),
    /** No command moves a joint further than this from where it is measured (radians). */
    maxStepRad: z.number().positive().max(1).default(0.1),
  })
  .strict();

export const Ros2Config = z
  .object({
    /** The task's name is `ros2/NAME`. */
    name,
    node: z
      .object({ name: name.default('tandem'), namespace: z.string().default('') })
      .strict()
      .default({ name: 'tandem', namespace: '' }),
    rateHz: z.number().positive().max(1000).default(10),
    maxSteps: z.number().int().positive().default(200),
    /** Default silence (ms) after which a topic is stale: the robot holds still. */
    timeoutMs: timeoutMs.default(500),
    /** How long `connect` waits for every observation topic's first message. */
    connectTimeoutMs: timeoutMs.default(5000),
    observation: z.array(ObservationSource).min(1),
    action: z.discriminatedUnion('kind', [EeDeltaAction, JointsAction]),
    /** The URDF for the 3D view (a std_msgs/String, latched); `false`: no 3D view. */
    robotDescription: z
      .union([z.object({ topic }).strict(), z.literal(false)])
      .default({ topic: '/robot_description' }),
    /** A std_srvs/Trigger-like service called (without waiting) on every reset. */
    reset: z
      .object({ service: topic, type: z.string().default('std_srvs/srv/Trigger') })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const dims = observationNames(config.observation);
    const seen = new Set<string>();
    for (const dim of dims) {
      if (seen.has(dim)) {
        ctx.addIssue({ code: 'custom', path: ['observation'], message: `${dim} appears twice` });
      }
      seen.add(dim);
    }
    config.observation.forEach((source, i) => {
      const n = sourceNames(source).length;
      for (const key of ['low', 'high'] as const) {
        const b = source[key];
        if (Array.isArray(b) && b.length !== n) {
          const message = `has ${b.length} entries, the source has ${n} dimensions`;
          ctx.addIssue({ code: 'custom', path: ['observation', i, key], message });
        }
      }
    });
    const action = config.action;
    if (action.kind === 'ee-delta') {
      const tool = config.observation.find(
        (s) => s.type === 'geometry_msgs/msg/PoseStamped' && s.name === action.toolPose,
      );
      if (!tool) {
        ctx.addIssue({
          code: 'custom',
          path: ['action', 'toolPose'],
          message: `no PoseStamped observation named ${action.toolPose}`,
        });
      } else if (
        action.command.type === 'geometry_msgs/msg/PoseStamped' &&
        !(tool.type === 'geometry_msgs/msg/PoseStamped' && tool.orientation)
      ) {
        // A pose target keeps the orientation measured at reset: it must be observed.
        ctx.addIssue({
          code: 'custom',
          path: ['action', 'toolPose'],
          message: `a PoseStamped command needs ${action.toolPose}'s orientation observed`,
        });
      }
    } else {
      action.joints.forEach((joint, i) => {
        if (!seen.has(`${joint.name}.position`)) {
          ctx.addIssue({
            code: 'custom',
            path: ['action', 'joints', i, 'name'],
            message: `${joint.name}'s position is not observed (add it to a JointState source): the step limit needs it`,
          });
        }
      });
      const names = action.joints.map((j) => j.name);
      if (new Set(names).size !== names.length) {
        ctx.addIssue({ code: 'custom', path: ['action', 'joints'], message: 'joints repeat' });
      }
    }
  });
export type Ros2Config = z.infer<typeof Ros2Config>;

/** The observation dimensions one source fills, in order. */
export function sourceNames(source: ObservationSource): string[] {
  switch (source.type) {
    case 'sensor_msgs/msg/JointState':
      return source.joints.flatMap((j) => source.fields.map((f) => `${j}.${f}`));
    case 'geometry_msgs/msg/PoseStamped':
      return ['x', 'y', 'z', ...(source.orientation ? ['qw', 'qx', 'qy', 'qz'] : [])].map(
        (c) => `${source.name}.${c}`,
      );
    case 'std_msgs/msg/Float32MultiArray':
    case 'std_msgs/msg/Float64MultiArray':
      return [...source.names];
    case 'std_msgs/msg/Float32':
    case 'std_msgs/msg/Float64':
      return [source.name];
  }
}

export function observationNames(sources: readonly ObservationSource[]): string[] {
  return sources.flatMap(sourceNames);
}

/** Generous physical ranges for a source's dimensions when the config gives none. */
export function defaultBounds(source: ObservationSource): [low: number[], high: number[]] {
  const names = sourceNames(source);
  const range = (dim: string): number => {
    if (source.type === 'sensor_msgs/msg/JointState') {
      if (dim.endsWith('.position')) return 6.3; // ≥ 2π: a revolute joint's whole turn
      return dim.endsWith('.velocity') ? 20 : 500;
    }
    if (source.type === 'geometry_msgs/msg/PoseStamped') return /\.q[wxyz]$/.test(dim) ? 1 : 5;
    return 1000;
  };
  const fill = (b: number | number[] | undefined, sign: number) =>
    names.map((dim, i) =>
      b === undefined ? sign * range(dim) : typeof b === 'number' ? b : b[i]!,
    );
  return [fill(source.low, -1), fill(source.high, 1)];
}

/** `pkg/Type` is accepted for `pkg/msg/Type`, as `ros2 topic` prints it either way. */
function withMsg(raw: unknown): unknown {
  const fix = (v: unknown) =>
    typeof v === 'string' && /^\w+\/\w+$/.test(v) ? v.replace('/', '/msg/') : v;
  if (typeof raw !== 'object' || raw === null) return raw;
  const config = raw as Record<string, unknown>;
  const fixType = (o: unknown) =>
    typeof o === 'object' && o !== null && 'type' in o
      ? { ...(o as Record<string, unknown>), type: fix((o as { type: unknown }).type) }
      : o;
  const action = config.action as Record<string, unknown> | undefined;
  return {
    ...config,
    ...(Array.isArray(config.observation) ? { observation: config.observation.map(fixType) } : {}),
    ...(action && typeof action === 'object'
      ? {
          action: {
            ...action,
            ...(action.command ? { command: fixType(action.command) } : {}),
            ...(action.gripper ? { gripper: fixType(action.gripper) } : {}),
          },
        }
      : {}),
  };
}

/** Parses a config object; `where` (the file) starts every error message. */
export function parseRos2Config(raw: unknown, where: string): Ros2Config {
  const parsed = Ros2Config.safeParse(withMsg(raw));
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 3).map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return `${field}: ${issue.message}`;
  });
  const more =
    parsed.error.issues.length > 3 ? ` (and ${parsed.error.issues.length - 3} more)` : '';
  throw new Ros2ConfigError(`ROS 2 robot config ${where}: ${issues.join('; ')}${more}`);
}

/** Reads and parses a JSON config file. */
export function loadRos2Config(path: string): Ros2Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
    throw new Ros2ConfigError(`ROS 2 robot config ${path}: cannot be read (${reason})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Ros2ConfigError(
      `ROS 2 robot config ${path}: not valid JSON (${(err as Error).message})`,
    );
  }
  return parseRos2Config(raw, path);
}
