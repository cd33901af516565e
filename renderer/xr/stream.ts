import type { XrAck, XrPacket } from '../../src/protocol/xr.ts';
import { errorMessage } from '../api/client.ts';

/** Frames in flight (sent, not yet acked) beyond which new ones are skipped: a slow link never queues motion. */
export const MAX_IN_FLIGHT = 8;
/** The fastest the page sends (Hz): headsets run at 72–120 Hz; more is noise on the link. */
export const MAX_RATE_HZ = 120;
/** Round trips kept for the median. */
const WINDOW = 120;

export interface StreamStats {
  sent: number;
  acked: number;
  /** Skipped here: too many in flight, or faster than MAX_RATE_HZ. */
  skipped: number;
  /** Acked, but ignored by the studio (malformed, oversized, out of order, too fast). */
  ignored: number;
  /** Calls that failed (not in control, connection lost). */
  failed: number;
  /** Median round trip (ms) over the last acks; undefined before the first. */
  rttP50: number | undefined;
  lastError: string | undefined;
}

/**
 * Sends headset frames to the studio and measures the round trip from each ack (the ack echoes
 * the frame's stamp). Bounded: at most MAX_RATE_HZ and MAX_IN_FLIGHT unacked frames; the frames it
 * skips are counted, never queued.
 */
export class XrStream {
  readonly #send: (packet: XrPacket) => Promise<XrAck>;
  readonly #now: () => number;
  readonly #rtts: number[] = [];
  #inFlight = 0;
  #lastSentAt = -Infinity;
  #stats: Omit<StreamStats, 'rttP50'> = {
    sent: 0,
    acked: 0,
    skipped: 0,
    ignored: 0,
    failed: 0,
    lastError: undefined,
  };

  constructor(send: (packet: XrPacket) => Promise<XrAck>, now: () => number) {
    this.#send = send;
    this.#now = now;
  }

  /** Sends one frame unless the link is saturated or it comes too soon; true when sent. */
  offer(packet: XrPacket, onError?: (message: string) => void): boolean {
    const now = this.#now();
    if (this.#inFlight >= MAX_IN_FLIGHT || now - this.#lastSentAt < 1000 / MAX_RATE_HZ) {
      this.#stats.skipped++;
      return false;
    }
    this.#lastSentAt = now;
    this.#inFlight++;
    this.#stats.sent++;
    this.#send(packet).then(
      (ack) => {
        this.#inFlight--;
        this.#stats.acked++;
        if (ack.result !== 'accepted') this.#stats.ignored++;
        if (ack.t !== null) {
          this.#rtts.push(this.#now() - ack.t);
          if (this.#rtts.length > WINDOW) this.#rtts.shift();
        }
      },
      (err: unknown) => {
        this.#inFlight--;
        this.#stats.failed++;
        const message = errorMessage(err);
        this.#stats.lastError = message;
        onError?.(message);
      },
    );
    return true;
  }

  stats(): StreamStats {
    const sorted = [...this.#rtts].sort((a, b) => a - b);
    const rttP50 = sorted.length > 0 ? sorted[Math.floor((sorted.length - 1) / 2)] : undefined;
    return { ...this.#stats, rttP50 };
  }
}
