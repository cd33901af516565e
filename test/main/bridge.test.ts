// The preload bridge both ways: the preload's `window.tandem` (createApi/exposeApi) and the main
// process's handler (serveCalls/forwardEvents), each with fakes of the Electron objects, then
// joined end to end.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CALL_CHANNEL, EVENT_CHANNEL, type DesktopBridge } from '../../src/protocol/desktop.ts';
import { forwardEvents, serveCalls } from '../../src/main/ipc.ts';
import { createApi, exposeApi, type PreloadIpc } from '../../src/main/preload-api.ts';
import type { StudioCall, StudioEvent } from '../../src/protocol/studio.ts';
import { FakeContextBridge, FakeIpcMain, FakeIpcRenderer, FakeWebContents } from './fakes.ts';

const ORIGIN = 'http://127.0.0.1:7420';
type IpcMainArg = Parameters<typeof serveCalls>[0];
const policyEvent: StudioEvent = { event: 'policy', data: { version: 3 } };

describe('the preload', () => {
  it('exposes window.tandem = { call, on } and nothing else', () => {
    const bridge = new FakeContextBridge();
    exposeApi(bridge, new FakeIpcRenderer() as unknown as PreloadIpc);
    assert.deepEqual([...bridge.exposed.keys()], ['tandem']);
    const api = bridge.exposed.get('tandem') as DesktopBridge;
    assert.deepEqual(Object.keys(api).sort(), ['call', 'on']);
  });

  it('sends a valid call and returns the answer’s result', async () => {
    const ipc = new FakeIpcRenderer();
    ipc.answer = () => ({ ok: true, result: { mode: 'paused' } });
    const api = createApi(ipc as unknown as PreloadIpc);
    assert.deepEqual(await api.call({ method: 'status' }), { mode: 'paused' });
    assert.deepEqual(ipc.invoked, [[CALL_CHANNEL, { method: 'status' }]]);
  });

  it('refuses a malformed call before it leaves the page', async () => {
    const ipc = new FakeIpcRenderer();
    const api = createApi(ipc as unknown as PreloadIpc);
    const bad = [
      { method: 'shell', command: 'rm -rf /' },
      { method: 'mode', command: { type: 'set-mode', mode: 'turbo', origin: 'ui' } },
      { method: 'status', extra: true },
      { method: 'annotate', episodeId: -1 },
      'status',
    ];
    for (const call of bad) {
      await assert.rejects(api.call(call as unknown as StudioCall), /malformed call/);
    }
    assert.equal(ipc.invoked.length, 0);
  });

  it('checks the answer: a refusal rejects with its reason, a malformed answer is an error', async () => {
    const ipc = new FakeIpcRenderer();
    const api = createApi(ipc as unknown as PreloadIpc);
    ipc.answer = () => ({ ok: false, error: 'mode command refused: in e-stop' });
    await assert.rejects(api.call({ method: 'status' }), /mode command refused: in e-stop/);
    for (const answer of [undefined, { ok: true }, { ok: 'yes', result: 1 }, { result: 1 }]) {
      ipc.answer = () => answer;
      await assert.rejects(api.call({ method: 'status' }), /malformed answer/);
    }
  });

  it('passes valid events to listeners, drops malformed ones, unsubscribes', () => {
    const ipc = new FakeIpcRenderer();
    const warnings: string[] = [];
    const api = createApi(ipc as unknown as PreloadIpc, (m) => warnings.push(m));
    const got: StudioEvent[] = [];
    const off = api.on((e) => got.push(e));
    ipc.emit(EVENT_CHANNEL, {}, policyEvent);
    ipc.emit(EVENT_CHANNEL, {}, { event: 'policy', data: { version: 'x' } });
    ipc.emit(EVENT_CHANNEL, {}, { event: 'policy', data: {} });
    ipc.emit(EVENT_CHANNEL, {}, { event: 'exec', data: 'rm' });
    assert.deepEqual(got, [policyEvent]);
    assert.equal(warnings.length, 2, `one warning per kind: ${warnings.join(' | ')}`);
    off();
    assert.equal(ipc.count(EVENT_CHANNEL), 0);
    ipc.emit(EVENT_CHANNEL, {}, policyEvent);
    assert.equal(got.length, 1);
  });
});

describe('the main process’s side of the bridge', () => {
  const studio = (log: StudioCall[] = []) => ({
    async call(call: StudioCall) {
      log.push(call);
      if (call.method === 'mode') throw new Error('mode command refused: in e-stop');
      return call.method === 'status' ? { mode: 'paused' } : undefined;
    },
  });

  it('answers calls from the studio page only, validated by StudioCall', async () => {
    const ipcMain = new FakeIpcMain();
    const calls: StudioCall[] = [];
    const stop = serveCalls(ipcMain as unknown as IpcMainArg, studio(calls), ORIGIN);
    const page = `${ORIGIN}/`;
    assert.deepEqual(await ipcMain.invoke(CALL_CHANNEL, page, { method: 'status' }), {
      ok: true,
      result: { mode: 'paused' },
    });
    assert.deepEqual(await ipcMain.invoke(CALL_CHANNEL, page, { method: 'start' }), {
      ok: true,
      result: null,
    });
    const refused = await ipcMain.invoke(CALL_CHANNEL, page, {
      method: 'mode',
      command: { type: 'e-stop', origin: 'ui' },
    });
    assert.deepEqual(refused, { ok: false, error: 'mode command refused: in e-stop' });
    const malformed = (await ipcMain.invoke(CALL_CHANNEL, page, { method: 'nope' })) as {
      ok: boolean;
      error: string;
    };
    assert.equal(malformed.ok, false);
    assert.match(malformed.error, /^malformed call: /);
    for (const [url, child] of [
      ['https://evil.example/', false],
      ['http://127.0.0.1:9999/', false],
      [page, true],
    ] as const) {
      const answer = (await ipcMain.invoke(CALL_CHANNEL, url, { method: 'status' }, child)) as {
        ok: boolean;
      };
      assert.equal(answer.ok, false, `${url}${child ? ' (iframe)' : ''} is refused`);
    }
    assert.deepEqual(
      calls.map((c) => c.method),
      ['status', 'start', 'mode'],
      'refused and malformed calls never reach the studio',
    );
    stop();
    assert.equal(ipcMain.handlers.size, 0);
  });

  it('forwards studio events to the page while it lives', () => {
    let emit: (e: StudioEvent) => void = () => {};
    const contents = new FakeWebContents();
    const off = forwardEvents(
      {
        on(listener) {
          emit = listener;
          return () => (emit = () => {});
        },
      },
      contents,
    );
    emit(policyEvent);
    contents.destroyed = true;
    emit(policyEvent);
    assert.deepEqual(contents.sent, [[EVENT_CHANNEL, policyEvent]]);
    off();
  });

  it('end to end: preload → main → studio → preload', async () => {
    const ipcMain = new FakeIpcMain();
    serveCalls(ipcMain as unknown as IpcMainArg, studio(), ORIGIN);
    const ipc = new FakeIpcRenderer();
    ipc.answer = (channel, payload) => ipcMain.invoke(channel, `${ORIGIN}/`, payload);
    const api = createApi(ipc as unknown as PreloadIpc);
    assert.deepEqual(await api.call({ method: 'status' }), { mode: 'paused' });
    await assert.rejects(
      api.call({ method: 'mode', command: { type: 'e-stop', origin: 'ui' } }),
      /in e-stop/,
    );
  });
});
