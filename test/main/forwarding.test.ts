// The desktop path end to end, Electron faked: a studio RPC (a real WebSocket server on loopback)
// ← the main process's one link (connectStudio) → IPC (serveCalls, forwardEvents) → the preload's
// bridge (createApi) → the renderer's IpcStudioClient.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it, mock } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import type { StudioClient } from '../../renderer/api/client.ts';
import { IpcStudioClient } from '../../renderer/api/ipc-client.ts';
import { forwardEvents, serveCalls } from '../../src/main/ipc.ts';
import { createApi, type PreloadIpc } from '../../src/main/preload-api.ts';
import { runShell, type ShellElectron } from '../../src/main/shell.ts';
import { connectStudio, type StudioProcess } from '../../src/main/studio-process.ts';
import { CALL_CHANNEL, EVENT_CHANNEL } from '../../src/protocol/desktop.ts';
import type { StudioEvent } from '../../src/protocol/studio.ts';
import {
  FakeApp,
  FakeIpcMain,
  FakeIpcRenderer,
  FakeSession,
  FakeWebContents,
  FakeWindow,
} from './fakes.ts';

const ORIGIN = 'http://127.0.0.1:7420';
type IpcMainArg = Parameters<typeof serveCalls>[0];

async function waitFor(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A studio RPC that answers a few calls as the real one does, and pushes events on demand. */
class FakeRpc {
  readonly server: Server = createServer();
  readonly wss = new WebSocketServer({ server: this.server, path: '/ws' });
  readonly requests: { method: string }[] = [];
  url = '';

  constructor() {
    this.wss.on('connection', (ws: WebSocket) => {
      ws.on('message', (raw) => {
        const req = JSON.parse(String(raw)) as { id: number; method: string };
        this.requests.push(req);
        const answer = (body: object) => ws.send(JSON.stringify({ id: req.id, ...body }));
        if (req.method === 'start') answer({ ok: true, result: true });
        else if (req.method === 'mode') {
          answer({ ok: false, error: 'mode command refused: in e-stop' });
        } else if (req.method === 'status') answer({ ok: true, result: { mode: 'flying' } });
        else answer({ ok: false, error: `no ${req.method}` });
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/ws`;
  }

  push(event: unknown): void {
    for (const ws of this.wss.clients) ws.send(JSON.stringify(event));
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise((r) => this.wss.close(r));
    await new Promise((r) => this.server.close(r));
  }
}

/** The page's side: the preload's bridge over `ipc`, and the renderer's client over that. */
function page(ipcMain: FakeIpcMain, url: string) {
  const ipc = new FakeIpcRenderer();
  ipc.answer = (channel, payload) => ipcMain.invoke(channel, url, payload);
  const client = new IpcStudioClient(createApi(ipc as unknown as PreloadIpc, () => {}));
  return { ipc, client };
}

/** Whatever main sends to `contents` reaches the page's ipcRenderer, as Electron delivers it. */
function deliverTo(contents: FakeWebContents, ipc: FakeIpcRenderer): void {
  const send = contents.send.bind(contents);
  contents.send = (channel, payload) => {
    send(channel, payload);
    ipc.emit(channel, {}, payload);
  };
}

describe('the main process forwards the window’s calls and the studio’s events over IPC', () => {
  const rpc = new FakeRpc();
  let link: StudioClient;
  before(async () => {
    await rpc.listen();
    link = await connectStudio(rpc.url);
  });
  after(async () => {
    link.close();
    await rpc.close();
  });

  it('a call from the page reaches the studio over the link; its answer comes back', async () => {
    const ipcMain = new FakeIpcMain();
    const stop = serveCalls(ipcMain as unknown as IpcMainArg, link, ORIGIN);
    const { client } = page(ipcMain, `${ORIGIN}/#live`);
    try {
      assert.equal(await client.start(), true);
      await assert.rejects(
        client.mode({ type: 'reset', origin: 'ui' }),
        /^Error: mode command refused: in e-stop$/,
      );
      // The studio's answer passes main untouched; the page's client parses it.
      await assert.rejects(client.status(), /^Error: status: unexpected answer: .*runId/s);
      assert.deepEqual(
        rpc.requests.slice(-3).map((r) => r.method),
        ['start', 'mode', 'status'],
      );
    } finally {
      client.close();
      stop();
    }
  });

  it('a page of another origin gets nothing through', async () => {
    const ipcMain = new FakeIpcMain();
    const stop = serveCalls(ipcMain as unknown as IpcMainArg, link, ORIGIN);
    const { client } = page(ipcMain, 'https://evil.example/');
    const before = rpc.requests.length;
    try {
      await assert.rejects(client.start(), /calls are taken only from the studio page/);
      assert.equal(rpc.requests.length, before);
    } finally {
      client.close();
      stop();
    }
  });

  it('the studio’s events reach the page’s listeners, parsed, while the page lives', async () => {
    const ipcMain = new FakeIpcMain();
    const contents = new FakeWebContents();
    const { ipc, client } = page(ipcMain, `${ORIGIN}/`);
    deliverTo(contents, ipc);
    const off = forwardEvents(link, contents);
    const got: StudioEvent[] = [];
    client.on((e) => got.push(e));
    const warn = mock.method(console, 'warn', () => undefined);
    try {
      rpc.push({ event: 'policy', data: { version: 7 } });
      // Not an event the studio sends: dropped on the link, never forwarded.
      rpc.push({ event: 'policy', data: { version: 'seven' } });
      rpc.push({ event: 'alarm', data: { message: 'stale operator input', at: 12 } });
      await waitFor('two events on the page', () => got.length >= 2);
      assert.deepEqual(got, [
        { event: 'policy', data: { version: 7 } },
        { event: 'alarm', data: { message: 'stale operator input', at: 12 } },
      ]);
      assert.deepEqual(
        contents.sent.map(([channel]) => channel),
        [EVENT_CHANNEL, EVENT_CHANNEL],
      );
      contents.destroyed = true;
      rpc.push({ event: 'policy', data: { version: 8 } });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(contents.sent.length, 2, 'nothing sent to a destroyed page');
      assert.match(String(warn.mock.calls[0]?.arguments[0]), /unreadable event: .*version/s);
    } finally {
      warn.mock.restore();
      off();
      client.close();
    }
  });
});

describe('runShell opens one link to the studio, and the window uses it', () => {
  const rpc = new FakeRpc();
  before(() => rpc.listen());
  after(() => rpc.close());
  beforeEach(() => {
    FakeApp.lockHeld = false;
    FakeWindow.created = [];
  });

  it('the page’s calls and events go through the main process’s link; shutdown closes it', async () => {
    const app = new FakeApp();
    const ipcMain = new FakeIpcMain();
    const electron = {
      app,
      BrowserWindow: FakeWindow,
      ipcMain,
      session: { defaultSession: new FakeSession() },
    } as unknown as ShellElectron;
    let stopped = 0;
    const studio = {
      url: `${ORIGIN}/`,
      rpcUrl: rpc.url,
      exited: new Promise<number | null>(() => {}),
      stop: async () => (stopped++, 0),
    } as unknown as StudioProcess;
    const shell = await runShell(electron, {
      node: process.execPath,
      bin: '/app/bin/tandem.js',
      serveArgs: [],
      studioEnv: {},
      preload: '/app/dist/main/preload.cjs',
      log: () => {},
      startStudio: async () => studio,
    });
    assert.ok(shell);
    assert.equal(rpc.wss.clients.size, 1, 'one RPC connection: the main process’s link');
    const window = FakeWindow.created[0]!;
    const { ipc, client } = page(ipcMain, studio.url);
    deliverTo(window.webContents, ipc);
    const got: StudioEvent[] = [];
    client.on((e) => got.push(e));
    try {
      assert.equal(await client.start(), true);
      rpc.push({ event: 'policy', data: { version: 9 } });
      await waitFor('the event on the page', () => got.length === 1);
      assert.deepEqual(got, [{ event: 'policy', data: { version: 9 } }]);
      assert.ok(ipcMain.handlers.has(CALL_CHANNEL));
    } finally {
      client.close();
      await shell.shutdown();
    }
    assert.equal(stopped, 1);
    assert.equal(shell.link.state, 'closed');
    assert.equal(ipcMain.handlers.size, 0);
    await waitFor('the link to close', () => rpc.wss.clients.size === 0);
  });
});
