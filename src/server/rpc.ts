import type { IncomingMessage, Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { type RpcResponse, RpcRequest, StudioCall, type StudioEvent } from '../protocol/index.ts';
import type { Session } from '../studio/session.ts';

/** The WebSocket path of the studio's RPC and event stream. */
export const RPC_PATH = '/ws';
/** A client further behind than this (bytes queued) misses telemetry until it catches up. */
const MAX_BUFFERED = 1 << 20;

export interface RpcServer {
  clients(): number;
  close(): Promise<void>;
}

/**
 * Answers one call: what both the WebSocket server and the Electron preload run. A refused mode
 * command or a bad teleop packet is an error answer; nothing changed.
 */
export async function dispatch(session: Session, call: StudioCall): Promise<unknown> {
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
      session.teleopPacket(call.packet);
      return null;
    case 'start':
      session.startLive();
      return true;
    case 'stop':
      await session.stopLive();
      return false;
    case 'scene':
      return session.robot.scene?.() ?? null;
    case 'metrics':
      return session.metrics(call.names, call.afterStep);
    case 'episodes':
      return session.store.listEpisodes(call.filter);
    case 'steps':
      return session.store.readSteps(existing(session, call.episodeId).id);
    case 'replay':
      return session.replay(existing(session, call.episodeId).id);
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
export function parseRequest(
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

/**
 * The studio's RPC and event stream over WebSocket on `server` (path /ws). Every request is
 * `{id, method, …params}`, validated by StudioCall; every answer `{id, ok, result | error}`.
 * Every client also receives the session's events. Browsers from another origin are refused
 * (a web page must not drive the robot through a local port).
 */
export function attachRpc(server: Server, session: Session): RpcServer {
  const wss = new WebSocketServer({
    server,
    path: RPC_PATH,
    maxPayload: 64 * 1024,
    verifyClient: ({ req }: { req: IncomingMessage }) => sameOrigin(req),
  });
  const send = (ws: WebSocket, message: RpcResponse | StudioEvent) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
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
      dispatch(session, parsed.call).then(
        (result) => send(ws, { id: parsed.id, ok: true, result: result ?? null }),
        (err: unknown) => {
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
      ws.send(text);
    }
  });
  return {
    clients: () => wss.clients.size,
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
