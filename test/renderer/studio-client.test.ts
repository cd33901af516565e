// The renderer's StudioClient: which one the page picks (the preload's bridge on window, or the
// WebSocket RPC), and the IPC one's round trip over a fake of the bridge.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it, mock } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StudioClient } from '../../renderer/api/client.ts';
import {
  createStudioClient,
  desktopBridge,
  isDesktopApp,
} from '../../renderer/api/create-client.ts';
import { IpcStudioClient } from '../../renderer/api/ipc-client.ts';
import { type WebSocketLike, WsStudioClient } from '../../renderer/api/ws-client.ts';
import type { DesktopBridge } from '../../src/protocol/desktop.ts';
import type { StudioCall, StudioEvent } from '../../src/protocol/studio.ts';

/** The preload's `window.tandem` as the page sees it: calls recorded, events pushed by `emit`. */
function fakeBridge(answer: (call: StudioCall) => unknown = () => null) {
  const listeners = new Set<(event: StudioEvent) => void>();
  const bridge = {
    calls: [] as StudioCall[],
    answer,
    async call(call: StudioCall): Promise<unknown> {
      bridge.calls.push(call);
      return bridge.answer(call);
    },
    on(listener: (event: StudioEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** An event as it crosses the bridge: anything, as far as the page can tell. */
    emit(event: unknown): void {
      for (const listener of listeners) listener(event as StudioEvent);
    },
    listeners: () => listeners.size,
  };
  return bridge;
}

/** A WebSocket that never connects (the WS branch of the choice, without a network). */
class IdleSocket implements WebSocketLike {
  static opened: string[] = [];
  readonly readyState = 0;
  onopen = null;
  onclose = null;
  onerror = null;
  onmessage = null;
  constructor(url: string) {
    IdleSocket.opened.push(url);
  }
  send(): void {}
  close(): void {}
}

describe('the renderer picks its StudioClient by the preload bridge', () => {
  it('IPC when the bridge object is on window', () => {
    const bridge = fakeBridge();
    const window = { tandem: bridge };
    assert.equal(isDesktopApp(window), true);
    assert.equal(desktopBridge(window), bridge);
    const client = createStudioClient(window, { WebSocket: IdleSocket });
    try {
      assert.ok(client instanceof IpcStudioClient);
      assert.equal(client.state, 'open');
      assert.deepEqual(IdleSocket.opened, [], 'no WebSocket in the desktop app');
    } finally {
      client.close();
    }
  });

  it('WebSocket otherwise (no bridge, or something else under its name)', () => {
    for (const window of [{}, { tandem: undefined }, { tandem: {} }, { tandem: 'yes' }]) {
      assert.equal(isDesktopApp(window), false, JSON.stringify(window));
      IdleSocket.opened = [];
      const client = createStudioClient(window, {
        url: 'ws://127.0.0.1:9/ws',
        WebSocket: IdleSocket,
      });
      try {
        assert.ok(client instanceof WsStudioClient);
        assert.deepEqual(IdleSocket.opened, ['ws://127.0.0.1:9/ws']);
      } finally {
        client.close();
      }
    }
  });

  it('in Node (no window.tandem) there is no desktop bridge', () => {
    assert.equal(isDesktopApp(), false);
  });
});

describe('IpcStudioClient over the preload bridge', () => {
  const client = (bridge: DesktopBridge): StudioClient => new IpcStudioClient(bridge);

  it('a call goes over the bridge and its answer comes back parsed', async () => {
    const bridge = fakeBridge((call) =>
      call.method === 'mode' ? { ok: true, from: 'paused', to: 'autonomous' } : true,
    );
    const studio = client(bridge);
    try {
      await studio.whenOpen();
      const answer = await studio.mode({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
      assert.deepEqual(answer, { ok: true, from: 'paused', to: 'autonomous' });
      assert.equal(await studio.start(), true);
      assert.deepEqual(bridge.calls, [
        { method: 'mode', command: { type: 'set-mode', mode: 'autonomous', origin: 'ui' } },
        { method: 'start' },
      ]);
    } finally {
      studio.close();
    }
  });

  it('a refused call rejects with the studio’s reason', async () => {
    const bridge = fakeBridge(() => {
      throw new Error('mode command refused: in e-stop');
    });
    const studio = client(bridge);
    try {
      await assert.rejects(
        studio.mode({ type: 'reset', origin: 'ui' }),
        /^Error: mode command refused: in e-stop$/,
      );
    } finally {
      studio.close();
    }
  });

  it('a malformed answer is rejected with an error naming the method and the field', async () => {
    const bridge = fakeBridge((call) =>
      call.method === 'mode' ? { ok: true, from: 'paused', to: 'flying' } : { mode: 'paused' },
    );
    const studio = client(bridge);
    try {
      await assert.rejects(
        studio.mode({ type: 'set-mode', mode: 'autonomous', origin: 'ui' }),
        /^Error: mode: unexpected answer: .*→ at to/s,
      );
      await assert.rejects(studio.status(), /^Error: status: unexpected answer: .*runId/s);
    } finally {
      studio.close();
    }
  });

  it('events are delivered parsed; unreadable ones are dropped with a warning', () => {
    const warn = mock.method(console, 'warn', () => undefined);
    const bridge = fakeBridge();
    const studio = client(bridge);
    const got: StudioEvent[] = [];
    const off = studio.on((e) => got.push(e));
    try {
      bridge.emit({ event: 'policy', data: { version: 4 } });
      bridge.emit({ event: 'policy', data: { version: 'four' } });
      bridge.emit({ event: 'telemetry', data: { tick: 'soon' } });
      assert.deepEqual(got, [{ event: 'policy', data: { version: 4 } }]);
      const warnings = warn.mock.calls.map((c) => String(c.arguments[0]));
      assert.equal(warnings.length, 2, warnings.join('\n'));
      assert.match(warnings[0]!, /unreadable event: .*version/s);
      off();
      bridge.emit({ event: 'policy', data: { version: 5 } });
      assert.equal(got.length, 1, 'no events after the unsubscribe');
    } finally {
      warn.mock.restore();
      studio.close();
    }
  });

  it('close() stops listening to the bridge and rejects the calls still waiting', async () => {
    let answer: (value: unknown) => void = () => {};
    const bridge = fakeBridge(() => new Promise((resolve) => (answer = resolve)));
    const studio = client(bridge);
    const states: string[] = [];
    studio.onState((s) => states.push(s));
    assert.equal(bridge.listeners(), 1);
    const pending = studio.status();
    studio.close();
    await assert.rejects(pending, /the studio client was closed/);
    answer({ mode: 'paused' });
    assert.equal(bridge.listeners(), 0);
    assert.deepEqual(states, ['closed']);
    await assert.rejects(studio.start(), /the studio client is closed/);
    await assert.rejects(studio.whenOpen(), /closed/);
    assert.equal(bridge.calls.length, 1, 'nothing sent after close()');
  });
});

describe('the renderer reaches the studio only through renderer/api', () => {
  const RENDERER = fileURLToPath(new URL('../../renderer/', import.meta.url));
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name))
        : /\.tsx?$/.test(e.name)
          ? [join(dir, e.name)]
          : [],
    );
  const imports = (file: string): string[] =>
    [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^;]*? from '([^']+)';/gms)].map(
      (m) => m[1]!,
    );

  it('imports neither Electron, nor Node, nor src/ outside src/protocol', () => {
    const offenders = files(RENDERER).flatMap((file) =>
      imports(file)
        .filter(
          (name) =>
            name === 'electron' ||
            name === 'ws' ||
            name.startsWith('node:') ||
            (name.includes('/src/') && !/\/src\/protocol\/[\w-]+\.ts$/.test(name)),
        )
        .map((name) => `${relative(RENDERER, file)}: ${name}`),
    );
    assert.deepEqual(offenders, []);
  });

  it('only renderer/api makes a client (the headset page’s own WebSocket aside)', () => {
    const makers = files(RENDERER)
      .filter((f) => /new (Ws|Ipc)StudioClient\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(RENDERER, f))
      .sort();
    assert.deepEqual(makers, ['api/create-client.ts', 'xr/main.ts']);
  });
});
