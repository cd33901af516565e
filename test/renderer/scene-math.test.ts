import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Box3, Group, Mesh, Quaternion, Vector3 } from 'three';
import {
  actionArrow,
  ARROW_METRES_PER_UNIT,
  bodyPose,
  buildGeometry,
  geomShape,
  INFINITE_PLANE_HALF,
  mujocoQuaternion,
  PLANE_THICKNESS,
  SceneRenderer,
  toolPoint,
  TRAIL_LENGTH,
  trailTail,
  Z_UP_TO_Y_UP,
  zUpToYUp,
  zUpToYUpQuaternion,
} from '../../renderer/scene/scene.ts';
import type { SceneDescription } from '../../src/protocol/scene.ts';

const EPS = 1e-9;

function near(actual: Vector3, expected: [number, number, number], eps = EPS): void {
  const ok = expected.every((e, i) => Math.abs(actual.getComponent(i) - e) < eps);
  assert.ok(ok, `${actual.toArray().join(', ')} is not ${expected.join(', ')}`);
}

/** Same rotation (q and −q are the same rotation). */
function sameRotation(a: Quaternion, b: Quaternion, eps = 1e-9): void {
  assert.ok(Math.abs(Math.abs(a.dot(b)) - 1) < eps, `${a.toArray()} is not ${b.toArray()}`);
}

const S = Math.SQRT1_2;

describe('scene math: MuJoCo (z up, w x y z) to three (y up)', () => {
  it('maps positions (x, y, z) to (x, z, −y), as the root rotation does', () => {
    near(zUpToYUp([1, 2, 3]), [1, 3, -2]);
    near(new Vector3(1, 2, 3).applyQuaternion(Z_UP_TO_Y_UP), [1, 3, -2]);
    // MuJoCo's up is three's up.
    near(new Vector3(0, 0, 1).applyQuaternion(Z_UP_TO_Y_UP), [0, 1, 0]);
  });

  it('reads quaternions in MuJoCo order (w, x, y, z)', () => {
    const q = mujocoQuaternion([S, 0, 0, S]); // 90° about z
    assert.deepEqual(
      q.toArray().map((v) => Math.round(v * 1e9) / 1e9),
      [0, 0, Math.round(S * 1e9) / 1e9, Math.round(S * 1e9) / 1e9],
    );
    near(new Vector3(1, 0, 0).applyQuaternion(q), [0, 1, 0]);
  });

  it('turns 90° about MuJoCo z (vertical) into 90° about three y', () => {
    const q = zUpToYUpQuaternion([S, 0, 0, S]);
    sameRotation(q, new Quaternion().setFromAxisAngle(new Vector3(0, 1, 0), Math.PI / 2));
    // MuJoCo x → MuJoCo y; in three: x → (0, 0, −1).
    near(zUpToYUp([1, 0, 0]).applyQuaternion(q), [0, 0, -1]);
  });

  it('agrees with the root rotation for any pose (body under the root = converted pose)', () => {
    const poses: [number[], number[]][] = [
      [
        [0.3, -0.2, 0.5],
        [0.9238795, 0, 0, -0.3826834],
      ],
      [
        [0.1, 0.2, 0.3],
        [0.5, 0.5, -0.5, 0.5],
      ],
      [
        [-1, 2, 0.25],
        [0.2, -0.4, 0.8, 0.4],
      ],
    ];
    for (const [p, q] of poses) {
      const root = new Group();
      root.quaternion.copy(Z_UP_TO_Y_UP);
      const body = new Group();
      body.position.fromArray(p);
      body.quaternion.copy(mujocoQuaternion(q));
      root.add(body);
      root.updateMatrixWorld(true);
      const position = body.getWorldPosition(new Vector3());
      const expected = zUpToYUp(p);
      near(position, [expected.x, expected.y, expected.z], 1e-12);
      // World orientation: the frame change, then the rotation seen in three's frame.
      sameRotation(
        body.getWorldQuaternion(new Quaternion()),
        zUpToYUpQuaternion(q).multiply(Z_UP_TO_Y_UP),
        1e-12,
      );
      // A point of the body: MuJoCo p + q·v, converted.
      const v = new Vector3(0.05, -0.02, 0.1);
      const world = new Vector3(...p).add(v.clone().applyQuaternion(mujocoQuaternion(q)));
      const seen = body.localToWorld(v.clone());
      const want = zUpToYUp(world.toArray());
      near(seen, [want.x, want.y, want.z], 1e-12);
    }
  });

  it('reads a body pose (7 numbers a body) and refuses a short array', () => {
    const poses = [0, 0, 0, 1, 0, 0, 0, 0.1, 0.2, 0.3, S, 0, 0, S];
    const pose = bodyPose(poses, 1)!;
    near(pose.position, [0.1, 0.2, 0.3]);
    sameRotation(pose.quaternion, new Quaternion(0, 0, S, S));
    assert.equal(bodyPose(poses, 2), null);
  });
});

describe('scene math: geom sizes', () => {
  const bounds = (geom: Parameters<typeof geomShape>[0]) => {
    const geometry = buildGeometry(geomShape(geom)!);
    geometry.computeBoundingBox();
    return geometry.boundingBox!;
  };
  const extent = (box: Box3) => [box.min.toArray(), box.max.toArray()];
  const close = (actual: number[][], expected: number[][]) =>
    actual
      .flat()
      .forEach((v, i) =>
        assert.ok(Math.abs(v - expected.flat()[i]!) < 1e-6, `${actual} ≠ ${expected}`),
      );

  it('box: size is half-extents', () => {
    assert.deepEqual(geomShape({ type: 'box', size: [0.02, 0.1, 0.025] }), {
      kind: 'box',
      size: [0.04, 0.2, 0.05],
    });
    close(extent(bounds({ type: 'box', size: [0.02, 0.1, 0.025] })), [
      [-0.02, -0.1, -0.025],
      [0.02, 0.1, 0.025],
    ]);
  });

  it('capsule: radius and half-length, along the geom z', () => {
    assert.deepEqual(geomShape({ type: 'capsule', size: [0.06, 0.075, 0] }), {
      kind: 'capsule',
      radius: 0.06,
      length: 0.15,
    });
    close(extent(bounds({ type: 'capsule', size: [0.06, 0.075, 0] })), [
      [-0.06, -0.06, -0.135],
      [0.06, 0.06, 0.135],
    ]);
  });

  it('cylinder: radius and half-length, along the geom z (three builds it along y)', () => {
    close(extent(bounds({ type: 'cylinder', size: [0.05, 0.2, 0] })), [
      [-0.05, -0.05, -0.2],
      [0.05, 0.05, 0.2],
    ]);
  });

  it('sphere and ellipsoid: radius, radii', () => {
    close(extent(bounds({ type: 'sphere', size: [0.03, 0, 0] })), [
      [-0.03, -0.03, -0.03],
      [0.03, 0.03, 0.03],
    ]);
    close(extent(bounds({ type: 'ellipsoid', size: [0.1, 0.2, 0.3] })), [
      [-0.1, -0.2, -0.3],
      [0.1, 0.2, 0.3],
    ]);
  });

  it('plane: a slab whose top face is the plane; size 0 is drawn large', () => {
    close(extent(bounds({ type: 'plane', size: [0.5, 0.6, 0.01] })), [
      [-0.5, -0.6, -PLANE_THICKNESS],
      [0.5, 0.6, 0],
    ]);
    assert.deepEqual(geomShape({ type: 'plane', size: [0, 0, 1] }), {
      kind: 'plane',
      size: [2 * INFINITE_PLANE_HALF, 2 * INFINITE_PLANE_HALF, PLANE_THICKNESS],
    });
  });

  it('meshes and height fields are not drawn', () => {
    assert.equal(geomShape({ type: 'mesh', size: [1, 1, 1] }), null);
    assert.equal(geomShape({ type: 'hfield', size: [1, 1, 1] }), null);
  });
});

describe('scene math: overlays', () => {
  it('an arrow from the first three action entries; none for a zero or short action', () => {
    const arrow = actionArrow([0, 0.6, -0.8, 1])!;
    near(arrow.dir, [0, 0.6, -0.8]);
    assert.ok(Math.abs(arrow.length - ARROW_METRES_PER_UNIT) < 1e-12);
    assert.equal(actionArrow([0, 0, 0, 1]), null);
    assert.equal(actionArrow([1, 1]), null);
    assert.equal(actionArrow(undefined), null);
  });

  it('the tool point from the observation at toolObs', () => {
    assert.deepEqual(toolPoint([9, 0.4, 0.1, 0.2, 9], 1), [0.4, 0.1, 0.2]);
    assert.equal(toolPoint([9, 0.4, Number.NaN, 0.2], 1), null);
    assert.equal(toolPoint([9, 0.4], 1), null);
    assert.equal(toolPoint([1, 2, 3], undefined), null);
  });

  it('the trail keeps the last TRAIL_LENGTH points', () => {
    const points = Array.from({ length: TRAIL_LENGTH + 5 }, (_, i) => i);
    const tail = trailTail(points);
    assert.equal(tail.length, TRAIL_LENGTH);
    assert.equal(tail[0], 5);
    assert.equal(trailTail([1, 2]).length, 2);
  });
});

describe('SceneRenderer without WebGL (the scene graph only)', () => {
  const desc: SceneDescription = {
    bodies: [
      { name: 'world', parent: 0 },
      { name: 'hand', parent: 0 },
    ],
    geoms: [
      {
        body: 0,
        type: 'plane',
        size: [0.5, 0.6, 0.01],
        pos: [0.45, 0, 0],
        quat: [1, 0, 0, 0],
        rgba: [0.5, 0.4, 0.3, 1],
      },
      {
        body: 1,
        type: 'box',
        size: [0.02, 0.1, 0.025],
        pos: [0.1, 0, 0],
        quat: [1, 0, 0, 0],
        rgba: [1, 1, 1, 1],
      },
      {
        body: 1,
        type: 'sphere',
        size: [0.01, 0, 0],
        pos: [0, 0, 0],
        quat: [1, 0, 0, 0],
        rgba: [1, 1, 1, 0],
      },
      {
        body: 1,
        type: 'mesh',
        size: [0, 0, 0],
        pos: [0, 0, 0],
        quat: [1, 0, 0, 0],
        rgba: [1, 1, 1, 1],
      },
    ],
    workspace: { low: [0.2, -0.3, 0.01], high: [0.65, 0.3, 0.5] },
    toolObs: 0,
  };

  it('builds one mesh a drawable geom, grouped per body, and poses the bodies', () => {
    const view = new SceneRenderer();
    view.setScene(desc);
    assert.equal(view.stats.meshes, 2, 'the invisible sphere and the mesh geom are skipped');
    const hand = view.graph.getObjectByName('hand')!;
    assert.equal(hand.visible, false, 'not drawn before its first pose');
    assert.equal(view.posed, false);

    // The hand at (0.1, 0.2, 0.3), turned 90° about z: its box (0.1 along the body's x) is at
    // MuJoCo (0.1, 0.3, 0.3), three (0.1, 0.3, −0.3).
    view.setPoses([0, 0, 0, 1, 0, 0, 0, 0.1, 0.2, 0.3, S, 0, 0, S]);
    assert.equal(hand.visible, true);
    assert.equal(view.posed, true);
    view.graph.updateMatrixWorld(true);
    const box = hand.children.find((c): c is Mesh => c instanceof Mesh)!;
    near(box.getWorldPosition(new Vector3()), [0.1, 0.3, -0.3], 1e-7);
    view.dispose();
  });

  it('keeps poses that came before the scene', () => {
    const view = new SceneRenderer();
    view.setPoses([0, 0, 0, 1, 0, 0, 0, 0.1, 0.2, 0.3, 1, 0, 0, 0]);
    view.setScene(desc);
    const hand = view.graph.getObjectByName('hand')!;
    assert.equal(hand.visible, true);
    near(hand.position, [0.1, 0.2, 0.3]);
    view.dispose();
  });

  it('replaces the scene without leaking bodies', () => {
    const view = new SceneRenderer();
    view.setScene(desc);
    view.setScene(desc);
    let hands = 0;
    view.graph.traverse((o) => {
      if (o.name === 'hand') hands++;
    });
    assert.equal(hands, 1);
    view.dispose();
  });
});
