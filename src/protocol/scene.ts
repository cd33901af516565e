import { z } from 'zod';

const vec3 = z.tuple([z.number(), z.number(), z.number()]);
const quat = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** MuJoCo's primitive geom types, by name (mjtGeom order: plane 0 … box 6). */
export const GEOM_TYPES = [
  'plane',
  'hfield',
  'sphere',
  'capsule',
  'ellipsoid',
  'cylinder',
  'box',
  'mesh',
] as const;
export const GeomType = z.enum(GEOM_TYPES);

/**
 * What a viewer needs to draw a robot and its scene: bodies, and each body's geoms in the body's
 * frame (MuJoCo conventions: `size` is half-sizes for a box, radius and half-length for a capsule
 * or cylinder, radius for a sphere; quaternions are w, x, y, z; z is up). The bodies' world poses
 * arrive per tick as `poses` (7 numbers a body: x, y, z, qw, qx, qy, qz).
 */
export const SceneDescription = z.object({
  bodies: z.array(z.object({ name: z.string(), parent: z.number().int() })),
  geoms: z.array(
    z.object({
      body: z.number().int().nonnegative(),
      type: GeomType,
      size: vec3,
      pos: vec3,
      quat,
      rgba: quat,
    }),
  ),
  /** The safety layer's workspace box, for the overlay. */
  workspace: z.object({ low: vec3, high: vec3 }).optional(),
  /** Index of the tool point's entries in the observation (x, y, z), for the trail overlay. */
  toolObs: z.number().int().nonnegative().optional(),
});
export type SceneDescription = z.infer<typeof SceneDescription>;
