import { z } from 'zod';
import {
  MAX_XR_PACKET_BYTES,
  XrPacket,
  type RobotSpec,
  type SafetySpec,
  type XrController,
} from '../protocol/index.ts';

/** A button counts as pressed above this value (WebXR buttons are analogue in [0, 1]). */
const PRESSED = 0.5;

const buttonIndex = z.number().int().nonnegative().max(15);

/**
 * How the headset drives the robot. `scale`: robot metres per controller metre. `yawDeg`: the
 * rotation about the vertical from the robot's x axis to the direction the operator faces (90: the
 * operator's forward is the robot's +y). `deadband`: robot metres; an axis whose remaining
 * distance to the target is below it sends 0 (no creeping on hand tremor). Buttons are indices
 * into the controller's WebXR gamepad buttons.
 */
export const ClutchOptions = z
  .object({
    hand: z.enum(['left', 'right']).default('right'),
    scale: z.number().positive().max(10).default(1),
    yawDeg: z.number().min(-360).max(360).default(0),
    gripButton: buttonIndex.default(1),
    triggerButton: buttonIndex.default(0),
    aButton: buttonIndex.default(4),
    bButton: buttonIndex.default(5),
    deadband: z.number().nonnegative().max(0.05).default(0.002),
  })
  .strict();
export type ClutchOptions = z.infer<typeof ClutchOptions>;
/** The options as given: every field optional. */
export type ClutchOptionsInput = z.input<typeof ClutchOptions>;

/** A button edge, stamped with the `now` of the packet that carried it. */
export type ClutchEvent =
  { type: 'intervene'; pressed: boolean; at: number } | { type: 'success'; at: number };

/** What `accept` did with a packet. */
export type AcceptResult = 'accepted' | 'malformed' | 'oversized' | 'out-of-order';

export interface ClutchCounters {
  accepted: number;
  malformed: number;
  oversized: number;
  outOfOrder: number;
  /** Dropped by the transport for coming faster than MAX_XR_RATE_HZ (`tooFast`). */
  tooFast: number;
  /** Times the clutch latched (engage, or re-engage after lost tracking). */
  engagements: number;
  /** Ticks `action` held because the clutch was held but tracking was lost. */
  lostTrackingTicks: number;
}

type EeDelta = Extract<SafetySpec, { kind: 'ee-delta' }>;
type Vec3 = [number, number, number];

/**
 * WebXR (x right, y up, −z forward) to the robot base (x forward, y left, z up), then rotated by
 * `yaw` about the vertical: forward → (cos yaw, sin yaw, 0), right → (sin yaw, −cos yaw, 0).
 */
export function xrToRobot(v: readonly [number, number, number], yawDeg: number): Vec3 {
  const fwd = -v[2];
  const left = -v[0];
  const yaw = (yawDeg * Math.PI) / 180;
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  return [c * fwd - s * left, s * fwd + c * left, v[1]];
}

/**
 * Turns headset packets into the robot's normalised end-effector-delta action, the same action
 * the policy emits (so the same safety layer filters it). Pure: no I/O, no clock reads.
 *
 * Clutch = the grip (squeeze) button held. On the first tick it is held, the controller's grip
 * position and the robot's tool point (from the observation) are latched; while held, the target
 * tool point is latched tcp + R·(controller − latched controller)·scale, and each tick's action is
 * the delta toward it in action units (metres / metresPerUnit, clamped to [−1, 1]), the gripper
 * +1 (close) while the trigger is pressed, else −1. Released, lost tracking (`tracking: false` or
 * no grip pose) or no packet yet: zero translation and the last gripper command. Re-engaging
 * (also after tracking returns) latches again, so the robot never jumps.
 */
export class ClutchMapper {
  readonly options: ClutchOptions;
  readonly #ee: EeDelta;
  readonly #dim: number;
  readonly #eeObs: Vec3;
  #latest: XrPacket | undefined;
  #receivedAt: number | undefined;
  /** Latched controller position (WebXR) and tool point (robot); undefined when not engaged. */
  #latch: { controller: Vec3; tcp: Vec3 } | undefined;
  #gripper: number;
  #aHeld = false;
  #bHeld = false;
  #events: ClutchEvent[] = [];
  #counters: ClutchCounters = {
    accepted: 0,
    malformed: 0,
    oversized: 0,
    outOfOrder: 0,
    tooFast: 0,
    engagements: 0,
    lostTrackingTicks: 0,
  };

  constructor(spec: RobotSpec, options: ClutchOptionsInput = {}) {
    const safety = spec.safety;
    if (safety?.kind !== 'ee-delta') {
      throw new Error(`task ${spec.task} does not take end-effector deltas: no clutch mapping`);
    }
    this.options = ClutchOptions.parse(options);
    this.#ee = safety;
    this.#dim = spec.action.names.length;
    this.#eeObs = safety.eeObs.map((n) => spec.observation.names.indexOf(n)) as Vec3;
    if (this.#eeObs.some((i) => i < 0)) {
      throw new Error(`task ${spec.task}: the tool point is not in the observation`);
    }
    this.#gripper = safety.gripper?.atReset ?? 0;
  }

  /**
   * Takes a raw packet (an object, or its JSON text) received at `now` (ms, the caller's clock);
   * `bytes`: the size it arrived in, when it came parsed inside a larger message.
   * Malformed, oversized or out-of-order (seq not after the newest) packets change nothing and
   * are counted. Button edges of an accepted packet become events.
   */
  accept(raw: unknown, now: number, bytes?: number): AcceptResult {
    let value = raw;
    if ((bytes ?? (typeof raw === 'string' ? utf8Bytes(raw) : 0)) > MAX_XR_PACKET_BYTES) {
      this.#counters.oversized++;
      return 'oversized';
    }
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        this.#counters.malformed++;
        return 'malformed';
      }
    }
    const parsed = XrPacket.safeParse(value);
    if (!parsed.success) {
      this.#counters.malformed++;
      return 'malformed';
    }
    const packet = parsed.data;
    if (this.#latest && packet.seq <= this.#latest.seq) {
      this.#counters.outOfOrder++;
      return 'out-of-order';
    }
    this.#latest = packet;
    this.#receivedAt = now;
    this.#counters.accepted++;

    const c = this.#controller();
    const a = c !== undefined && pressed(c, this.options.aButton);
    const b = c !== undefined && pressed(c, this.options.bButton);
    if (a !== this.#aHeld) this.#events.push({ type: 'intervene', pressed: a, at: now });
    if (b && !this.#bHeld) this.#events.push({ type: 'success', at: now });
    this.#aHeld = a;
    this.#bHeld = b;
    return 'accepted';
  }

  /** Counts a packet the transport dropped unread for coming too soon after the last one. */
  tooFast(): void {
    this.#counters.tooFast++;
  }

  /** This tick's action for observation `obs` (the action's length, finite, in [−1, 1]). */
  action(obs: ArrayLike<number>): number[] {
    const out = new Array<number>(this.#dim).fill(0);
    const g = this.#ee.gripper?.index;
    const c = this.#controller();
    const clutched = c !== undefined && pressed(c, this.options.gripButton);
    const tracked = this.#latest?.tracking !== false && c?.grip !== undefined;
    const tcp = this.#eeObs.map((i) => obs[i]!) as Vec3;
    if (!clutched || !tracked || !tcp.every(Number.isFinite)) {
      if (clutched && !tracked) this.#counters.lostTrackingTicks++;
      this.#latch = undefined;
      if (g !== undefined) out[g] = this.#gripper;
      return out;
    }
    const position = c.grip!.position;
    if (!this.#latch) {
      this.#latch = { controller: [...position], tcp };
      this.#counters.engagements++;
    }
    const latch = this.#latch;
    const moved = xrToRobot(
      [
        position[0] - latch.controller[0],
        position[1] - latch.controller[1],
        position[2] - latch.controller[2],
      ],
      this.options.yawDeg,
    );
    const m = this.#ee.metresPerUnit;
    this.#ee.translation.forEach((i, k) => {
      const remaining = latch.tcp[k]! + moved[k]! * this.options.scale - tcp[k]!;
      out[i] =
        Math.abs(remaining) < this.options.deadband ? 0 : Math.max(-1, Math.min(1, remaining / m));
    });
    if (g !== undefined) {
      this.#gripper = pressed(c, this.options.triggerButton) ? 1 : -1;
      out[g] = this.#gripper;
    }
    return out;
  }

  /** The button events since the last call, oldest first. */
  events(): ClutchEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** Counters since construction (a copy). */
  counters(): ClutchCounters {
    return { ...this.#counters };
  }

  /** Whether the clutch is latched (set by `action`). */
  get engaged(): boolean {
    return this.#latch !== undefined;
  }

  /** The newest accepted packet, if any. */
  get latest(): XrPacket | undefined {
    return this.#latest;
  }

  /** When the newest packet arrived (ms, the caller's clock): for the stale-input hold. */
  get receivedAt(): number | undefined {
    return this.#receivedAt;
  }

  /**
   * A new headset stream begins (another connection took control): forget the old stream's
   * packets, sequence numbers and buttons, so its numbering starts afresh. The gripper command
   * is kept.
   */
  restart(): void {
    this.#latest = undefined;
    this.#receivedAt = undefined;
    this.#latch = undefined;
    this.#aHeld = false;
    this.#bHeld = false;
    this.#events = [];
  }

  /** The robot was reset: unlatch and go back to the gripper command a reset leaves. */
  reset(): void {
    this.unlatch(this.#ee.gripper?.atReset ?? 0);
  }

  /**
   * Someone else drives now (the policy, or nobody): unlatch, so that taking over latches afresh
   * at wherever the tool point is then, and keep `gripper` (the command the robot last executed)
   * until the operator clutches again, so taking over never drops a grasped object.
   */
  unlatch(gripper: number = this.#gripper): void {
    this.#latch = undefined;
    this.#gripper = gripper;
  }

  #controller(): XrController | undefined {
    return this.#latest?.controllers.find((c) => c.hand === this.options.hand);
  }
}

function pressed(c: XrController, button: number): boolean {
  return (c.buttons[button] ?? 0) > PRESSED;
}

/** UTF-8 length of a string without Node's Buffer (the renderer may use this module too). */
function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x80) n += 1;
    else if (code < 0x800) n += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
