import { z } from 'zod';

/** The largest XR packet (UTF-8 bytes of its JSON) the transport takes; check before parsing. */
export const MAX_XR_PACKET_BYTES = 4096;

/** The most headset frames a second the studio takes from its headset (they run at 72–120 Hz). */
export const MAX_XR_RATE_HZ = 150;

/** Largest |coordinate| of a position (metres): far beyond any room-scale play space. */
const MAX_POSITION_METRES = 100;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const coordinate = finite.refine(
  (v) => Math.abs(v) <= MAX_POSITION_METRES,
  `must lie within ±${MAX_POSITION_METRES} m`,
);
const unit = finite.refine((v) => Math.abs(v) <= 1, 'must lie in [-1, 1]');

/**
 * A pose in WebXR's reference space: metres, x right, y up, −z forward (away from the operator);
 * orientation a quaternion `[x, y, z, w]`.
 */
export const XrPose = z
  .object({
    position: z.tuple([coordinate, coordinate, coordinate]),
    orientation: z.tuple([unit, unit, unit, unit]),
  })
  .strict();
export type XrPose = z.infer<typeof XrPose>;

/**
 * One controller in one XR frame: its grip and target-ray poses (absent when not tracked), its
 * buttons' values in [0, 1] (the WebXR gamepad order: 0 trigger, 1 squeeze, 4 A/X, 5 B/Y) and its
 * axes in [−1, 1].
 */
export const XrController = z
  .object({
    hand: z.enum(['left', 'right']),
    grip: XrPose.optional(),
    ray: XrPose.optional(),
    buttons: z.array(finite.refine((v) => v >= 0 && v <= 1, 'must lie in [0, 1]')).max(16),
    axes: z.array(unit).max(8),
  })
  .strict();
export type XrController = z.infer<typeof XrController>;

/**
 * One headset frame as the page streams it: numbered (a late packet never overrides a newer one),
 * stamped with the headset's clock (ms), at most one controller per hand. `tracking: false` says
 * the headset lost its own tracking: the operator's poses mean nothing then.
 */
export const XrPacket = z
  .object({
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    t: finite,
    controllers: z
      .array(XrController)
      .max(2)
      .refine(
        (cs) => new Set(cs.map((c) => c.hand)).size === cs.length,
        'at most one controller per hand',
      ),
    tracking: z.boolean().optional(),
  })
  .strict();
export type XrPacket = z.infer<typeof XrPacket>;

/** What the studio did with a headset packet: taken, or ignored (and counted) with the reason. */
export const XrAcceptResult = z.enum([
  'accepted',
  'malformed',
  'oversized',
  'out-of-order',
  /** Over the rate bound: more than MAX_XR_RATE_HZ sustained (after a short burst). */
  'too-fast',
]);
export type XrAcceptResult = z.infer<typeof XrAcceptResult>;

/**
 * The studio's answer to each headset packet: the packet's own `seq` and `t` echoed (null when it
 * did not parse), so the headset measures the round trip; `receivedAt` is the studio's epoch
 * clock (ms) when it had parsed and mapped the packet.
 */
export const XrAck = z.object({
  seq: z.number().int().nullable(),
  t: z.number().nullable(),
  result: XrAcceptResult,
  receivedAt: z.number(),
});
export type XrAck = z.infer<typeof XrAck>;

/** What `pair` answers: the bearer token the headset keeps and sends with `hello` from then on. */
export const PairAnswer = z.object({ token: z.string().min(1) });

/** A connection's standing (`hello`, `control`): a paired controller or a watcher, in control or not. */
export const ConnectionRole = z.object({
  role: z.enum(['controller', 'watcher']),
  control: z.boolean(),
});
export type ConnectionRole = z.infer<typeof ConnectionRole>;

/** What the desktop sees of pairing (`pairing`, local clients only): the code, who is paired. */
export const PairingStatus = z.object({
  code: z.string().regex(/^\d{6}$/),
  paired: z.array(z.object({ id: z.string(), clientId: z.string(), pairedAt: z.number() })),
  controlHolder: z.string().nullable(),
  /** The address a headset opens (https beyond localhost), when the studio knows it. */
  headsetUrl: z.string().optional(),
});
export type PairingStatus = z.infer<typeof PairingStatus>;
