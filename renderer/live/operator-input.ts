import type { SessionStatus } from '../../src/protocol/studio.ts';
import { epochNow } from '../xr/frame.ts';

/** How a keyboard or gamepad drives the robot (SessionStatus.teleop, non-null). */
export type TeleopLayout = NonNullable<SessionStatus['teleop']>;

/** Operator packets a second from a keyboard or gamepad: well inside the 250 ms stale limit. */
export const TELEOP_HZ = 20;

/**
 * The keyboard and gamepad's packet rate for a robot ticking at `rateHz`: twice the control rate
 * (the studio takes each packet for one tick and holds on a tick no new packet reached, so a
 * sender at the control rate would hold on every jittered tick), at least TELEOP_HZ, at most 100.
 */
export function teleopHz(rateHz: number): number {
  return Math.min(100, Math.max(TELEOP_HZ, 2 * rateHz));
}
/** Stick deflection under this is read as centred (sticks rarely rest at exactly 0). */
export const STICK_DEADZONE = 0.15;
/** A trigger or button counts as pressed above this value. */
const PRESSED = 0.5;

/**
 * The movement keys: each moves the end effector along one axis of the robot's base frame, at
 * full speed while held (x forward, y left, z up). G toggles the gripper.
 */
export const MOVE_KEYS: Record<string, readonly [axis: 0 | 1 | 2, sign: 1 | -1]> = {
  ArrowUp: [0, 1],
  ArrowDown: [0, -1],
  ArrowLeft: [1, 1],
  ArrowRight: [1, -1],
  PageUp: [2, 1],
  e: [2, 1],
  PageDown: [2, -1],
  q: [2, -1],
};

/** The key that opens and closes the gripper. */
export const GRIPPER_KEY = 'g';

/** The action for the held keys: unit moves along the held axes (opposite keys cancel). */
export function keyboardAction(
  held: ReadonlySet<string>,
  gripperClosed: boolean,
  layout: TeleopLayout,
): number[] {
  const move = [0, 0, 0];
  for (const key of held) {
    const m = MOVE_KEYS[key] ?? MOVE_KEYS[key.toLowerCase()];
    if (m) move[m[0]]! += m[1];
  }
  return compose(
    move.map((v) => Math.max(-1, Math.min(1, v))),
    gripperClosed,
    layout,
  );
}

/** The part of a Gamepad the mapping reads (the standard mapping's indices). */
export interface PadState {
  axes: readonly number[];
  buttons: readonly { value: number; pressed: boolean }[];
}

/**
 * The standard-mapping gamepad's action: left stick up/down → forward/back (x), left/right → left/
 * right (y), right stick up/down → up/down (z), right trigger held → gripper closed. Sticks have a
 * dead zone and are rescaled past it, so motion starts from 0.
 */
export function gamepadAction(pad: PadState, layout: TeleopLayout): number[] {
  const stick = (i: number) => {
    const v = pad.axes[i] ?? 0;
    if (!Number.isFinite(v) || Math.abs(v) < STICK_DEADZONE) return 0;
    return (Math.sign(v) * (Math.min(1, Math.abs(v)) - STICK_DEADZONE)) / (1 - STICK_DEADZONE);
  };
  // Stick "up" is a negative axis value in the standard mapping.
  return compose([-stick(1), -stick(0), -stick(3)], held(pad, PAD.rightTrigger), layout);
}

/** Standard-mapping button indices the studio uses. */
export const PAD = {
  /** Held: intervene. */
  a: 0,
  /** E-stop. */
  b: 1,
  /** Mark success. */
  x: 2,
  /** Mark failure. */
  y: 3,
  rightTrigger: 7,
} as const;

export function held(pad: PadState, button: number): boolean {
  const b = pad.buttons[button];
  return b !== undefined && (b.pressed || b.value > PRESSED);
}

function compose(move: number[], gripperClosed: boolean, layout: TeleopLayout): number[] {
  const action = new Array<number>(layout.actionDim).fill(0);
  layout.translation.forEach((index, axis) => (action[index] = move[axis]!));
  if (layout.gripper !== undefined) action[layout.gripper] = gripperClosed ? 1 : -1;
  return action;
}

let lastSeq = 0;
/**
 * Sequence numbers for this page's teleop packets: increasing across reloads too (the studio drops
 * a packet not numbered after the newest), so they start from the clock in microseconds.
 */
export function nextTeleopSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Math.floor(epochNow() * 1000));
  return lastSeq;
}
