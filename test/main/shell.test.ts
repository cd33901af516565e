// The shell put together (runShell) with fake Electron objects and a fake studio process; the
// studio process and its RPC link with real child processes and a real WebSocket server.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import type { StudioClient } from '../../renderer/api/client.ts';
import {
  runShell,
  type ShellElectron,
  shellOptionsFromEnv,
  unpackedRoot,
} from '../../src/main/shell.ts';
import {
  connectStudio,
  parseAddresses,
  type StudioProcess,
  type StudioProcessOptions,
  startStudioProcess,
} from '../../src/main/studio-process.ts';
import { CALL_CHANNEL, EVENT_CHANNEL } from '../../src/protocol/desktop.ts';
import type { StudioCall, StudioEvent } from '../../src/protocol/studio.ts';
import { FakeApp, FakeIpcMain, FakeSession, FakeWindow } from './fakes.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const URL_LINE = 'tandem studio: http://127.0.0.1:7420/  (db /tmp/x.db; Ctrl-C to stop)';
const RPC_LINE = '  wasm backend; RPC ws://127.0.0.1:7420/ws';

function fakeStudio() {
  let resolveExit: (code: number | null) => void = () => {};
  const exited = new Promise<number | null>((r) => (resolveExit = r));
  const studio = {
    url: 'http://127.0.0.1:7420/',
    rpcUrl: 'ws://127.0.0.1:7420/ws',
    child: undefined as never,
    exited,
    stops: 0,
    async stop(): Promise<number> {
      studio.stops++;
      resolveExit(0);
      return 0;
    },
    crash: (code: number): void => resolveExit(code),
  };
  return studio;
}

function fakeLink() {
  const listeners = new Set<(e: StudioEvent) => void>();
  const link = {
    calls: [] as StudioCall[],
    closed: false,
    async call(call: StudioCall): Promise<unknown> {
      link.calls.push(call);
      return { mode: 'paused' };
    },
    on(listener: (e: StudioEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit: (e: StudioEvent): void => listeners.forEach((l) => l(e)),
    close(): void {
      link.closed = true;
    },
  };
  return link;
}

function fakeElectron() {
  const app = new FakeApp();
  const session = new FakeSession();
  const ipcMain = new FakeIpcMain();
  const electron = {
    app,
    BrowserWindow: FakeWindow,
    ipcMain,
    session: { defaultSession: session },
  } as unknown as ShellElectron;
  return { electron, app, session, ipcMain };
}

const options = {
  node: '/usr/bin/node',
  bin: '/app/bin/tandem.js',
  serveArgs: ['--operator', 'scripted'],
  studioEnv: {},
  preload: '/app/dist/main/preload.cjs',
  log: () => {},
};

describe('runShell: the desktop studio put together (fake Electron)', () => {
  beforeEach(() => {
    FakeApp.lockHeld = false;
    FakeWindow.created = [];
  });

  it('starts the studio, sets CSP and IPC, opens the secure window on the studio', async () => {
    const { electron, app, session, ipcMain } = fakeElectron();
    const studio = fakeStudio();
    const link = fakeLink();
    let started: unknown;
    const shell = await runShell(electron, {
      ...options,
      startStudio: async (opts) => {
        started = opts;
        return studio as unknown as StudioProcess;
      },
      connect: async (url) => {
        assert.equal(url, studio.rpcUrl);
        return link as unknown as StudioClient;
      },
    });
    assert.ok(shell);
    assert.ok(app.hasLock);
    assert.deepEqual((started as { args: string[]; node: string }).args, [
      '--operator',
      'scripted',
    ]);
    const csp = session.respond({})?.['Content-Security-Policy'];
    assert.match(String(csp), /connect-src 'self' ws:\/\/127\.0\.0\.1:7420/);
    assert.ok(session.permissionCheck && !session.permissionCheck());

    assert.equal(FakeWindow.created.length, 1);
    const window = FakeWindow.created[0]!;
    assert.equal(window.loaded, studio.url);
    assert.equal(window.options.webPreferences?.sandbox, true);
    assert.equal(window.options.webPreferences?.contextIsolation, true);
    assert.equal(window.options.webPreferences?.nodeIntegration, false);

    // The page's calls reach the studio; the studio's events reach the page.
    assert.deepEqual(await ipcMain.invoke(CALL_CHANNEL, studio.url, { method: 'status' }), {
      ok: true,
      result: { mode: 'paused' },
    });
    link.emit({ event: 'policy', data: { version: 1 } });
    assert.deepEqual(window.webContents.sent, [
      [EVENT_CHANNEL, { event: 'policy', data: { version: 1 } }],
    ]);

    // Closing the window stops the studio and quits.
    app.emit('window-all-closed');
    await shell.shutdown();
    assert.equal(studio.stops, 1);
    assert.equal(link.closed, true);
    assert.equal(app.quitCalls, 1);
    assert.equal(ipcMain.handlers.size, 0);
  });

  it('a second instance starts nothing and quits; the first one’s window comes forward', async () => {
    const first = fakeElectron();
    const studio = fakeStudio();
    await runShell(first.electron, {
      ...options,
      startStudio: async () => studio as unknown as StudioProcess,
      connect: async () => fakeLink() as unknown as StudioClient,
    });
    const window = FakeWindow.created[0]!;
    window.minimized = true;

    const second = fakeElectron();
    let started = false;
    const shell = await runShell(second.electron, {
      ...options,
      startStudio: async () => {
        started = true;
        return fakeStudio() as unknown as StudioProcess;
      },
    });
    assert.equal(shell, undefined);
    assert.equal(started, false);
    assert.equal(second.app.quitCalls, 1);
    first.app.emit('second-instance');
    assert.equal(window.focused, true);
    assert.equal(window.minimized, false);
  });

  it('the studio ending on its own closes the app', async () => {
    const { electron, app } = fakeElectron();
    const studio = fakeStudio();
    const logged: string[] = [];
    await runShell(electron, {
      ...options,
      log: (m) => logged.push(m),
      startStudio: async () => studio as unknown as StudioProcess,
      connect: async () => fakeLink() as unknown as StudioClient,
    });
    studio.crash(1);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(app.quitCalls, 1);
    assert.match(logged.join('\n'), /exit code 1/);
  });

  it('starts the studio with the settings’ Node, bin, flags and extra environment', async () => {
    const { electron } = fakeElectron();
    let started: StudioProcessOptions | undefined;
    await runShell(electron, {
      ...options,
      node: '/opt/Tandem/tandem',
      bin: '/opt/Tandem/resources/app/bin/tandem.js',
      studioEnv: { ELECTRON_RUN_AS_NODE: '1' },
      startStudio: async (opts) => {
        started = opts;
        return fakeStudio() as unknown as StudioProcess;
      },
      connect: async () => fakeLink() as unknown as StudioClient,
    });
    assert.equal(started?.node, '/opt/Tandem/tandem');
    assert.equal(started?.bin, '/opt/Tandem/resources/app/bin/tandem.js');
    assert.deepEqual(started?.args, ['--operator', 'scripted']);
    assert.deepEqual(started?.env, { ELECTRON_RUN_AS_NODE: '1' });
  });
});

describe('shellOptionsFromEnv: where the studio process comes from', () => {
  const dev = { packaged: false, execPath: '/usr/lib/electron/electron', appRoot: '/w/tandem' };
  const packaged = {
    packaged: true,
    execPath: '/opt/Tandem/tandem',
    appRoot: '/opt/Tandem/resources/app',
  };

  it('takes its settings from the environment tandem start sets', () => {
    const opts = shellOptionsFromEnv(
      { TANDEM_NODE: '/n', TANDEM_BIN: '/b', TANDEM_SERVE_ARGS: '["--port","0"]' },
      '/p.cjs',
      dev,
    );
    assert.deepEqual(opts, {
      node: '/n',
      bin: '/b',
      serveArgs: ['--port', '0'],
      preload: '/p.cjs',
      studioEnv: {},
    });
    assert.throws(
      () =>
        shellOptionsFromEnv(
          { TANDEM_NODE: '/n', TANDEM_BIN: '/b', TANDEM_SERVE_ARGS: '[1]' },
          '',
          dev,
        ),
      /JSON array of strings/,
    );
  });

  it('not packaged and started without tandem start: says to use tandem start', () => {
    assert.throws(
      () => shellOptionsFromEnv({}, '/p.cjs', dev),
      /start the desktop studio with `tandem start` \(TANDEM_NODE, TANDEM_BIN unset\)/,
    );
    assert.throws(() => shellOptionsFromEnv({ TANDEM_NODE: '/n' }, '/p.cjs', dev), /tandem start/);
  });

  it('packaged: runs the app’s bin/tandem.js on Electron’s own binary as Node', () => {
    const opts = shellOptionsFromEnv(
      {},
      '/opt/Tandem/resources/app/dist/main/preload.cjs',
      packaged,
    );
    assert.deepEqual(opts, {
      node: '/opt/Tandem/tandem',
      bin: '/opt/Tandem/resources/app/bin/tandem.js',
      serveArgs: [],
      preload: '/opt/Tandem/resources/app/dist/main/preload.cjs',
      studioEnv: { ELECTRON_RUN_AS_NODE: '1' },
    });
    // TANDEM_SERVE_ARGS still applies.
    assert.deepEqual(
      shellOptionsFromEnv({ TANDEM_SERVE_ARGS: '["--port","0"]' }, '', packaged).serveArgs,
      ['--port', '0'],
    );
  });

  it('packaged in an asar archive: bin/tandem.js is the unpacked one', () => {
    const archived = { ...packaged, appRoot: '/opt/Tandem/resources/app.asar' };
    const opts = shellOptionsFromEnv({}, '', archived);
    assert.equal(opts.bin, '/opt/Tandem/resources/app.asar.unpacked/bin/tandem.js');
    assert.equal(opts.node, '/opt/Tandem/tandem');
    assert.deepEqual(opts.studioEnv, { ELECTRON_RUN_AS_NODE: '1' });
    assert.equal(unpackedRoot('/opt/Tandem/resources/app'), '/opt/Tandem/resources/app');
    assert.equal(unpackedRoot('/r/app.asar'), '/r/app.asar.unpacked');
  });

  it('TANDEM_NODE and TANDEM_BIN win, packaged or not', () => {
    const env = { TANDEM_NODE: '/usr/bin/node', TANDEM_BIN: '/w/tandem/bin/tandem.js' };
    for (const location of [dev, packaged]) {
      const opts = shellOptionsFromEnv(env, '/p.cjs', location);
      assert.equal(opts.node, '/usr/bin/node');
      assert.equal(opts.bin, '/w/tandem/bin/tandem.js');
      assert.deepEqual(opts.studioEnv, {});
    }
  });
});

describe('the studio process and its RPC link', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-main-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses the addresses tandem serve prints', () => {
    assert.equal(parseAddresses(URL_LINE), undefined);
    assert.deepEqual(parseAddresses(`${URL_LINE}\n  run 1: …\n${RPC_LINE}\n`), {
      url: 'http://127.0.0.1:7420/',
      rpcUrl: 'ws://127.0.0.1:7420/ws',
    });
  });

  it('starts the studio with the given Node, waits for its addresses, stops it with SIGINT', async () => {
    const bin = join(dir, 'fake-tandem.mjs');
    writeFileSync(
      bin,
      `if (process.argv[2] !== 'serve') process.exit(3);
process.on('SIGINT', () => process.exit(0));
console.log(${JSON.stringify(URL_LINE)});
setTimeout(() => console.log(${JSON.stringify(RPC_LINE)} + ' ' + process.argv.slice(3).join(' ')), 50);
setInterval(() => {}, 1000);`,
    );
    const studio = await startStudioProcess({
      node: process.execPath,
      bin,
      args: ['--port', '0'],
      echo: () => {},
    });
    assert.equal(studio.url, 'http://127.0.0.1:7420/');
    assert.equal(studio.rpcUrl, 'ws://127.0.0.1:7420/ws');
    assert.equal(await studio.stop(), 0);
  });

  it('gives the child its extra environment on top of this process’s', async () => {
    const bin = join(dir, 'env-tandem.mjs');
    writeFileSync(
      bin,
      `if (process.env.TANDEM_TEST_EXTRA !== 'yes' || !process.env.PATH) process.exit(4);
// The handler comes before the addresses: stop() may send SIGINT as soon as they are out.
process.on('SIGINT', () => process.exit(0));
console.log(${JSON.stringify(URL_LINE)});
console.log(${JSON.stringify(RPC_LINE)});
setInterval(() => {}, 1000);`,
    );
    const studio = await startStudioProcess({
      node: process.execPath,
      bin,
      args: [],
      env: { TANDEM_TEST_EXTRA: 'yes' },
      echo: () => {},
    });
    assert.equal(await studio.stop(), 0);
    assert.equal(process.env.TANDEM_TEST_EXTRA, undefined);
  });

  it('says why when the studio exits before serving', async () => {
    const bin = join(dir, 'failing-tandem.mjs');
    writeFileSync(bin, `console.error('tandem: the UI is not built'); process.exit(1);`);
    await assert.rejects(
      startStudioProcess({ node: process.execPath, bin, args: [], echo: () => {} }),
      /exited \(code 1\) before it served:\ntandem: the UI is not built/,
    );
  });

  it('the link calls the RPC and passes on its events', async () => {
    const server: Server = createServer();
    const wss = new WebSocketServer({ server, path: '/ws' });
    wss.on('connection', (ws) => {
      ws.on('message', (raw) => {
        const req = JSON.parse(String(raw)) as { id: number; method: string };
        if (req.method === 'status') {
          ws.send(JSON.stringify({ event: 'policy', data: { version: 2 } }));
          ws.send(JSON.stringify({ id: req.id, ok: true, result: { mode: 'paused' } }));
        } else ws.send(JSON.stringify({ id: req.id, ok: false, error: `no ${req.method}` }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    let link: StudioClient | undefined;
    try {
      link = await connectStudio(`ws://127.0.0.1:${port}/ws`);
      const events: StudioEvent[] = [];
      link.on((e) => events.push(e));
      assert.deepEqual(await link.call({ method: 'status' }), { mode: 'paused' });
      assert.deepEqual(events, [{ event: 'policy', data: { version: 2 } }]);
      await assert.rejects(link.call({ method: 'stop' }), /no stop/);
    } finally {
      link?.close();
      for (const ws of wss.clients) ws.terminate();
      await new Promise((r) => wss.close(r));
      await new Promise((r) => server.close(r));
    }
  });
});

describe('Electron stays inside Electron', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name))
        : e.name.endsWith('.ts')
          ? [join(dir, e.name)]
          : [],
    );

  it('only main.ts and preload.ts load the electron module', () => {
    const loaders = files(SRC)
      .filter((f) => /^import (?!type )[^;]*from 'electron';/m.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f))
      .sort();
    assert.deepEqual(loaders, ['main/main.ts', 'main/preload.ts']);
  });

  it('no code outside src/main imports it statically', () => {
    const offenders = files(SRC)
      .filter((f) => !relative(SRC, f).startsWith('main/'))
      .filter((f) => /^import [^;]*from '[./]*\/main\//m.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    assert.deepEqual(offenders, []);
  });
});
