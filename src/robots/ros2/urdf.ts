// URDF (the `robot_description` a ROS 2 robot publishes) → what the 3D view draws: one body per
// link, box / cylinder / sphere visuals as geoms, and forward kinematics from joint positions for
// the bodies' poses. Mesh visuals are not loaded (their files live on the robot's machine): each is
// drawn as a small grey sphere, and `notes` says so.
import type { SceneDescription } from '../../protocol/index.ts';

interface XmlElement {
  tag: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

/** Enough XML for URDF: elements and attributes; text, comments and declarations are skipped. */
function parseXml(text: string): XmlElement {
  const root: XmlElement = { tag: '#document', attrs: {}, children: [] };
  const stack = [root];
  const tagRe =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[[\s\S]*?\]\]>|<![^>]*>|<(\/?)([\w:.-]+)([^>]*?)(\/?)>/g;
  const attrRe = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  for (const m of text.matchAll(tagRe)) {
    const [, close, tag, rest, selfClose] = m;
    if (!tag) continue;
    if (close) {
      const open = stack.pop();
      if (!open || open.tag !== tag)
        throw new Error(`URDF: </${tag}> does not close <${open?.tag}>`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (rest ?? '').matchAll(attrRe)) attrs[a[1]!] = a[2] ?? a[3] ?? '';
    const element: XmlElement = { tag, attrs, children: [] };
    stack.at(-1)!.children.push(element);
    if (!selfClose) stack.push(element);
  }
  if (stack.length !== 1) throw new Error(`URDF: <${stack.at(-1)!.tag}> is not closed`);
  return root;
}

type Vec3 = [number, number, number];
/** w, x, y, z */
type Quat = [number, number, number, number];

function numbers(text: string | undefined, n: number, fallback: number[]): number[] {
  if (text === undefined) return fallback;
  const v = text.trim().split(/\s+/).map(Number);
  if (v.length !== n || !v.every(Number.isFinite)) throw new Error(`URDF: bad numbers "${text}"`);
  return v;
}

/** URDF rpy (fixed axes: roll about x, then pitch about y, then yaw about z) as a quaternion. */
function rpyQuat(r: number, p: number, y: number): Quat {
  const [cr, sr] = [Math.cos(r / 2), Math.sin(r / 2)];
  const [cp, sp] = [Math.cos(p / 2), Math.sin(p / 2)];
  const [cy, sy] = [Math.cos(y / 2), Math.sin(y / 2)];
  return [
    cr * cp * cy + sr * sp * sy,
    sr * cp * cy - cr * sp * sy,
    cr * sp * cy + sr * cp * sy,
    cr * cp * sy - sr * sp * cy,
  ];
}

function quatMul(a: Quat, b: Quat): Quat {
  return [
    a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
    a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
    a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
    a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
  ];
}

function rotate(q: Quat, v: Vec3): Vec3 {
  const p = quatMul(quatMul(q, [0, v[0], v[1], v[2]]), [q[0], -q[1], -q[2], -q[3]]);
  return [p[1], p[2], p[3]];
}

/** `axis` is a unit vector (or zero). */
function axisAngle(axis: Vec3, angle: number): Quat {
  const s = Math.sin(angle / 2);
  return [Math.cos(angle / 2), axis[0] * s, axis[1] * s, axis[2] * s];
}

function unit(v: Vec3): Vec3 {
  const n = Math.hypot(...v) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

interface Origin {
  pos: Vec3;
  quat: Quat;
}

function originOf(el: XmlElement | undefined): Origin {
  const o = el?.children.find((c) => c.tag === 'origin');
  const [x, y, z] = numbers(o?.attrs.xyz, 3, [0, 0, 0]) as Vec3;
  const [r, p, yaw] = numbers(o?.attrs.rpy, 3, [0, 0, 0]);
  return { pos: [x, y, z], quat: rpyQuat(r!, p!, yaw!) };
}

interface Joint {
  name: string;
  type: string;
  parent: number;
  child: number;
  origin: Origin;
  /** Unit length (or zero). */
  axis: Vec3;
}

const GREY: Quat = [0.6, 0.6, 0.65, 1];
const PLACEHOLDER_RADIUS = 0.02;

/** A parsed URDF: the scene to draw and the kinematics to pose it. */
export class UrdfModel {
  readonly scene: SceneDescription;
  /** What could not be drawn as it is (meshes shown as placeholders). */
  readonly notes: string[] = [];
  /** Joints in an order where every parent body is posed before its child. */
  readonly #joints: Joint[];

  constructor(urdf: string) {
    const robot = parseXml(urdf).children.find((c) => c.tag === 'robot');
    if (!robot) throw new Error('URDF: no <robot> element');
    const materials = new Map<string, Quat>();
    for (const m of robot.children.filter((c) => c.tag === 'material')) {
      const color = m.children.find((c) => c.tag === 'color');
      if (m.attrs.name && color) {
        materials.set(m.attrs.name, numbers(color.attrs.rgba, 4, GREY as number[]) as Quat);
      }
    }
    const links = robot.children.filter((c) => c.tag === 'link');
    const index = new Map(links.map((l, i) => [l.attrs.name ?? '', i + 1]));
    const joints: Joint[] = robot.children
      .filter((c) => c.tag === 'joint')
      .map((j) => {
        const end = (tag: string) => {
          const link = j.children.find((c) => c.tag === tag)?.attrs.link;
          const at = link === undefined ? undefined : index.get(link);
          if (at === undefined) throw new Error(`URDF: joint ${j.attrs.name} has no known ${tag}`);
          return at;
        };
        const axis = j.children.find((c) => c.tag === 'axis')?.attrs.xyz;
        return {
          name: j.attrs.name ?? '',
          type: j.attrs.type ?? 'fixed',
          parent: end('parent'),
          child: end('child'),
          origin: originOf(j),
          axis: unit(numbers(axis, 3, [1, 0, 0]) as Vec3),
        };
      });
    const parentOf = new Map(joints.map((j) => [j.child, j.parent]));
    // Body 0 is the world; each root link hangs from it.
    const bodies = [
      { name: 'world', parent: 0 },
      ...links.map((l, i) => ({ name: l.attrs.name ?? '', parent: parentOf.get(i + 1) ?? 0 })),
    ];
    const depth = (b: number): number => (b === 0 ? 0 : 1 + depth(bodies[b]!.parent));
    this.#joints = joints.sort((a, b) => depth(a.child) - depth(b.child));

    const geoms: SceneDescription['geoms'] = [];
    const meshes: string[] = [];
    links.forEach((link, i) => {
      for (const visual of link.children.filter((c) => c.tag === 'visual')) {
        const { pos, quat } = originOf(visual);
        const material = visual.children.find((c) => c.tag === 'material');
        const color = material?.children.find((c) => c.tag === 'color')?.attrs.rgba;
        const rgba = color
          ? (numbers(color, 4, GREY) as Quat)
          : (materials.get(material?.attrs.name ?? '') ?? GREY);
        const shape = visual.children.find((c) => c.tag === 'geometry')?.children[0];
        const geom = { body: i + 1, pos, quat, rgba };
        switch (shape?.tag) {
          case 'box': {
            const [x, y, z] = numbers(shape.attrs.size, 3, [0, 0, 0]);
            geoms.push({ ...geom, type: 'box', size: [x! / 2, y! / 2, z! / 2] });
            break;
          }
          case 'cylinder': {
            const [r] = numbers(shape.attrs.radius, 1, [0]);
            const [l] = numbers(shape.attrs.length, 1, [0]);
            geoms.push({ ...geom, type: 'cylinder', size: [r!, l! / 2, 0] });
            break;
          }
          case 'sphere': {
            const [r] = numbers(shape.attrs.radius, 1, [0]);
            geoms.push({ ...geom, type: 'sphere', size: [r!, 0, 0] });
            break;
          }
          default:
            meshes.push(link.attrs.name ?? `link ${i}`);
            geoms.push({ ...geom, type: 'sphere', size: [PLACEHOLDER_RADIUS, 0, 0], rgba: GREY });
        }
      }
    });
    if (meshes.length > 0) {
      this.notes.push(
        `${meshes.length} mesh visual(s) (links ${[...new Set(meshes)].join(', ')}) are drawn as ` +
          `${PLACEHOLDER_RADIUS * 100} cm grey spheres: the 3D view draws URDF boxes, cylinders and spheres only`,
      );
    }
    this.scene = { bodies, geoms };
  }

  /** World poses (x, y, z, qw, qx, qy, qz per body) for joint positions (absent: 0). */
  poses(position: (joint: string) => number | undefined): Float64Array {
    const n = this.scene.bodies.length;
    const pos: Vec3[] = Array.from({ length: n }, () => [0, 0, 0]);
    const rot: Quat[] = Array.from({ length: n }, () => [1, 0, 0, 0]);
    for (const j of this.#joints) {
      const q = position(j.name) ?? 0;
      let p = j.origin.pos;
      let r = j.origin.quat;
      if (j.type === 'revolute' || j.type === 'continuous') r = quatMul(r, axisAngle(j.axis, q));
      if (j.type === 'prismatic') {
        const d = rotate(r, [j.axis[0] * q, j.axis[1] * q, j.axis[2] * q]);
        p = [p[0] + d[0], p[1] + d[1], p[2] + d[2]];
      }
      const offset = rotate(rot[j.parent]!, p);
      const base = pos[j.parent]!;
      pos[j.child] = [base[0] + offset[0], base[1] + offset[1], base[2] + offset[2]];
      rot[j.child] = quatMul(rot[j.parent]!, r);
    }
    const out = new Float64Array(7 * n);
    for (let b = 0; b < n; b++) {
      out.set(pos[b]!, 7 * b);
      out.set(rot[b]!, 7 * b + 3);
    }
    return out;
  }
}
