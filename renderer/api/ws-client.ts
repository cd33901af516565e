import { z } from 'zod';
import type { StudioCallInput } from '../../src/protocol/rpc.ts';
import { RpcResponse, type StudioCall } from '../../src/protocol/studio.ts';
import { errorMessage, StudioClientBase } from './client.ts';

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

/** The HTTP origin of the studio whose RPC is at `url` (ws → http, wss → https; '' if unreadable). */
export function httpOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
  } catch {
    return '';
  }
}

/**
 * The studio over its WebSocket RPC: calls answered by id, events pushed to listeners, and a
 * connection that comes back by itself (backoff from `minBackoffMs` to `maxBackoffMs`). Read calls
 * made while disconnected wait for the connection (up to the call timeout); commands that drive the
 * robot are rejected at once instead, so that nothing moves the robot late.
 */
export class WsStudioClient extends StudioClientBase {
  readonly url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #callTimeoutMs: number;
  #socket: WebSocketLike | undefined;
  #attempts = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  /** Sent, waiting for the answer. */
  readonly #pending = new Map<number, Pending>();
  /** Not sent yet: waiting for the connection. */
  readonly #queued = new Map<number, { text: string; pending: Pending }>();

  constructor(options: WsStudioClientOptions = {}) {
    const url = options.url ?? defaultRpcUrl();
    super('connecting', httpOrigin(url));
    this.url = url;
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

  protected get where(): string {
    return `at ${this.url}`;
  }

  call(call: StudioCallInput): Promise<unknown> {
    if (this.state === 'closed') return Promise.reject(new Error('the studio client is closed'));
    if (COMMANDS.has(call.method) && this.state !== 'open') {
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
      if (this.state === 'open' && this.#socket) this.#send(id, text, pending);
      else this.#queued.set(id, { text, pending });
    });
  }

  /** Stops for good: pending calls are rejected, no reconnect. */
  close(): void {
    if (this.state === 'closed') return;
    clearTimeout(this.#retry);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      detach(socket);
      socket.close();
    }
    this.setState('closed');
    this.#failAll('the studio client was closed');
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
      this.setState('open');
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
    if (this.state === 'closed') return;
    const delay = Math.min(this.#maxBackoffMs, this.#minBackoffMs * 2 ** this.#attempts);
    this.#attempts++;
    this.setState('reconnecting');
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.state !== 'closed') this.#connect();
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
      this.deliver(message);
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
