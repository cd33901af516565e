import { ClutchMapper, type ClutchOptionsInput } from '../operator/clutch.ts';
import { TeleopInput } from '../operator/teleop.ts';
import type { ModeCommandType, OperatorTiming, RobotSpec, XrAck } from '../protocol/index.ts';

/** Epoch milliseconds at sub-millisecond resolution: the clock headset packets are stamped with. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The human operator's input for one tick: the action, and how fresh it is. */
export interface HumanInput {
  action: ArrayLike<number> | null;
  receivedAt: number | undefined;
  timing: OperatorTiming | undefined;
  /**
   * The newest teleop packet already drove a tick and none came since: hold (a teleop action is
   * one tick's motion; repeating it would move the robot on a packet that never came).
   */
  repeated: boolean;
}

/** What a headset frame's buttons asked for (applied by the session). */
export type HeadsetCommand =
  { type: 'intervene'; pressed: boolean; at: number } | { type: 'success'; at: number };

/**
 * The human operator's devices: teleop packets (keyboard, gamepad, UI, scripts) and the headset's
 * frames through the clutch mapping. Whichever device sent the newest packet drives. Every mode
 * change (e-stop, reset, an intervention, BC-warmup, paused) begins a new turn: only packets that
 * arrived in the current turn are input, whatever their timestamps (a packet taken in the same
 * millisecond as an e-stop is still from before it); a sender's numbering goes on across turns, so
 * a replayed packet stays refused. A teleop packet drives one tick; a dropped
 * connection holds until a packet comes again. Time is the session clock's (`now` arguments).
 */
export class OperatorInput {
  readonly teleop: TeleopInput;
  /** The headset's clutch mapping; absent for a robot that does not take end-effector deltas. */
  readonly headset: ClutchMapper | undefined;
  #device: 'teleop' | 'headset' = 'teleop';
  #gone = false;
  /** The current turn, and the turn the newest teleop packet and headset frame arrived in. */
  #turn = 0;
  #teleopTurn = -1;
  #headsetTurn = -1;
  /** The newest teleop packet has driven a tick. */
  #teleopUsed = false;

  constructor(spec: RobotSpec, headset: ClutchOptionsInput) {
    this.teleop = new TeleopInput(spec.action.names.length);
    this.headset = spec.safety?.kind === 'ee-delta' ? new ClutchMapper(spec, headset) : undefined;
  }

  /**
   * An operator packet of `stream` (its connection: each numbers its own packets); throws
   * TeleopError (and changes nothing) if it is malformed or late.
   */
  teleopPacket(raw: unknown, now: number, stream?: string): void {
    this.teleop.accept(raw, now, stream);
    this.#device = 'teleop';
    this.#gone = false;
    this.#teleopTurn = this.#turn;
    this.#teleopUsed = false;
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
      this.#headsetTurn = this.#turn;
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

  /**
   * The mode changed (`cause`: the command that changed it): a new turn, in which no packet has
   * come yet. A reset out of e-stop also restarts every sender's teleop numbering: the operator's
   * way to start afresh, whatever a sender numbered before.
   */
  modeChanged(cause: ModeCommandType): void {
    this.#turn++;
    if (cause === 'reset') this.teleop.clear();
  }

  /**
   * The operator's action this tick and its freshness; `live`: the tick runs on the wall clock,
   * so a headset stamp gives a latency.
   */
  read(obs: ArrayLike<number>, now: number, live: boolean): HumanInput {
    const headset = this.#device === 'headset' ? this.headset : undefined;
    const receivedAt = headset ? headset.receivedAt : this.teleop.receivedAt;
    const turn = headset ? this.#headsetTurn : this.#teleopTurn;
    // No input this turn yet: hold still (waiting for the operator is not a failed stream).
    if (receivedAt === undefined || turn !== this.#turn || this.#gone) {
      return { action: null, receivedAt: undefined, timing: undefined, repeated: false };
    }
    const sentAt = headset?.latest?.t;
    const latency = live && sentAt !== undefined ? epochNow() - sentAt : undefined;
    const timing: OperatorTiming = {
      device: headset ? 'headset' : (this.teleop.latest?.device ?? 'ui'),
      ageMs: now - receivedAt,
      // Only when the sender's clock is comparable (stamped on this machine or a synced one).
      ...(latency !== undefined && latency >= 0 && latency < 60_000 ? { latencyMs: latency } : {}),
    };
    // A headset frame is a pose to follow (following it again moves no further); a teleop packet
    // is one tick's motion, taken once.
    const repeated = !headset && this.#teleopUsed;
    if (!headset) this.#teleopUsed = true;
    const action = headset ? headset.action(obs) : repeated ? null : this.teleop.latest!.action;
    return { action, receivedAt, timing, repeated };
  }
}
