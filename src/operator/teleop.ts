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
 * The operator's latest command. `accept` parses a raw packet: a malformed one, one of the wrong
 * size or an out-of-order one is refused with a reason and changes nothing (so it can never move
 * the robot). The safety layer reads `receivedAt` for the stale-input hold.
 */
export class TeleopInput {
  readonly actionDim: number;
  #latest: TeleopPacket | undefined;
  #receivedAt: number | undefined;
  #refused = 0;

  constructor(actionDim: number) {
    this.actionDim = actionDim;
  }

  /** Takes a raw packet at time `now` (ms); throws TeleopError (nothing changed) if it is bad. */
  accept(raw: unknown, now: number): TeleopPacket {
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
    if (this.#latest && packet.seq <= this.#latest.seq) {
      this.#refused++;
      throw new TeleopError(
        `teleop packet refused: seq ${packet.seq} is not after ${this.#latest.seq} (late or repeated)`,
      );
    }
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

  /** Forgets the last command (e.g. when a new operator takes over): the seq count restarts. */
  clear(): void {
    this.#latest = undefined;
    this.#receivedAt = undefined;
  }
}
