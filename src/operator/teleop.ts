import { z } from 'zod';
import { OperatorDevice } from '../protocol/index.ts';

/**
 * One operator command as it arrives from a keyboard, gamepad or headset (over WebSocket or IPC):
 * the action in the robot's action space (for panda-lift: end-effector delta and gripper, each in
 * [-1, 1]), numbered so that a late packet never overrides a newer one.
 */
export const TeleopPacket = z
  .object({
    seq: z.number().int().nonnegative(),
    action: z.array(z.number()).min(1).max(64),
    /** Where it came from, for the record and the stale-input alarm. */
    device: OperatorDevice.default('ui'),
  })
  .strict();
export type TeleopPacket = z.infer<typeof TeleopPacket>;

export class TeleopError extends Error {
  override name = 'TeleopError';
}

/**
 * How far ahead of a stream's newest packet the next one may be numbered. The studio's pages
 * number packets by the epoch clock in microseconds, so this is over an hour of silence; a packet
 * beyond it (say seq 2^53−1) is refused rather than taken as the newest, which would refuse every
 * real packet after it.
 */
export const MAX_SEQ_JUMP = 2 ** 32;

/** The stream of packets that `accept` is told nothing about (one sender in-process). */
export const DEFAULT_STREAM = 'local';

/**
 * The operator's latest command. `accept` parses a raw packet: a malformed one, one of the wrong
 * size or an out-of-order one is refused with a reason and changes nothing (so it can never move
 * the robot). The safety layer reads `receivedAt` for the stale-input hold.
 *
 * Sequence numbers are per stream (a connection: each sender numbers its own packets) and bounded
 * in how far they jump, so one packet cannot lock out another sender, nor, once a sender has
 * numbered a packet, the sender itself; `clear` (the studio calls it at a reset out of e-stop)
 * forgets every stream's numbering.
 */
export class TeleopInput {
  readonly actionDim: number;
  #latest: TeleopPacket | undefined;
  #receivedAt: number | undefined;
  /** Each stream's newest accepted seq (streams seen since the last `clear`). */
  #streams = new Map<string, number>();
  #refused = 0;

  constructor(actionDim: number) {
    this.actionDim = actionDim;
  }

  /**
   * Takes a raw packet of `stream` at time `now` (ms); throws TeleopError (nothing changed) if it
   * is bad.
   */
  accept(raw: unknown, now: number, stream: string = DEFAULT_STREAM): TeleopPacket {
    const parsed = TeleopPacket.safeParse(raw);
    if (!parsed.success) {
      this.#refused++;
      const issue = parsed.error.issues[0]!;
      throw new TeleopError(
        `teleop packet refused: ${issue.path.join('.') || '(packet)'}: ${issue.message}`,
      );
    }
    const packet = parsed.data;
    if (packet.action.length !== this.actionDim) {
      this.#refused++;
      throw new TeleopError(
        `teleop packet refused: action has ${packet.action.length} entries, the robot takes ${this.actionDim}`,
      );
    }
    const newest = this.#streams.get(stream);
    if (newest !== undefined && packet.seq <= newest) {
      this.#refused++;
      throw new TeleopError(
        `teleop packet refused: seq ${packet.seq} is not after ${newest} (late or repeated)`,
      );
    }
    if (newest !== undefined && packet.seq - newest > MAX_SEQ_JUMP) {
      this.#refused++;
      throw new TeleopError(
        `teleop packet refused: seq ${packet.seq} jumps ${packet.seq - newest} past ${newest} (at most ${MAX_SEQ_JUMP})`,
      );
    }
    this.#streams.set(stream, packet.seq);
    this.#latest = packet;
    this.#receivedAt = now;
    return packet;
  }

  /** The newest accepted command, if any. */
  get latest(): TeleopPacket | undefined {
    return this.#latest;
  }

  /** When the newest command arrived (ms, the caller's clock). */
  get receivedAt(): number | undefined {
    return this.#receivedAt;
  }

  get refused(): number {
    return this.#refused;
  }

  /** Forgets the last command and every stream's numbering (a new turn: the seq counts restart). */
  clear(): void {
    this.#latest = undefined;
    this.#receivedAt = undefined;
    this.#streams.clear();
  }

  /** A stream ended (its connection closed): its numbering is forgotten. */
  endStream(stream: string): void {
    this.#streams.delete(stream);
  }
}
