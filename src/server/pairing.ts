import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * What a connection may do. A `controller` is a paired headset: it may claim control of the robot
 * (one at a time, see `claimControl`). Anything else — unpaired, unknown or revoked — is a
 * `watcher`: it may at most watch and never moves the robot.
 */
export type PairingRole = 'controller' | 'watcher';

export type PairResult =
  { ok: true; token: string } | { ok: false; reason: string; retryAfterMs?: number };

export type ClaimResult = { ok: true } | { ok: false; reason: string };

export interface PairedClient {
  /** The first 12 hex digits of the token's sha256: names a pairing without revealing it. */
  id: string;
  clientId: string;
  pairedAt: number;
}

export interface PairingOptions {
  /** Optional JSON file keeping the paired tokens (sha256 hashes only) across restarts. */
  file?: string;
  /** Wrong codes a client may send within `windowMs` before it is refused for `lockoutMs`. */
  maxFailuresPerClient?: number;
  windowMs?: number;
  lockoutMs?: number;
  /** Wrong codes from all clients since the last rotation after which the code rotates. */
  maxFailuresOverall?: number;
  /** A control holder not heard from (`keepAlive`) for this long loses control. */
  controlTimeoutMs?: number;
  /** Rotate the code after each successful pairing (a code is good for one headset). */
  rotateOnPair?: boolean;
  /** Called with the new code whenever it changes (the desktop UI shows it). */
  onRotate?: (code: string) => void;
}

const CODE_PATTERN = /^\d{6}$/;

const PairingFile = z.object({
  version: z.literal(1),
  tokens: z.array(
    z.object({
      hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest'),
      clientId: z.string().min(1).max(200),
      pairedAt: z.number().finite(),
    }),
  ),
});
type PairingFile = z.infer<typeof PairingFile>;

/** A pairing file that cannot be used; the manager starts with no paired headsets instead. */
export class PairingFileError extends Error {
  override name = 'PairingFileError';
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function newCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/**
 * Reads a pairing file: `[]` when it does not exist; a PairingFileError saying what is wrong when
 * it is not JSON or not the expected shape.
 */
export function loadPairingFile(path: string): PairingFile['tokens'] {
  if (!existsSync(path)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new PairingFileError(`pairing file ${path} is not readable JSON (${why})`);
  }
  const parsed = PairingFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '(file)';
    throw new PairingFileError(`pairing file ${path} is not valid: ${where}: ${issue.message}`);
  }
  return parsed.data.tokens;
}

interface Failures {
  /** Times of wrong codes within the window. */
  times: number[];
  lockedUntil: number;
}

interface Control {
  hash: string;
  lastSeen: number;
}

/**
 * Pairing of headsets with the studio, and who may move the robot. The desktop UI shows a 6-digit
 * code; a headset that sends it (`pair`) gets a random bearer token. Only a paired token is a
 * `controller`, and only one controller holds control at a time (`claimControl`). Wrong codes are
 * rate-limited per client (`clientId`: the caller should use something the client cannot choose,
 * such as its remote address) and, after too many overall, the code rotates.
 *
 * Pure logic: times are passed in. The only I/O is the optional pairing file (token hashes only),
 * read in the constructor and rewritten on each pairing or revocation.
 */
export class PairingManager {
  /** Why the pairing file was ignored, when it was; null otherwise. */
  readonly loadError: string | null = null;

  readonly #opts: Required<Omit<PairingOptions, 'file' | 'onRotate'>>;
  readonly #file: string | undefined;
  readonly #onRotate: ((code: string) => void) | undefined;
  readonly #paired = new Map<string, { clientId: string; pairedAt: number }>();
  readonly #failures = new Map<string, Failures>();
  #code = newCode();
  #failuresSinceRotation = 0;
  #control: Control | null = null;

  constructor(options: PairingOptions = {}) {
    this.#opts = {
      maxFailuresPerClient: options.maxFailuresPerClient ?? 5,
      windowMs: options.windowMs ?? 60_000,
      lockoutMs: options.lockoutMs ?? 60_000,
      maxFailuresOverall: options.maxFailuresOverall ?? 20,
      controlTimeoutMs: options.controlTimeoutMs ?? 5_000,
      rotateOnPair: options.rotateOnPair ?? true,
    };
    this.#file = options.file;
    this.#onRotate = options.onRotate;
    if (this.#file) {
      try {
        for (const t of loadPairingFile(this.#file)) {
          this.#paired.set(t.hash, { clientId: t.clientId, pairedAt: t.pairedAt });
        }
      } catch (err) {
        if (!(err instanceof PairingFileError)) throw err;
        this.loadError = `${err.message}; starting with no paired headsets`;
      }
    }
  }

  /** The current pairing code, six digits (leading zeros kept). */
  get code(): string {
    return this.#code;
  }

  /** Replaces the pairing code; returns the new one. Tokens already given stay valid. */
  rotate(): string {
    let next = newCode();
    while (next === this.#code) next = newCode();
    this.#code = next;
    this.#failuresSinceRotation = 0;
    this.#onRotate?.(next);
    return next;
  }

  /**
   * Pairs `clientId` when `code` is the current code: returns a new bearer token (the only time it
   * is ever seen; only its hash is kept). A wrong code is refused and counted; a client with too
   * many recent wrong codes is refused without checking, until its lockout ends.
   */
  pair(clientId: string, code: string, now: number): PairResult {
    const failures = this.#recentFailures(clientId, now);
    if (failures && failures.lockedUntil > now) {
      return {
        ok: false,
        reason: 'too many wrong pairing codes: wait before trying again',
        retryAfterMs: failures.lockedUntil - now,
      };
    }
    const given = Buffer.from(code, 'utf8');
    const right = Buffer.from(this.#code, 'utf8');
    const matches =
      CODE_PATTERN.test(code) && given.length === right.length && timingSafeEqual(given, right);
    if (!matches) {
      this.#fail(clientId, now);
      return { ok: false, reason: 'wrong pairing code: use the 6 digits shown in the studio' };
    }
    this.#failures.delete(clientId);
    const token = randomBytes(32).toString('base64url');
    this.#paired.set(hashToken(token), { clientId, pairedAt: now });
    this.#save();
    if (this.#opts.rotateOnPair) this.rotate();
    return { ok: true, token };
  }

  /** `controller` for a paired token; `watcher` for anything else (missing, unknown, revoked). */
  role(token: string | null | undefined): PairingRole {
    return token && this.#paired.has(hashToken(token)) ? 'controller' : 'watcher';
  }

  /** The paired headsets, for the desktop UI (never their tokens). */
  paired(): PairedClient[] {
    return [...this.#paired].map(([hash, p]) => ({
      id: hash.slice(0, 12),
      clientId: p.clientId,
      pairedAt: p.pairedAt,
    }));
  }

  /** Forgets one token (it becomes a watcher, losing control if it held it). */
  revoke(token: string): boolean {
    return this.#revokeHash(hashToken(token));
  }

  /** Forgets a pairing by its `id` from `paired()` (what the desktop UI knows). */
  revokeId(id: string): boolean {
    if (!/^[0-9a-f]{12}$/.test(id)) return false;
    const hash = [...this.#paired.keys()].find((h) => h.startsWith(id));
    return hash !== undefined && this.#revokeHash(hash);
  }

  /** Forgets every pairing; nobody holds control afterwards. */
  revokeAll(): void {
    this.#paired.clear();
    this.#control = null;
    this.#save();
  }

  /**
   * Takes control of the robot for a paired token, when no other token holds it (a holder that
   * released, was revoked or was not heard from for `controlTimeoutMs` holds nothing). Claiming
   * again while holding it renews it.
   */
  claimControl(token: string, now: number): ClaimResult {
    if (this.role(token) !== 'controller') {
      return { ok: false, reason: 'this headset is not paired: it may only watch' };
    }
    const hash = hashToken(token);
    const holder = this.#liveControl(now);
    if (holder && holder.hash !== hash) {
      return { ok: false, reason: 'another headset has control' };
    }
    this.#control = { hash, lastSeen: now };
    return { ok: true };
  }

  /** Keeps control alive for its holder; false when `token` does not hold control. */
  keepAlive(token: string, now: number): boolean {
    if (!this.hasControl(token, now)) return false;
    this.#control = { hash: hashToken(token), lastSeen: now };
    return true;
  }

  /** Gives control back; false when `token` did not hold it. */
  releaseControl(token: string): boolean {
    if (this.#control?.hash !== hashToken(token)) return false;
    this.#control = null;
    return true;
  }

  /** True only for the paired token holding live control: the one connection that may move the robot. */
  hasControl(token: string | null | undefined, now: number): boolean {
    if (!token) return false;
    const holder = this.#liveControl(now);
    return holder !== null && holder.hash === hashToken(token);
  }

  /** The client id of the headset holding control, or null. */
  controlHolder(now: number): string | null {
    const holder = this.#liveControl(now);
    return holder ? (this.#paired.get(holder.hash)?.clientId ?? null) : null;
  }

  #liveControl(now: number): Control | null {
    const c = this.#control;
    if (!c) return null;
    if (!this.#paired.has(c.hash) || now - c.lastSeen > this.#opts.controlTimeoutMs) {
      this.#control = null;
      return null;
    }
    return c;
  }

  #revokeHash(hash: string): boolean {
    if (!this.#paired.delete(hash)) return false;
    if (this.#control?.hash === hash) this.#control = null;
    this.#save();
    return true;
  }

  /** The client's failures within the window (pruned), or undefined; forgets stale clients. */
  #recentFailures(clientId: string, now: number): Failures | undefined {
    for (const [id, f] of this.#failures) {
      f.times = f.times.filter((t) => now - t < this.#opts.windowMs);
      if (f.times.length === 0 && f.lockedUntil <= now) this.#failures.delete(id);
    }
    return this.#failures.get(clientId);
  }

  #fail(clientId: string, now: number): void {
    const f = this.#failures.get(clientId) ?? { times: [], lockedUntil: 0 };
    f.times.push(now);
    if (f.times.length >= this.#opts.maxFailuresPerClient) {
      f.lockedUntil = now + this.#opts.lockoutMs;
      f.times = [];
    }
    this.#failures.set(clientId, f);
    this.#failuresSinceRotation += 1;
    if (this.#failuresSinceRotation >= this.#opts.maxFailuresOverall) this.rotate();
  }

  #save(): void {
    if (!this.#file) return;
    const body: PairingFile = {
      version: 1,
      tokens: [...this.#paired].map(([hash, p]) => ({ hash, ...p })),
    };
    mkdirSync(dirname(this.#file), { recursive: true });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.#file);
  }
}
