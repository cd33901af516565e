import type { IncomingMessage, Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import {
  type ConnectionRole,
  MAX_XR_RATE_HZ,
  type PairingStatus,
  type RpcResponse,
  RpcRequest,
  StudioCall,
  type StudioEvent,
  type XrAck,
} from '../protocol/index.ts';
import type { Session } from '../studio/session.ts';
import { isLoopback } from './addresses.ts';
import { PairingManager } from './pairing.ts';

/** The WebSocket path of the studio's RPC and event stream. */
export const RPC_PATH = '/ws';
/** A client further behind than this (bytes queued) misses telemetry until it catches up. */
const MAX_BUFFERED = 1 << 20;
/**
 * A client with more than this queued for it in this process (bytes the kernel has not taken:
 * its send buffer, a few MB, fills first) is closed: it stopped reading or cannot keep up, and
 * every answer to it would pile up here without bound. Well above one answer (a long episode's
 * steps are some MB) and anything a reading client has queued; one stalled client costs at most
 * this plus one answer.
 */
const MAX_QUEUED = 16 << 20;
/** A client closed for being behind gets this long to take its close frame, then it is cut. */
const CLOSE_GRACE_MS = 10_000;
/** Calls one client may have in flight (not yet answered); past it, refused at once, unrun. */
const MAX_IN_FLIGHT = 32;

export interface RpcServer {
  clients(): number;
  /** Who may pair and who holds control of the robot. */
  readonly pairing: PairingManager;
  close(): Promise<void>;
}

export interface RpcOptions {
  /** Headset pairing; default: in memory (a new code each start, no pairing kept). */
  pairing?: PairingManager;
  /** The address a headset opens (shown with the pairing code on the desktop). */
  headsetUrl?: string;
}

/** Calls about the connection itself, answered by the server, not the session. */
type ConnectionCall = Extract<
  StudioCall,
  { method: 'xr' | 'pair' | 'hello' | 'control' | 'pairing' | 'revoke' }
>;
type SessionCall = Exclude<StudioCall, ConnectionCall>;

/** Calls anyone may make: they read, or (e-stop) can only stop the robot. */
const READ_ONLY = new Set<StudioCall['method']>([
  'status',
  'scene',
  'metrics',
  'episodes',
  'steps',
  'replay',
]);

/**
 * One WebSocket client. `local`: it connects from this machine (the desktop UI, the CLI, a headset
 * through `adb reverse`); `token`: its pairing token, once it paired or said hello.
 */
interface Connection {
  clientId: string;
  /** This connection among all (its teleop packets' numbering is its own). */
  stream: string;
  local: boolean;
  token: string | null;
  /** The headset frames' rate bound: tokens left, and when they were last counted (performance.now). */
  xrTokens: number;
  lastXrAt: number;
  /** Calls taken and not yet answered (MAX_IN_FLIGHT bounds them). */
  inFlight: number;
  /** Why the server closed it, once it did (logged once: a bad client must not flood the log). */
  closedFor: string | null;
  /** The heavy reads' bounds: tokens left, when last counted (performance.now), and how many run. */
  heavyTokens: number;
  lastHeavyAt: number;
  heavyInFlight: number;
}

/** Headset frames that may come back to back (jitter bunches frames up) before the rate bound bites. */
const XR_BURST = 5;

/**
 * Reads that cost the studio real work: a replay re-simulates the whole episode, `steps` reads
 * and sends all of it. They run on the session's review thread, one at a time for all clients,
 * so each connection gets a bounded share: at most HEAVY_IN_FLIGHT waiting or running, and a
 * token bucket of HEAVY_RATE_HZ (bursts of HEAVY_BURST: opening an episode in the review asks for
 * its steps and its replay at once). Past either, the call is refused at once, nothing done.
 */
const HEAVY = new Set<StudioCall['method']>(['steps', 'replay']);
export const HEAVY_IN_FLIGHT = 4;
export const HEAVY_RATE_HZ = 2;
export const HEAVY_BURST = 8;

/** Runs a heavy read within the connection's bounds, or throws the refusal. */
async function boundedHeavy(
  conn: Connection,
  method: StudioCall['method'],
  work: () => Promise<unknown>,
): Promise<unknown> {
  const at = performance.now();
  conn.heavyTokens = Math.min(
    HEAVY_BURST,
    conn.heavyTokens + ((at - conn.lastHeavyAt) * HEAVY_RATE_HZ) / 1000,
  );
  conn.lastHeavyAt = at;
  if (conn.heavyInFlight >= HEAVY_IN_FLIGHT || conn.heavyTokens < 1) {
    throw new Error(
      `${method} refused: too many requests — at most ${HEAVY_IN_FLIGHT} at a time and ${HEAVY_RATE_HZ} per second (bursts of ${HEAVY_BURST}) per connection; wait for the answers, then ask again`,
    );
  }
  conn.heavyTokens -= 1;
  conn.heavyInFlight++;
  try {
    return await work();
  } finally {
    conn.heavyInFlight--;
  }
}

/**
 * Answers one call on the session (the desktop window reaches it too: its preload forwards to
 * this RPC). A refused mode command or a bad teleop packet is an error answer; nothing changed.
 */
async function dispatch(session: Session, call: SessionCall, stream: string): Promise<unknown> {
  switch (call.method) {
    case 'status':
      return session.status();
    case 'mode': {
      const result = session.command(call.command);
      if (!result.ok) throw new Error(`mode command refused: ${result.reason}`);
      return result;
    }
    case 'episode':
      session.episode(call.command);
      return session.status().episodes;
    case 'teleop':
      session.teleopPacket(call.packet, stream);
      return null;
    case 'start':
      session.startLive();
      return true;
    case 'stop':
      await session.stopLive();
      return false;
    case 'scene':
      return session.robot.scene?.() ?? null;
    case 'rollback':
      return session.rollback();
    case 'metrics':
      return session.metrics(call.names, call.afterStep);
    case 'episodes':
      return session.store.listEpisodes(call.filter);
    // Both on the session's review thread (and "there is no episode N" from there too).
    case 'steps':
      return session.steps(call.episodeId);
    case 'replay':
      return session.replay(call.episodeId);
    case 'annotate': {
      const { episodeId, label, notes, deleted, trim } = call;
      return session.store.updateEpisode(existing(session, episodeId).id, {
        ...(label !== undefined ? { label } : {}),
        ...(notes !== undefined ? { notes } : {}),
        ...(deleted !== undefined ? { deleted } : {}),
        ...(trim !== undefined ? { trim } : {}),
      });
    }
  }
}

function existing(session: Session, episodeId: number) {
  const episode = session.store.getEpisode(episodeId);
  if (!episode) throw new Error(`there is no episode ${episodeId}`);
  return episode;
}

/** Parses one raw message into its id and call, or the reason it is malformed. */
function parseRequest(
  text: string,
): { id: number; call: StudioCall } | { id: number | null; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { id: null, error: 'malformed request: not JSON' };
  }
  const head = RpcRequest.safeParse(raw);
  if (!head.success) return { id: null, error: 'malformed request: it needs a numeric "id"' };
  const { id, ...rest } = head.data;
  const call = StudioCall.safeParse(rest);
  if (!call.success) {
    const issue = call.error.issues[0]!;
    const where = issue.path.join('.') || '(call)';
    return { id, error: `malformed request: ${where}: ${issue.message}` };
  }
  return { id, call: call.data };
}

/** Logs why the server closed a connection: one short line, once per connection. */
function logClosed(conn: Connection, why: string): void {
  if (conn.closedFor !== null) return;
  conn.closedFor = why;
  console.error(`tandem: closed the RPC connection from ${conn.clientId}: ${why}`);
}

/**
 * Sends `text` to an open client unless it is too far behind (more than MAX_QUEUED bytes queued):
 * then it is closed instead, 1013 (try again later) with the reason, and cut if it does not take
 * even the close frame within CLOSE_GRACE_MS (a client that stopped reading gets that frame only
 * after all the rest).
 */
function sendText(ws: WebSocket, conn: Connection, text: string): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  const queued = ws.bufferedAmount;
  if (queued <= MAX_QUEUED) {
    ws.send(text);
    return;
  }
  const why = `too far behind: ${queued} bytes queued`;
  logClosed(conn, why);
  ws.close(1013, why);
  const cut = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  ws.once('close', () => clearTimeout(cut));
}

/**
 * The studio's RPC and event stream over WebSocket on `server` (path /ws). Every request is
 * `{id, method, …params}`, validated by StudioCall; every answer `{id, ok, result | error}`.
 * Every client also receives the session's events. Browsers from another origin are refused
 * (a web page must not drive the robot through a local port).
 *
 * Who may do what: anyone may read and e-stop. Commands and teleop come from this machine, or
 * from the one paired headset holding control (`pair` or `hello`, then `control`); headset
 * frames (`xr`) only from that headset, even on this machine. An unpaired client only watches.
 * When the headset in control disconnects, the session is told (hold still, alarm, paused).
 */
export function attachRpc(server: Server, session: Session, options: RpcOptions = {}): RpcServer {
  const pairing = options.pairing ?? new PairingManager();
  const wss = new WebSocketServer({
    server,
    path: RPC_PATH,
    maxPayload: 64 * 1024,
    verifyClient: ({ req }: { req: IncomingMessage }) => sameOrigin(req),
  });
  // The HTTP server's errors reach here too (ws re-emits them): logged, never thrown.
  wss.on('error', (err) => console.error(`tandem: RPC server error: ${err.message}`));
  const connections = new WeakMap<WebSocket, Connection>();
  let connected = 0;
  const send = (ws: WebSocket, message: RpcResponse | StudioEvent) => {
    const conn = connections.get(ws);
    if (conn && ws.readyState === WebSocket.OPEN) sendText(ws, conn, JSON.stringify(message));
  };
  const role = (conn: Connection): ConnectionRole => ({
    role: pairing.role(conn.token),
    control: pairing.hasControl(conn.token, Date.now()),
  });
  const handle = async (conn: Connection, call: StudioCall, bytes: number): Promise<unknown> => {
    const now = Date.now();
    switch (call.method) {
      case 'xr': {
        if (!pairing.keepAlive(conn.token ?? '', now)) {
          throw new Error(
            'headset frames are taken only from the paired headset in control: pair, then take control',
          );
        }
        // Rate-bounded (a token bucket: MAX_XR_RATE_HZ sustained, a few frames of burst for
        // network jitter): a flood is answered, counted and dropped before it is even parsed.
        const at = performance.now();
        conn.xrTokens = Math.min(
          XR_BURST,
          conn.xrTokens + ((at - conn.lastXrAt) * MAX_XR_RATE_HZ) / 1000,
        );
        conn.lastXrAt = at;
        if (conn.xrTokens < 1) {
          session.operator.headset?.tooFast();
          const ack: XrAck = { seq: null, t: null, result: 'too-fast', receivedAt: Date.now() };
          return ack;
        }
        conn.xrTokens -= 1;
        return session.xrPacket(call.packet, bytes);
      }
      case 'pair': {
        const result = pairing.pair(conn.clientId, call.code, now);
        if (!result.ok) throw new Error(result.reason);
        conn.token = result.token;
        return { token: result.token };
      }
      case 'hello':
        conn.token = call.token;
        return role(conn);
      case 'control': {
        const token = conn.token ?? '';
        if (call.take) {
          const holding = pairing.hasControl(token, now);
          const claim = pairing.claimControl(token, now);
          if (!claim.ok) throw new Error(claim.reason);
          if (!holding) session.headsetConnected();
        } else if (pairing.releaseControl(token)) {
          session.operatorDisconnected('the headset');
        }
        return role(conn);
      }
      case 'pairing': {
        if (!conn.local) throw new Error("pairing is shown only on the studio's machine");
        const status: PairingStatus = {
          code: pairing.code,
          paired: pairing.paired(),
          controlHolder: pairing.controlHolder(now),
          ...(options.headsetUrl ? { headsetUrl: options.headsetUrl } : {}),
        };
        return status;
      }
      case 'revoke': {
        if (!conn.local) throw new Error("pairings are revoked only on the studio's machine");
        const held = pairing.controlHolder(now) !== null;
        const revoked = pairing.revokeId(call.pairingId);
        // Revoking the headset in control: as if it disconnected (hold still, alarm, paused).
        if (held && pairing.controlHolder(now) === null) {
          session.operatorDisconnected('the revoked headset');
        }
        return revoked;
      }
      default: {
        const estop = call.method === 'mode' && call.command.type === 'e-stop';
        const drives = conn.local || pairing.hasControl(conn.token, now);
        if (!READ_ONLY.has(call.method) && !estop && !drives) {
          throw new Error(
            `${call.method} refused: this client only watches (pair a headset and take control, or use the studio's machine)`,
          );
        }
        const work = () => dispatch(session, call, conn.stream);
        return HEAVY.has(call.method) ? boundedHeavy(conn, call.method, work) : work();
      }
    }
  };
  wss.on('connection', (ws, req) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const conn: Connection = {
      clientId: address,
      stream: `${address}#${++connected}`,
      local: isLoopback(address),
      token: null,
      xrTokens: XR_BURST,
      lastXrAt: performance.now(),
      inFlight: 0,
      closedFor: null,
      heavyTokens: HEAVY_BURST,
      lastHeavyAt: performance.now(),
      heavyInFlight: 0,
    };
    connections.set(ws, conn);
    // A malformed frame (bad UTF-8, too big, unmasked, reserved bits or opcode): ws has already
    // closed this connection with the fitting code (1002, 1007, 1009). Without this listener its
    // 'error' would be thrown, and one bad client would end the studio, mid-episode.
    ws.on('error', (err) => logClosed(conn, err.message));
    ws.on('close', () => {
      session.operator.teleop.endStream(conn.stream);
      // The headset in control is gone: the robot must not keep following its last frame.
      if (conn.token && pairing.hasControl(conn.token, Date.now())) {
        pairing.releaseControl(conn.token);
        session.operatorDisconnected('the headset');
      }
    });
    ws.on('message', (data, isBinary) => {
      // Closing (it fell behind, or sent a bad frame): what it still sends is not run.
      if (ws.readyState !== WebSocket.OPEN) return;
      if (isBinary) {
        send(ws, { id: null, ok: false, error: 'malformed request: binary frames are not taken' });
        return;
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data as ArrayBuffer).toString('utf8');
      const parsed = parseRequest(text);
      if ('error' in parsed) {
        send(ws, { id: parsed.id, ok: false, error: parsed.error });
        return;
      }
      if (conn.inFlight >= MAX_IN_FLIGHT) {
        const error = `too many calls in flight (at most ${MAX_IN_FLIGHT}): wait for answers, then ask again`;
        send(ws, { id: parsed.id, ok: false, error });
        return;
      }
      conn.inFlight++;
      handle(conn, parsed.call, Buffer.byteLength(text)).then(
        (result) => {
          conn.inFlight--;
          send(ws, { id: parsed.id, ok: true, result: result ?? null });
        },
        (err: unknown) => {
          conn.inFlight--;
          const message = err instanceof Error ? err.message : String(err);
          send(ws, { id: parsed.id, ok: false, error: message });
        },
      );
    });
  });
  const unsubscribe = session.on((event) => {
    const text = JSON.stringify(event);
    for (const ws of wss.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (event.event === 'telemetry' && ws.bufferedAmount > MAX_BUFFERED) continue;
      const conn = connections.get(ws);
      if (conn) sendText(ws, conn, text);
    }
  });
  return {
    clients: () => wss.clients.size,
    pairing,
    close: () =>
      new Promise((resolve) => {
        unsubscribe();
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Non-browser clients send no Origin; a browser's must be this server's own. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
