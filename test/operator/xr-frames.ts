import type { XrPacket } from '../../src/protocol/index.ts';

export interface FrameInput {
  seq: number;
  /** The controller's grip position (WebXR: x right, y up, −z forward), metres. */
  position: readonly [number, number, number];
  squeeze?: boolean;
  trigger?: boolean;
  a?: boolean;
  b?: boolean;
  /** Stamp: epoch ms (default now, the clock the studio measures latency against). */
  t?: number;
  tracking?: boolean;
}

/** One headset frame as the page sends it: the right controller, WebXR gamepad button order. */
export function xrFrame(f: FrameInput): XrPacket {
  const v = (on: boolean | undefined) => (on ? 1 : 0);
  return {
    seq: f.seq,
    t: f.t ?? performance.timeOrigin + performance.now(),
    controllers: [
      {
        hand: 'right',
        grip: { position: [...f.position], orientation: [0, 0, 0, 1] },
        ray: { position: [...f.position], orientation: [0, 0, 0, 1] },
        buttons: [v(f.trigger), v(f.squeeze), 0, 0, v(f.a), v(f.b)],
        axes: [0, 0, 0, 0],
      },
    ],
    ...(f.tracking === undefined ? {} : { tracking: f.tracking }),
  };
}
