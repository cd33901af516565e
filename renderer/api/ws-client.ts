import { z } from 'zod';
import { Episode, Step } from '../../src/protocol/episode.ts';
import { Mode, type ModeCommand } from '../../src/protocol/modes.ts';
import { SceneDescription } from '../../src/protocol/scene.ts';
import {
  ConnectionRole,
  PairAnswer,
  PairingStatus,
  XrAck,
  type XrPacket,
} from '../../src/protocol/xr.ts';
import {
  type EpisodeCommand,
  MetricSeries,
  RpcResponse,
  SessionStatus,
  type StudioCall,
  StudioEvent,
} from '../../src/protocol/studio.ts';

/**
 * The part of a WebSocket this client uses: the browser's and `ws`'s both fit. Handlers take
 * `never` so that either implementation's event types are accepted.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * `connecting`: the first attempt; `open`: calls go out; `reconnecting`: lost, the next attempt is
 * scheduled with backoff; `closed`: `close()` was called, nothing more happens.
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A thrown value's message (a rejected call's reason, as shown to the user). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface WsStudioClientOptions {
  /** The RPC's address; default: `/ws` on the page's own host (ws: or wss: as the page). */
  url?: string;
  /** The WebSocket implementation; default: the browser's (pass `ws`'s in Node). */
  WebSocket?: WebSocketConstructor;
  /** First reconnect delay (ms), doubled per failed attempt up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A call without an answer this long (ms) is rejected. */
  callTimeoutMs?: number;
}

/** The studio's `/ws` on the page's host; 127.0.0.1:7420 (the default serve port) off the web. */
export function defaultRpcUrl(): string {
  const loc = typeof location === 'undefined' ? undefined : location;
  if (!loc || !loc.host || !/^https?:$/.test(loc.protocol)) return 'ws://127.0.0.1:7420/ws';
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

/** What `mode` answers when the command was taken (a refused one rejects with the reason). */
export const ModeAnswer = z.object({ ok: z.literal(true), from: Mode, to: Mode });
export type ModeAnswer = z.infer<typeof ModeAnswer>;

/** The episode counts `episode` answers with. */
export const EpisodeCounts = SessionStatus.shape.episodes;
export type EpisodeCounts = z.infer<typeof EpisodeCounts>;

/** Which recorded episodes `episodes` lists (the store's EpisodeFilter, checked by the studio). */
export type EpisodeQuery = {
  runId?: number;
  task?: string;
  kind?: Episode['kind'];
  outcome?: NonNullable<Episode['outcome']>;
  intervened?: boolean;
  label?: 'success' | 'failure';
  /** Epoch ms on the start time; `until` excluded. */
  since?: number;
  until?: number;
  includeDeleted?: boolean;
  order?: 'newest' | 'oldest' | 'longest' | 'return';
  limit?: number;
  offset?: number;
};

export interface Annotation {
  label?: 'success' | 'failure' | 'none';
  notes?: string;
  deleted?: boolean;
  /** Steps [start, end) kept for learning; null clears the trim. */
  trim?: { start: number; end: number } | null;
}

/** Calls that drive the robot: refused at once while disconnected, never sent late. */
const COMMANDS = new Set<StudioCall['method']>([
  'mode',
  'episode',
  'teleop',
  'start',
  'stop',
  // A headset frame is only worth sending now: queued, it would move the robot late.
  'xr',
  'control',
]);

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

type CallInput = z.input<typeof StudioCall>;

/**
 * The studio over its WebSocket RPC: calls answered by id, events pushed to listeners, and a
 * connection that comes back by itself (backoff from `minBackoffMs` to `maxBackoffMs`). Read calls
 * made while disconnected wait for the connection (up to the call timeout); commands that drive the
 * robot are rejected at once instead, so that nothing moves the robot late.
 */
export class WsStudioClient {
  readonly url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #callTimeoutMs: number;
  #socket: WebSocketLike | undefined;
  #state: ConnectionState = 'connecting';
  #attempts = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  /** Sent, waiting for the answer. */
  readonly #pending = new Map<number, Pending>();
  /** Not sent yet: waiting for the connection. */
  readonly #queued = new Map<number, { text: string; pending: Pending }>();
  readonly #eventListeners = new Set<(event: StudioEvent) => void>();
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();

  constructor(options: WsStudioClientOptions = {}) {
    this.url = options.url ?? defaultRpcUrl();
    const ctor =
      options.WebSocket ??
      (typeof globalThis.WebSocket === 'function'
        ? (globalThis.WebSocket as WebSocketConstructor)
        : undefined);
    if (!ctor) throw new Error('no WebSocket implementation: pass one in the options');
    this.#WebSocket = ctor;
    this.#minBackoffMs = options.minBackoffMs ?? 250;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.#callTimeoutMs = options.callTimeoutMs ?? 15_000;
    this.#connect();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Listens to connection state changes; returns the unsubscribe function. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Listens to the studio's events (each parsed by StudioEvent); returns the unsubscribe function. */
  on(listener: (event: StudioEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Resolves once the connection is open (rejects after `timeoutMs` or on close()). */
  whenOpen(timeoutMs = 10_000): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no connection to the studio at ${this.url} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onState((state) => {
        if (state !== 'open' && state !== 'closed') return;
        clearTimeout(timer);
        off();
        if (state === 'open') resolve();
        else reject(new Error('the studio client was closed'));
      });
    });
  }

  /**
   * One call; resolves with the studio's result, rejects with the studio's error message (a
   * refused command, a malformed call), a lost connection or a timeout.
   */
  call(call: CallInput): Promise<unknown> {
    if (this.#state === 'closed') return Promise.reject(new Error('the studio client is closed'));
    if (COMMANDS.has(call.method) && this.#state !== 'open') {
      return Promise.reject(new Error(`not connected to the studio: ${call.method} not sent`));
    }
    const id = this.#nextId++;
    const text = JSON.stringify({ id, ...call });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#queued.delete(id);
        reject(new Error(`${call.method}: no answer from the studio in ${this.#callTimeoutMs} ms`));
      }, this.#callTimeoutMs);
      const pending: Pending = { method: call.method, resolve, reject, timer };
      if (this.#state === 'open' && this.#socket) this.#send(id, text, pending);
      else this.#queued.set(id, { text, pending });
    });
  }

  /** Stops for good: pending calls are rejected, no reconnect. */
  close(): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#retry);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      detach(socket);
      socket.close();
    }
    this.#setState('closed');
    this.#failAll('the studio client was closed');
  }

  // Typed calls: every answer parsed by its schema.

  status(): Promise<SessionStatus> {
    return this.#typed({ method: 'status' }, SessionStatus);
  }

  mode(command: ModeCommand): Promise<ModeAnswer> {
    return this.#typed({ method: 'mode', command }, ModeAnswer);
  }

  teleop(packet: unknown): Promise<null> {
    return this.#typed({ method: 'teleop', packet }, z.null());
  }

  episode(command: EpisodeCommand): Promise<EpisodeCounts> {
    return this.#typed({ method: 'episode', command }, EpisodeCounts);
  }

  start(): Promise<boolean> {
    return this.#typed({ method: 'start' }, z.boolean());
  }

  stop(): Promise<boolean> {
    return this.#typed({ method: 'stop' }, z.boolean());
  }

  /** The run's learner metrics: every name or `names`, only the records after `afterStep`. */
  metrics(names?: string[], afterStep?: number): Promise<MetricSeries[]> {
    return this.#typed({ method: 'metrics', names, afterStep }, z.array(MetricSeries));
  }

  /** The robot's scene (null: the robot cannot describe itself). */
  scene(): Promise<SceneDescription | null> {
    return this.#typed({ method: 'scene' }, SceneDescription.nullable());
  }

  episodes(filter: EpisodeQuery = {}): Promise<Episode[]> {
    return this.#typed({ method: 'episodes', filter }, z.array(Episode));
  }

  steps(episodeId: number): Promise<Step[]> {
    return this.#typed({ method: 'steps', episodeId }, z.array(Step));
  }

  /** The episode re-simulated: the bodies' poses before the first step and after each. */
  replay(episodeId: number): Promise<{ poses: number[][] }> {
    return this.#typed(
      { method: 'replay', episodeId },
      z.object({ poses: z.array(z.array(z.number())) }),
    );
  }

  annotate(episodeId: number, annotation: Annotation): Promise<Episode> {
    return this.#typed({ method: 'annotate', episodeId, ...annotation }, Episode);
  }

  /** One headset frame; the ack echoes its seq and stamp (for the round trip). */
  xr(packet: XrPacket): Promise<XrAck> {
    return this.#typed({ method: 'xr', packet }, XrAck);
  }

  /** Pairs this connection as a headset with the desktop's 6-digit code. */
  pair(code: string): Promise<{ token: string }> {
    return this.#typed({ method: 'pair', code }, PairAnswer);
  }

  /** Presents a token from an earlier `pair` (after a reconnect). */
  hello(token: string): Promise<ConnectionRole> {
    return this.#typed({ method: 'hello', token }, ConnectionRole);
  }

  /** Takes (true) or gives back control of the robot for this paired headset. */
  control(take: boolean): Promise<ConnectionRole> {
    return this.#typed({ method: 'control', take }, ConnectionRole);
  }

  /** The pairing code and the paired headsets (the studio's own machine only). */
  pairing(): Promise<PairingStatus> {
    return this.#typed({ method: 'pairing' }, PairingStatus);
  }

  revoke(pairingId: string): Promise<boolean> {
    return this.#typed({ method: 'revoke', pairingId }, z.boolean());
  }

  async #typed<T>(call: CallInput, schema: z.ZodType<T>): Promise<T> {
    const result = await this.call(call);
    const parsed = schema.safeParse(result);
    if (!parsed.success) {
      throw new Error(`${call.method}: unexpected answer: ${z.prettifyError(parsed.error)}`);
    }
    return parsed.data;
  }

  #send(id: number, text: string, pending: Pending): void {
    this.#pending.set(id, pending);
    try {
      this.#socket!.send(text);
    } catch (err) {
      this.#pending.delete(id);
      fail(pending, errorMessage(err));
    }
  }

  #connect(): void {
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(this.url);
    } catch (err) {
      console.warn(`studio: cannot open ${this.url}:`, err);
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      if (this.#socket !== socket) return;
      this.#attempts = 0;
      this.#setState('open');
      const queued = [...this.#queued];
      this.#queued.clear();
      for (const [id, { text, pending }] of queued) this.#send(id, text, pending);
    };
    socket.onmessage = (event: { data: unknown }) => {
      if (this.#socket === socket) this.#receive(event.data);
    };
    // The close event follows an error; only close acts.
    socket.onerror = () => undefined;
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      detach(socket);
      this.#socket = undefined;
      for (const pending of this.#pending.values()) {
        fail(pending, 'the connection to the studio was lost before it answered');
      }
      this.#pending.clear();
      this.#scheduleReconnect();
    };
  }

  #scheduleReconnect(): void {
    if (this.#state === 'closed') return;
    const delay = Math.min(this.#maxBackoffMs, this.#minBackoffMs * 2 ** this.#attempts);
    this.#attempts++;
    this.#setState('reconnecting');
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#state !== 'closed') this.#connect();
    }, delay);
  }

  #receive(data: unknown): void {
    let message: unknown;
    try {
      message = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      console.warn('studio: ignored a message that is not JSON');
      return;
    }
    if (typeof message === 'object' && message !== null && 'event' in message) {
      const event = StudioEvent.safeParse(message);
      if (!event.success) {
        console.warn(`studio: ignored an unreadable event: ${z.prettifyError(event.error)}`);
        return;
      }
      for (const listener of [...this.#eventListeners]) {
        try {
          listener(event.data);
        } catch (err) {
          console.error('studio: an event listener failed:', err);
        }
      }
      return;
    }
    const answer = RpcResponse.safeParse(message);
    if (!answer.success) {
      console.warn(`studio: ignored an unreadable answer: ${z.prettifyError(answer.error)}`);
      return;
    }
    const { id } = answer.data;
    const pending = id === null ? undefined : this.#pending.get(id);
    if (!pending) {
      if (!answer.data.ok) console.warn(`studio: error without a call: ${answer.data.error}`);
      return;
    }
    this.#pending.delete(id!);
    clearTimeout(pending.timer);
    if (answer.data.ok) pending.resolve(answer.data.result);
    else pending.reject(new Error(answer.data.error));
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of [...this.#stateListeners]) listener(state);
  }

  #failAll(reason: string): void {
    const queued = [...this.#queued.values()].map((q) => q.pending);
    for (const pending of [...this.#pending.values(), ...queued]) fail(pending, reason);
    this.#pending.clear();
    this.#queued.clear();
  }
}

/** Rejects a call that will get no answer: `method: reason`. */
function fail(pending: Pending, reason: string): void {
  clearTimeout(pending.timer);
  pending.reject(new Error(`${pending.method}: ${reason}`));
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  // Keep an error handler: `ws` throws on an error event nobody listens to.
  socket.onerror = () => undefined;
}
