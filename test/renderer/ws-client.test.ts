import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { ConnectionState } from '../../renderer/api/client.ts';
import { WsStudioClient } from '../../renderer/api/ws-client.ts';
import type { StudioEvent } from '../../src/protocol/index.ts';
import type { RpcServer } from '../../src/server/rpc.ts';
import type { Session } from '../../src/studio/session.ts';
import { serveRpc, startRpcStudio } from '../server/rpc-studio.ts';

async function waitFor(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WsStudioClient against the studio RPC (real session, real socket on loopback)', () => {
  let studio: Awaited<ReturnType<typeof startRpcStudio>>;
  let session: Session;
  let server: Server;
  let rpc: RpcServer;
  let port: number;
  let client: WsStudioClient;

  before(async () => {
    studio = await startRpcStudio('ws-client.db');
    ({ session, server, rpc, port } = studio);
    client = new WsStudioClient({
      url: studio.url,
      WebSocket,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      callTimeoutMs: 10_000,
    });
    await client.whenOpen();
  });
  after(async () => {
    client.close();
    await studio.close({ server, rpc });
  });

  it('answers calls, each parsed by its schema', async () => {
    const status = await client.status();
    assert.equal(status.mode, 'paused');
    assert.equal(status.runId, session.runId);
    assert.equal(status.task, 'sim/panda-lift');
    const scene = await client.scene();
    assert.ok(scene && scene.bodies.length > 0 && scene.geoms.length > 0);
    assert.ok(Array.isArray(await client.metrics(['critic_loss'], -1)));
    assert.deepEqual(await client.episodes({ runId: session.runId }), []);
    // Calls in flight together are each paired with their own answer.
    const [a, b, c] = await Promise.all([client.status(), client.scene(), client.status()]);
    assert.equal(a.runId, session.runId);
    assert.ok(b);
    assert.equal(c.mode, 'paused');
  });

  it("rejects a refused or malformed call with the server's message", async () => {
    await assert.rejects(
      client.mode({ type: 'reset', origin: 'ui' }),
      /^Error: mode command refused: not in e-stop \(mode is paused\): nothing to reset$/,
    );
    await assert.rejects(client.steps(9999), /^Error: there is no episode 9999$/);
    await assert.rejects(
      client.teleop({ seq: 1, action: [0, 0, 1] }),
      /3 entries, the robot takes 4/,
    );
    await assert.rejects(
      client.call({ method: 'episodes', filter: { order: 'sideways' } }),
      /episode filter is invalid/,
    );
    assert.equal(session.modes.mode, 'paused', 'nothing changed');
  });

  it('hears the studio events: mode transitions and telemetry', async () => {
    const events: StudioEvent[] = [];
    const off = client.on((e) => events.push(e));
    try {
      const answer = await client.mode({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
      assert.deepEqual(answer, { ok: true, from: 'paused', to: 'autonomous' });
      session.tick();
      await waitFor('a mode event and telemetry', () =>
        events.some((e) => e.event === 'telemetry'),
      );
      const mode = events.find((e) => e.event === 'mode');
      assert.ok(mode?.event === 'mode' && mode.data.kind === 'transition');
      assert.equal(mode.data.to, 'autonomous');
      const telemetry = events.find((e) => e.event === 'telemetry');
      assert.ok(telemetry?.event === 'telemetry');
      assert.equal(telemetry.data.mode, 'autonomous');
      assert.ok((telemetry.data.poses?.length ?? 0) > 0, 'telemetry carries the poses');
    } finally {
      off();
      await client.mode({ type: 'set-mode', mode: 'paused', origin: 'ui' });
    }
  });

  it('reconnects by itself after the server restarts', async () => {
    const states: ConnectionState[] = [];
    const off = client.onState((s) => states.push(s));
    try {
      const closed = new Promise((r) => server.close(r));
      await rpc.close();
      server.closeAllConnections();
      await closed;
      await waitFor('the client to notice', () => client.state === 'reconnecting');

      // Commands are refused while disconnected; reads wait for the connection.
      await assert.rejects(
        client.mode({ type: 'e-stop', origin: 'ui' }),
        /not connected to the studio: mode not sent/,
      );
      const waiting = client.status();
      // Let a few attempts fail against the closed port (backoff up to 200 ms).
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(client.state, 'reconnecting');

      ({ server, rpc } = await serveRpc(session, { port }));
      await client.whenOpen(5000);
      assert.equal((await waiting).runId, session.runId, 'the queued call went out on reconnect');
      assert.deepEqual(states.slice(0, 1), ['reconnecting']);
      assert.equal(states.at(-1), 'open');
      assert.equal((await client.status()).mode, 'paused');
      assert.equal(rpc.clients(), 1);
    } finally {
      off();
    }
  });
});

describe('WsStudioClient against a misbehaving server', () => {
  let wss: WebSocketServer;
  let url: string;
  /** What the fake server answers to each request (given its id). */
  let reply: (id: number, ws: WebSocket) => void;

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const { id } = JSON.parse(String(data)) as { id: number };
        reply(id, ws);
      });
    });
  });
  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  });

  const connect = async (callTimeoutMs = 5000) => {
    const client = new WsStudioClient({ url, WebSocket, minBackoffMs: 20, callTimeoutMs });
    await client.whenOpen();
    return client;
  };

  it('ignores unreadable messages and events with a warning', async () => {
    const warn = mock.method(console, 'warn', () => undefined);
    const client = await connect();
    const events: StudioEvent[] = [];
    client.on((e) => events.push(e));
    try {
      reply = (id, ws) => {
        ws.send('not json');
        ws.send(JSON.stringify({ event: 'telemetry', data: { tick: 'soon' } }));
        ws.send(JSON.stringify({ event: 'policy', data: { version: 3 } }));
        ws.send(JSON.stringify({ id, answer: 'wrong shape' }));
        ws.send(JSON.stringify({ id: null, ok: false, error: 'malformed request: not JSON' }));
        ws.send(JSON.stringify({ id, ok: true, result: false }));
      };
      assert.equal(await client.stop(), false);
      assert.deepEqual(events, [{ event: 'policy', data: { version: 3 } }]);
      const warnings = warn.mock.calls.map((c) => String(c.arguments[0]));
      assert.equal(warnings.length, 4, warnings.join('\n'));
      assert.match(warnings[0]!, /not JSON/);
      assert.match(warnings[1]!, /unreadable event/);
      assert.match(warnings[2]!, /unreadable answer/);
      assert.match(warnings[3]!, /error without a call: malformed request/);
    } finally {
      warn.mock.restore();
      client.close();
    }
  });

  it('rejects an answer of the wrong shape, naming the field', async () => {
    const client = await connect();
    try {
      reply = (id, ws) => ws.send(JSON.stringify({ id, ok: true, result: { mode: 'flying' } }));
      await assert.rejects(client.status(), /^Error: status: unexpected answer: .*runId/s);
    } finally {
      client.close();
    }
  });

  it('times out a call without an answer, and close() rejects the rest', async () => {
    const client = await connect(100);
    reply = () => undefined;
    await assert.rejects(client.status(), /status: no answer from the studio in 100 ms/);
    const slow = new WsStudioClient({ url, WebSocket, callTimeoutMs: 60_000 });
    await slow.whenOpen();
    const pending = slow.status();
    slow.close();
    await assert.rejects(pending, /the studio client was closed/);
    assert.equal(slow.state, 'closed');
    await assert.rejects(slow.status(), /closed/);
    client.close();
  });

  it('a call lost with the connection is rejected, then the client reconnects', async () => {
    const client = await connect();
    try {
      reply = (_id, ws) => ws.terminate();
      await assert.rejects(client.status(), /status: the connection to the studio was lost/);
      await client.whenOpen(5000);
      reply = (id, ws) => ws.send(JSON.stringify({ id, ok: true, result: true }));
      assert.equal(await client.start(), true);
    } finally {
      client.close();
    }
  });

  it('needs a WebSocket implementation where there is no global one', () => {
    if (typeof globalThis.WebSocket === 'function') return;
    assert.throws(() => new WsStudioClient({ url }), /no WebSocket implementation/);
  });
});
