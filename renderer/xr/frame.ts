import type { XrController, XrPacket, XrPose } from '../../src/protocol/xr.ts';

/** Positions beyond this (metres) are not sent: the studio refuses them (XrPose). */
const MAX_POSITION = 100;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const finite = (v: number) => (Number.isFinite(v) ? v : 0);

/**
 * The epoch clock (ms, sub-millisecond) operator input is stamped with: the studio measures latency
 * on it. Also the start of the keyboard and gamepad's teleop sequence numbers.
 */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A WebXR pose as the studio takes it, or undefined when there is none (not tracked). */
export function poseOf(pose: XRPose | null | undefined): XrPose | undefined {
  if (!pose) return undefined;
  const p = pose.transform.position;
  const q = pose.transform.orientation;
  const position = [p.x, p.y, p.z].map(finite);
  if (position.some((v) => Math.abs(v) > MAX_POSITION)) return undefined;
  return {
    position: position as [number, number, number],
    orientation: [q.x, q.y, q.z, q.w].map((v) => clamp(finite(v), -1, 1)) as XrPose['orientation'],
  };
}

/** One input source's state in `space` this frame; undefined for a source that is not a hand's controller. */
export function controllerOf(
  source: XRInputSource,
  frame: XRFrame,
  space: XRReferenceSpace,
): XrController | undefined {
  if (source.handedness !== 'left' && source.handedness !== 'right') return undefined;
  const grip = source.gripSpace ? poseOf(frame.getPose(source.gripSpace, space)) : undefined;
  const ray = poseOf(frame.getPose(source.targetRaySpace, space));
  const pad = source.gamepad;
  return {
    hand: source.handedness,
    ...(grip ? { grip } : {}),
    ...(ray ? { ray } : {}),
    buttons: (pad?.buttons ?? []).slice(0, 16).map((b) => clamp(finite(b.value), 0, 1)),
    axes: (pad?.axes ?? []).slice(0, 8).map((a) => clamp(finite(a), -1, 1)),
  };
}

/**
 * The frame the page streams for one XR frame: both hands' controllers (one each at most), and
 * whether the headset itself is tracked (an emulated position counts as lost: the operator's
 * hands then mean nothing).
 */
export function packetFromFrame(
  frame: XRFrame,
  space: XRReferenceSpace,
  seq: number,
  t: number,
): XrPacket {
  const controllers: XrController[] = [];
  for (const source of frame.session.inputSources) {
    const c = controllerOf(source, frame, space);
    if (c && !controllers.some((o) => o.hand === c.hand)) controllers.push(c);
  }
  const viewer = frame.getViewerPose(space);
  return {
    seq,
    t,
    controllers,
    tracking: viewer !== undefined && viewer !== null && !viewer.emulatedPosition,
  };
}
