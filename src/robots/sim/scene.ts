import type { MainModule, MjData, MjModel } from 'mujoco-js';
import { GEOM_TYPES, type SceneDescription } from '../../protocol/index.ts';

type Vec3 = [number, number, number];
type Quat = [number, number, number, number];

/** Bodies and geoms of a loaded MuJoCo model, for viewers (see SceneDescription). */
export function describeModel(
  mj: MainModule,
  model: MjModel,
): Pick<SceneDescription, 'bodies' | 'geoms'> {
  const parent = model.body_parentid as Int32Array;
  const bodies = Array.from({ length: model.nbody }, (_, b) => ({
    name: mj.mj_id2name(model, mj.mjtObj.mjOBJ_BODY.value, b) || `body${b}`,
    parent: parent[b]!,
  }));
  const type = model.geom_type as Int32Array;
  const body = model.geom_bodyid as Int32Array;
  const size = model.geom_size as Float64Array;
  const pos = model.geom_pos as Float64Array;
  const quat = model.geom_quat as Float64Array;
  const rgba = model.geom_rgba as Float32Array;
  const geoms = Array.from({ length: model.ngeom }, (_, g) => ({
    body: body[g]!,
    type: GEOM_TYPES[type[g]!] ?? 'mesh',
    size: Array.from(size.subarray(3 * g, 3 * g + 3)) as Vec3,
    pos: Array.from(pos.subarray(3 * g, 3 * g + 3)) as Vec3,
    quat: Array.from(quat.subarray(4 * g, 4 * g + 4)) as Quat,
    rgba: Array.from(rgba.subarray(4 * g, 4 * g + 4), (v) => Math.round(v * 1000) / 1000) as Quat,
  }));
  return { bodies, geoms };
}

/** Every body's world pose now: x, y, z, qw, qx, qy, qz a body (after mj_forward or a step). */
export function bodyPoses(model: MjModel, data: MjData): Float64Array {
  const xpos = data.xpos as Float64Array;
  const xquat = data.xquat as Float64Array;
  const out = new Float64Array(7 * model.nbody);
  for (let b = 0; b < model.nbody; b++) {
    out.set(xpos.subarray(3 * b, 3 * b + 3), 7 * b);
    out.set(xquat.subarray(4 * b, 4 * b + 4), 7 * b + 3);
  }
  return out;
}
