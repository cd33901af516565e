import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { attachRpc, RPC_PATH, type RpcServer } from '../../src/server/rpc.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { tempDir } from '../cli/helpers.ts';

/** An HTTP server on loopback (`port` 0: any free one) carrying the session's RPC. */
export async function serveRpc(
  session: Session,
  port = 0,
): Promise<{ server: Server; rpc: RpcServer; port: number; url: string }> {
  const server = createServer();
  const rpc = attachRpc(server, session);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return { server, rpc, port: bound, url: `ws://127.0.0.1:${bound}${RPC_PATH}` };
}

/**
 * A real studio for RPC tests: a Session on sim/panda-lift (small learner) in a fresh SQLite
 * file, served over a real WebSocket on loopback.
 */
export async function startRpcStudio(dbName: string) {
  const tmp = tempDir();
  const store = Store.open(join(tmp.dir, dbName));
  const session = await Session.open(store, {
    task: { task: 'sim/panda-lift', options: {} },
    learner: { ensembleSize: 2, hidden: [32, 32], batchSize: 32 },
    autoResetMs: 0,
  });
  const served = await serveRpc(session);
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
