import { ClutchMapper, type ClutchOptionsInput } from '../operator/clutch.ts';
import { TeleopInput } from '../operator/teleop.ts';
import type { OperatorTiming, RobotSpec, XrAck } from '../protocol/index.ts';

/** Epoch milliseconds at sub-millisecond resolution: the clock headset packets are stamped with. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The human operator's input for one tick: the action, and how fresh it is. */
export interface HumanInput {
  action: ArrayLike<number> | null;
  receivedAt: number | undefined;
  timing: OperatorTiming | undefined;
}

/** What a headset frame's buttons asked for (applied by the session). */
export type HeadsetCommand =
  { type: 'intervene'; pressed: boolean; at: number } | { type: 'success'; at: number };

/**
 * The human operator's devices: teleop packets (keyboard, gamepad, UI, scripts) and the headset's
 * frames through the clutch mapping. Whichever device sent the newest packet drives; packets from
 * before the operator's turn began are not this turn's input; a dropped connection holds until a
 * packet comes again. Time is the session clock's (`now` arguments).
 */
export class OperatorInput {
  readonly teleop: TeleopInput;
  /** The headset's clutch mapping; absent for a robot that does not take end-effector deltas. */
  readonly headset: ClutchMapper | undefined;
  #device: 'teleop' | 'headset' = 'teleop';
  #gone = false;
  #turnBegan = -Infinity;

  constructor(spec: RobotSpec, headset: ClutchOptionsInput) {
    this.teleop = new TeleopInput(spec.action.names.length);
    this.headset = spec.safety?.kind === 'ee-delta' ? new ClutchMapper(spec, headset) : undefined;
  }

  /** An operator packet; throws TeleopError (and changes nothing) if it is malformed or late. */
  teleopPacket(raw: unknown, now: number): void {
    this.teleop.accept(raw, now);
    this.#device = 'teleop';
    this.#gone = false;
  }

  /**
   * One headset frame: a malformed, oversized or out-of-order one is ignored and counted; an
   * accepted one becomes the operator's input, its button edges the commands returned.
   */
  xrPacket(raw: unknown, now: number, bytes?: number): { ack: XrAck; commands: HeadsetCommand[] } {
    const headset = this.headset;
    if (!headset) throw new Error('this robot cannot be driven from a headset');
    const result = headset.accept(raw, now, bytes);
    const latest = result === 'accepted' ? headset.latest : undefined;
    const commands: HeadsetCommand[] = [];
    if (latest) {
      this.#device = 'headset';
      this.#gone = false;
      for (const e of headset.events()) {
        commands.push(
          e.type === 'intervene'
            ? { type: 'intervene', pressed: e.pressed, at: e.at }
            : { type: 'success', at: e.at },
        );
      }
    }
    const ack: XrAck = {
      seq: latest?.seq ?? null,
      t: latest?.t ?? null,
      result,
      receivedAt: epochNow(),
    };
    return { ack, commands };
  }

  /** The operator's connection dropped: no input until a packet comes again. */
  disconnected(): void {
    this.headset?.unlatch();
    this.#gone = true;
  }

  /** The operator's turn began (an intervention or BC-warmup): older packets are not input. */
  turnBegan(at: number): void {
    this.#turnBegan = at;
  }

  /**
   * The operator's action this tick and its freshness; `live`: the tick runs on the wall clock,
   * so a headset stamp gives a latency.
   */
  read(obs: ArrayLike<number>, now: number, live: boolean): HumanInput {
    const headset = this.#device === 'headset' ? this.headset : undefined;
    const receivedAt = headset ? headset.receivedAt : this.teleop.receivedAt;
    // No input this turn yet: hold still (waiting for the operator is not a failed stream).
    if (receivedAt === undefined || receivedAt < this.#turnBegan || this.#gone) {
      return { action: null, receivedAt: undefined, timing: undefined };
    }
    const sentAt = headset?.latest?.t;
    const latency = live && sentAt !== undefined ? epochNow() - sentAt : undefined;
    const timing: OperatorTiming = {
      device: headset ? 'headset' : (this.teleop.latest?.device ?? 'ui'),
      ageMs: now - receivedAt,
      // Only when the sender's clock is comparable (stamped on this machine or a synced one).
      ...(latency !== undefined && latency >= 0 && latency < 60_000 ? { latencyMs: latency } : {}),
    };
    const action = headset ? headset.action(obs) : (this.teleop.latest?.action ?? null);
    return { action, receivedAt, timing };
  }
}
