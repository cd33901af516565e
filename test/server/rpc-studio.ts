import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { attachRpc, RPC_PATH, type RpcOptions, type RpcServer } from '../../src/server/rpc.ts';
import type { SessionConfigInput } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { tempDir } from '../cli/helpers.ts';

/**
 * An HTTP server (on loopback unless `host` says otherwise; `port` 0: any free one) carrying the
 * session's RPC. `url` reaches it over loopback.
 */
export async function serveRpc(
  session: Session,
  opts: { port?: number; host?: string; rpc?: RpcOptions } = {},
): Promise<{ server: Server; rpc: RpcServer; port: number; url: string }> {
  const server = createServer();
  const rpc = attachRpc(server, session, opts.rpc);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return { server, rpc, port: bound, url: `ws://127.0.0.1:${bound}${RPC_PATH}` };
}

export interface Answer {
  id: number | null;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** A WebSocket client that pairs answers with requests (in order) and keeps the events. */
export class RpcTestClient {
  readonly ws: WebSocket;
  readonly events: { event: string; data: unknown }[] = [];
  readonly #waiting: ((a: Answer) => void)[] = [];
  #nextId = 1000;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as Answer & { event?: string; data?: unknown };
      if (message.event) this.events.push({ event: message.event, data: message.data });
      else this.#waiting.shift()?.(message);
    });
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<RpcTestClient> {
    const ws = new WebSocket(url, { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RpcTestClient(ws);
  }

  /** Sends raw text; resolves with the next answer. */
  send(text: string): Promise<Answer> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.ws.send(text);
    });
  }

  call(id: number, call: Record<string, unknown>): Promise<Answer> {
    return this.send(JSON.stringify({ id, ...call }));
  }

  /** A call with the next free id; the answer's result, or throws its error. */
  async ask(call: Record<string, unknown>): Promise<unknown> {
    const answer = await this.call(this.#nextId++, call);
    if (!answer.ok) throw new Error(answer.error);
    return answer.result;
  }

  /** Closes the socket and resolves once it is closed. */
  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

/**
 * A real studio for RPC tests: a Session on sim/panda-lift (small learner) in a fresh SQLite
 * file, served over a real WebSocket on loopback.
 */
export async function startRpcStudio(
  dbName: string,
  opts: { host?: string; rpc?: RpcOptions; config?: Partial<SessionConfigInput> } = {},
) {
  const tmp = tempDir();
  const store = Store.open(join(tmp.dir, dbName));
  const session = await Session.open(store, {
    task: { task: 'sim/panda-lift', options: {} },
    learner: { ensembleSize: 2, hidden: [32, 32], batchSize: 32 },
    autoResetMs: 0,
    ...opts.config,
  });
  const served = await serveRpc(session, opts);
  return {
    store,
    session,
    ...served,
    /** Closes what is served now (`server` and `rpc` may have been replaced), then the rest. */
    async close(current: { server: Server; rpc: RpcServer } = served): Promise<void> {
      await current.rpc.close();
      await new Promise((r) => current.server.close(r));
      await session.close();
      store.close();
      tmp.cleanup();
    },
  };
}
