import {
  ArrowHelper,
  BoxGeometry,
  BufferAttribute,
  BufferGeometry,
  CapsuleGeometry,
  Color,
  CylinderGeometry,
  DirectionalLight,
  DynamicDrawUsage,
  EdgesGeometry,
  Group,
  HemisphereLight,
  Line,
  LineBasicMaterial,
  LineSegments,
  type Material,
  Mesh,
  MeshLambertMaterial,
  type Object3D,
  PerspectiveCamera,
  Quaternion,
  Scene,
  SphereGeometry,
  SRGBColorSpace,
  Vector3,
  WebGLRenderer,
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import type { SceneDescription } from '../../src/protocol/scene.ts';

/*
 * The 3D view. Everything below the root group is in MuJoCo's world frame (z up, metres); the root
 * carries the one rotation that turns it into three.js's frame (y up). Bodies are direct children
 * of the root, posed from the world poses of each tick, and hold their geoms in body coordinates.
 */

type Vec3 = readonly [number, number, number];
type Geom = SceneDescription['geoms'][number];

/** Numbers per body in a poses array: x, y, z, qw, qx, qy, qz. */
export const POSE_STRIDE = 7;
/** How many tool points the end-effector trail keeps. */
export const TRAIL_LENGTH = 200;
/** Arrow length per unit of action (the EE delta is in [-1, 1] per axis). */
export const ARROW_METRES_PER_UNIT = 0.12;
/** A plane of size 0 is infinite in MuJoCo; it is drawn this large (half-extent, metres). */
export const INFINITE_PLANE_HALF = 5;
/** Thickness of the slab a plane is drawn as (its top face is the plane). */
export const PLANE_THICKNESS = 0.01;
export const COLORS = {
  executed: 0xf59e0b,
  proposed: 0x3b82f6,
  trail: 0xd946ef,
  workspace: 0x22c55e,
};

/** The rotation of the root: MuJoCo's z up onto three's y up (−90° about x). */
export const Z_UP_TO_Y_UP: Readonly<Quaternion> = new Quaternion().setFromAxisAngle(
  new Vector3(1, 0, 0),
  -Math.PI / 2,
);

/** A MuJoCo position (z up) in three's frame (y up): (x, y, z) → (x, z, −y). */
export function zUpToYUp(p: readonly number[]): Vector3 {
  return new Vector3(p[0] ?? 0, p[2] ?? 0, -(p[1] ?? 0));
}

/** A MuJoCo quaternion (w, x, y, z), same frame, as three's Quaternion (x, y, z, w order). */
export function mujocoQuaternion(q: readonly number[]): Quaternion {
  return new Quaternion(q[1] ?? 0, q[2] ?? 0, q[3] ?? 0, q[0] ?? 1).normalize();
}

/**
 * A MuJoCo world rotation (w, x, y, z; z up) as a rotation in three's frame (y up): the same angle
 * about the converted axis, i.e. R q R⁻¹ with R = Z_UP_TO_Y_UP.
 */
export function zUpToYUpQuaternion(q: readonly number[]): Quaternion {
  return new Quaternion(q[1] ?? 0, q[3] ?? 0, -(q[2] ?? 0), q[0] ?? 1).normalize();
}

/** Body `b`'s world pose in a poses array (MuJoCo frame), or null when the array is too short. */
export function bodyPose(
  poses: ArrayLike<number>,
  b: number,
): { position: Vector3; quaternion: Quaternion } | null {
  const o = POSE_STRIDE * b;
  if (poses.length < o + POSE_STRIDE) return null;
  const v = (i: number) => poses[o + i] ?? 0;
  return {
    position: new Vector3(v(0), v(1), v(2)),
    quaternion: mujocoQuaternion([v(3), v(4), v(5), v(6)]),
  };
}

/** What a geom is drawn as, in MuJoCo's terms turned into full sizes (metres). */
export type GeomShape =
  | { kind: 'box'; size: Vec3 }
  | { kind: 'sphere'; radius: number }
  | { kind: 'ellipsoid'; radii: Vec3 }
  | { kind: 'capsule'; radius: number; length: number }
  | { kind: 'cylinder'; radius: number; length: number }
  | { kind: 'plane'; size: Vec3 };

/**
 * The shape of a geom: box size = 2 × half-extents; capsule and cylinder: radius and the length of
 * the straight part (2 × half-length) along the geom's z; a plane is a slab of PLANE_THICKNESS whose
 * top face is the plane (size 0: INFINITE_PLANE_HALF). Height fields and meshes: null (not drawn).
 */
export function geomShape(geom: Pick<Geom, 'type' | 'size'>): GeomShape | null {
  const [a, b, c] = geom.size;
  switch (geom.type) {
    case 'box':
      return { kind: 'box', size: [2 * a, 2 * b, 2 * c] };
    case 'sphere':
      return { kind: 'sphere', radius: a };
    case 'ellipsoid':
      return { kind: 'ellipsoid', radii: [a, b, c] };
    case 'capsule':
      return { kind: 'capsule', radius: a, length: 2 * b };
    case 'cylinder':
      return { kind: 'cylinder', radius: a, length: 2 * b };
    case 'plane':
      return {
        kind: 'plane',
        size: [
          2 * (a > 0 ? a : INFINITE_PLANE_HALF),
          2 * (b > 0 ? b : INFINITE_PLANE_HALF),
          PLANE_THICKNESS,
        ],
      };
    case 'hfield':
    case 'mesh':
      return null;
  }
}

/**
 * three geometry for a shape, in the geom's own MuJoCo frame: capsules and cylinders lie along z
 * (three builds them along y), a plane's slab sits below z = 0.
 */
export function buildGeometry(shape: GeomShape): BufferGeometry {
  switch (shape.kind) {
    case 'box':
      return new BoxGeometry(...shape.size);
    case 'sphere':
      return new SphereGeometry(shape.radius, 24, 16);
    case 'ellipsoid': {
      const g = new SphereGeometry(1, 24, 16);
      return g.scale(...shape.radii);
    }
    case 'capsule':
      return new CapsuleGeometry(shape.radius, shape.length, 6, 16).rotateX(Math.PI / 2);
    case 'cylinder':
      return new CylinderGeometry(shape.radius, shape.radius, shape.length, 24).rotateX(
        Math.PI / 2,
      );
    case 'plane':
      return new BoxGeometry(...shape.size).translate(0, 0, -shape.size[2] / 2);
  }
}

/** The tool point (x, y, z) in an observation, or null when absent or not finite. */
export function toolPoint(
  obs: readonly number[] | undefined,
  toolObs: number | undefined,
): Vec3 | null {
  if (!obs || toolObs === undefined) return null;
  const p = [obs[toolObs], obs[toolObs + 1], obs[toolObs + 2]];
  if (!p.every((v): v is number => v !== undefined && Number.isFinite(v))) return null;
  return [p[0]!, p[1]!, p[2]!];
}

/** An arrow for an action's EE delta (first 3 entries): unit direction and length, or null. */
export function actionArrow(
  action: readonly number[] | undefined,
  metresPerUnit = ARROW_METRES_PER_UNIT,
): { dir: Vector3; length: number } | null {
  if (!action || action.length < 3) return null;
  const v = new Vector3(action[0], action[1], action[2]);
  const norm = v.length();
  if (!Number.isFinite(norm) || norm < 1e-6) return null;
  return { dir: v.divideScalar(norm), length: norm * metresPerUnit };
}

/** The tail of a point list to keep in the trail. */
export function trailTail<T>(points: readonly T[], keep = TRAIL_LENGTH): readonly T[] {
  return points.length > keep ? points.slice(points.length - keep) : points;
}

/** What the overlays show this tick (MuJoCo frame); a missing entry hides its overlay. */
export interface Overlays {
  action?: readonly number[] | undefined;
  proposed?: readonly number[] | undefined;
  toolPos?: readonly number[] | null | undefined;
}

/** What the view reports on `window.__tandemScene` (e2e tests and the frame-time bench). */
export interface SceneStats {
  /** Frames rendered. */
  frames: number;
  /** Time in `renderer.render` of the last frame (ms). */
  lastFrameMs: number;
  /** Sum of the frames' render times (ms): mean frame time = totalFrameMs / frames. */
  totalFrameMs: number;
  /** Geom meshes in the scene. */
  meshes: number;
}

declare global {
  interface Window {
    __tandemScene?: SceneStats;
  }
}

/**
 * The imperative three.js scene: mount it on a canvas, give it a SceneDescription, then poses and
 * overlays as they come. It renders on the next animation frame after a change or a camera move,
 * and not otherwise.
 */
export class SceneRenderer {
  readonly stats: SceneStats = { frames: 0, lastFrameMs: 0, totalFrameMs: 0, meshes: 0 };
  readonly #scene = new Scene();
  readonly #root = new Group();
  readonly #camera = new PerspectiveCamera(45, 1, 0.01, 50);
  #renderer: WebGLRenderer | null = null;
  #controls: OrbitControls | null = null;
  #resize: ResizeObserver | null = null;
  #frame = 0;
  #bodies: Group[] = [];
  #posed = false;
  #lastPoses: ArrayLike<number> | null = null;
  #target = new Vector3();
  #workspace: LineSegments | null = null;
  readonly #executed = makeArrow(COLORS.executed);
  readonly #proposed = makeArrow(COLORS.proposed);
  readonly #trail: Line;
  readonly #trailPoints: Vec3[] = [];

  constructor() {
    this.#scene.background = new Color(0xe8ecf1);
    this.#root.quaternion.copy(Z_UP_TO_Y_UP);
    this.#scene.add(this.#root);
    this.#scene.add(new HemisphereLight(0xffffff, 0x50505a, 1.6));
    const sun = new DirectionalLight(0xffffff, 1.8);
    sun.position.copy(zUpToYUp([0.8, -1.2, 2.0]));
    this.#scene.add(sun);

    const trailGeometry = new BufferGeometry();
    const positions = new BufferAttribute(new Float32Array(3 * TRAIL_LENGTH), 3);
    positions.setUsage(DynamicDrawUsage);
    trailGeometry.setAttribute('position', positions);
    trailGeometry.setDrawRange(0, 0);
    this.#trail = new Line(trailGeometry, new LineBasicMaterial({ color: COLORS.trail }));
    this.#trail.frustumCulled = false;
    this.#root.add(this.#trail, this.#executed, this.#proposed);
    this.#aim([0.45, 0, 0.2]);
  }

  /** Starts drawing on a canvas (one WebGL2 context; throws when WebGL is unavailable). */
  mount(canvas: HTMLCanvasElement): void {
    if (this.#renderer) throw new Error('the scene is already mounted');
    // preserveDrawingBuffer: tests read the canvas's pixels after the frame was presented.
    const renderer = new WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
    renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.#renderer = renderer;
    const controls = new OrbitControls(this.#camera, canvas);
    controls.target.copy(this.#target);
    controls.update();
    controls.addEventListener('change', () => this.requestRender());
    this.#controls = controls;
    this.#resize = new ResizeObserver(() => this.#fit());
    this.#resize.observe(canvas);
    this.#fit();
  }

  /** Replaces the drawn bodies and geoms (and the workspace box) with a description's. */
  setScene(desc: SceneDescription): void {
    for (const body of this.#bodies) {
      this.#root.remove(body);
      disposeTree(body);
    }
    this.#bodies = desc.bodies.map((b, i) => {
      const group = new Group();
      group.name = b.name;
      group.visible = i === 0;
      return group;
    });
    let meshes = 0;
    for (const geom of desc.geoms) {
      const body = this.#bodies[geom.body];
      const shape = geomShape(geom);
      const [r, g, b, a] = geom.rgba;
      if (!body || !shape || a <= 0) continue;
      const material = new MeshLambertMaterial({
        color: new Color().setRGB(r, g, b, SRGBColorSpace),
        transparent: a < 1,
        opacity: a,
      });
      const mesh = new Mesh(buildGeometry(shape), material);
      mesh.position.fromArray(geom.pos);
      mesh.quaternion.copy(mujocoQuaternion(geom.quat));
      body.add(mesh);
      meshes++;
    }
    this.#root.add(...this.#bodies);
    this.stats.meshes = meshes;
    this.#posed = false;

    if (this.#workspace) {
      this.#root.remove(this.#workspace);
      disposeTree(this.#workspace);
      this.#workspace = null;
    }
    if (desc.workspace) {
      const { low, high } = desc.workspace;
      const size = low.map((l, i) => Math.abs(high[i]! - l)) as [number, number, number];
      const box = new BoxGeometry(...size);
      const edges = new EdgesGeometry(box);
      box.dispose();
      const lines = new LineSegments(
        edges,
        new LineBasicMaterial({ color: COLORS.workspace, transparent: true, opacity: 0.8 }),
      );
      lines.position.set(...(low.map((l, i) => (l + high[i]!) / 2) as [number, number, number]));
      this.#workspace = lines;
      this.#root.add(lines);
      this.#aim([lines.position.x, lines.position.y, lines.position.z]);
    }
    if (this.#lastPoses) this.setPoses(this.#lastPoses);
    this.requestRender();
  }

  /** Poses every body from a poses array (7 numbers a body, MuJoCo world frame). */
  setPoses(poses: ArrayLike<number>): void {
    this.#lastPoses = poses;
    let any = false;
    this.#bodies.forEach((body, b) => {
      const pose = bodyPose(poses, b);
      if (!pose) return;
      body.position.copy(pose.position);
      body.quaternion.copy(pose.quaternion);
      body.visible = true;
      any = true;
    });
    this.#posed ||= any;
    this.requestRender();
  }

  /** The three.js scene graph (read it, do not change it): bodies are groups named as the bodies. */
  get graph(): Scene {
    return this.#scene;
  }

  /** Whether the bodies have been posed since the last setScene. */
  get posed(): boolean {
    return this.#posed;
  }

  /** The action arrows at the tool point: executed and proposed EE deltas (first 3 entries). */
  setOverlays(overlays: Overlays): void {
    const at = overlays.toolPos ?? null;
    placeArrow(this.#executed, at, actionArrow(overlays.action));
    placeArrow(this.#proposed, at, actionArrow(overlays.proposed));
    this.requestRender();
  }

  /** Adds a tool point to the trail (the last TRAIL_LENGTH are kept). */
  pushTrail(point: readonly number[]): void {
    const p = toolPoint(point, 0);
    if (!p) return;
    this.#trailPoints.push(p);
    if (this.#trailPoints.length > TRAIL_LENGTH) this.#trailPoints.shift();
    this.#writeTrail();
  }

  /** Replaces the trail (its last TRAIL_LENGTH points); an empty list clears it. */
  setTrail(points: readonly (readonly number[])[]): void {
    this.#trailPoints.length = 0;
    for (const point of trailTail(points)) {
      const p = toolPoint(point, 0);
      if (p) this.#trailPoints.push(p);
    }
    this.#writeTrail();
  }

  /**
   * Places the robot's world (MuJoCo frame, z up) in the view: its origin at `position` (three's
   * frame, metres) and turned `yaw` radians about the vertical. The headset page puts the robot in
   * front of the operator with its +x pointing where the operator faces.
   */
  place(position: readonly [number, number, number], yaw: number): void {
    this.#root.position.set(...position);
    this.#root.quaternion.setFromAxisAngle(new Vector3(0, 1, 0), yaw).multiply(Z_UP_TO_Y_UP);
    this.requestRender();
  }

  /** Adds an object of the page's own (e.g. the headset's HUD panel) to the scene, y up. */
  add(object: Object3D): void {
    this.#scene.add(object);
    this.requestRender();
  }

  /**
   * Presents in an immersive WebXR session: every XR frame (the headset's rate) `onFrame` runs with
   * the frame and the reference space (local-floor), then the scene renders. When the session ends
   * the view goes back to rendering on demand.
   */
  async presentXr(
    session: XRSession,
    onFrame: (frame: XRFrame, space: XRReferenceSpace) => void,
  ): Promise<void> {
    const renderer = this.#renderer;
    if (!renderer) throw new Error('mount the scene before presenting in XR');
    renderer.xr.enabled = true;
    renderer.xr.setReferenceSpaceType('local-floor');
    await renderer.xr.setSession(session);
    session.addEventListener('end', () => {
      renderer.setAnimationLoop(null);
      renderer.xr.enabled = false;
      this.#fit();
    });
    renderer.setAnimationLoop((_time, frame) => {
      const space = renderer.xr.getReferenceSpace();
      if (frame && space) onFrame(frame, space);
      this.#render();
    });
  }

  /** Renders on the next animation frame (once, however often it is asked before then). */
  requestRender(): void {
    if (!this.#renderer || this.#frame || this.#renderer.xr.isPresenting) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#render();
    });
  }

  dispose(): void {
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    this.#resize?.disconnect();
    this.#controls?.dispose();
    disposeTree(this.#scene);
    this.#bodies = [];
    if (this.#renderer) {
      this.#renderer.dispose();
      this.#renderer.forceContextLoss();
    }
    this.#renderer = null;
  }

  #render(): void {
    const renderer = this.#renderer;
    if (!renderer) return;
    const start = performance.now();
    renderer.render(this.#scene, this.#camera);
    const ms = performance.now() - start;
    this.stats.frames++;
    this.stats.lastFrameMs = ms;
    this.stats.totalFrameMs += ms;
    window.__tandemScene = this.stats;
  }

  #fit(): void {
    const renderer = this.#renderer;
    if (!renderer) return;
    const canvas = renderer.domElement;
    const width = Math.max(1, canvas.clientWidth);
    const height = Math.max(1, canvas.clientHeight);
    renderer.setSize(width, height, false);
    this.#camera.aspect = width / height;
    this.#camera.updateProjectionMatrix();
    this.requestRender();
  }

  /** Points the camera at a MuJoCo point from the front right, above. */
  #aim(at: readonly number[]): void {
    this.#target = zUpToYUp(at);
    this.#camera.position.copy(this.#target).add(zUpToYUp([1.25, -1.05, 0.55]));
    this.#camera.lookAt(this.#target);
    if (this.#controls) {
      this.#controls.target.copy(this.#target);
      this.#controls.update();
    }
  }

  #writeTrail(): void {
    const geometry = this.#trail.geometry;
    const attribute = geometry.getAttribute('position') as BufferAttribute;
    const array = attribute.array as Float32Array;
    this.#trailPoints.forEach((p, i) => array.set(p, 3 * i));
    attribute.needsUpdate = true;
    geometry.setDrawRange(0, this.#trailPoints.length);
    this.requestRender();
  }
}

function makeArrow(color: number): ArrowHelper {
  const arrow = new ArrowHelper(new Vector3(1, 0, 0), new Vector3(), 0.1, color, 0.03, 0.018);
  // Drawn over the robot: an arrow inside the gripper is still seen.
  for (const part of [arrow.line, arrow.cone]) {
    const material = part.material as Material;
    material.depthTest = false;
    material.transparent = true;
    part.renderOrder = 10;
  }
  arrow.visible = false;
  return arrow;
}

function placeArrow(
  arrow: ArrowHelper,
  at: readonly number[] | null,
  shape: { dir: Vector3; length: number } | null,
): void {
  if (!at || !shape) {
    arrow.visible = false;
    return;
  }
  arrow.position.set(at[0] ?? 0, at[1] ?? 0, at[2] ?? 0);
  arrow.setDirection(shape.dir);
  const head = Math.min(0.03, shape.length * 0.4);
  arrow.setLength(shape.length, head, head * 0.6);
  arrow.visible = true;
}

function disposeTree(root: Object3D): void {
  root.traverse((o) => {
    if (o instanceof Mesh || o instanceof Line) {
      (o.geometry as BufferGeometry).dispose();
      const materials: Material[] = Array.isArray(o.material) ? o.material : [o.material];
      for (const m of materials) m.dispose();
    }
  });
}
