import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  claimSingleInstance,
  createMainWindow,
  type WindowFactory,
} from '../../src/main/window.ts';
import { FakeApp, FakeWindow, navigation } from './fakes.ts';

type AppArg = Parameters<typeof claimSingleInstance>[0];

describe('the studio window', () => {
  beforeEach(() => {
    FakeWindow.created = [];
    FakeApp.lockHeld = false;
  });

  it('is created with the secure options, guarded, loaded and shown', async () => {
    const window = await createMainWindow(
      { BrowserWindow: FakeWindow } as unknown as WindowFactory,
      {
        url: 'http://127.0.0.1:7420/',
        preload: '/app/dist/main/preload.cjs',
      },
    );
    const fake = window as unknown as FakeWindow;
    assert.equal(FakeWindow.created.length, 1);
    const prefs = fake.options.webPreferences!;
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(prefs.preload, '/app/dist/main/preload.cjs');
    assert.equal(fake.options.show, false, 'shown only once painted');
    assert.equal(fake.loaded, 'http://127.0.0.1:7420/');
    assert.equal(fake.shown, true);
    const away = navigation('https://example.com/');
    fake.webContents.emit('will-navigate', away);
    assert.equal(away.prevented, true);
  });

  it('single instance: a second one quits and the first comes to the front', () => {
    const window = new FakeWindow({});
    window.minimized = true;
    const first = new FakeApp();
    assert.equal(
      claimSingleInstance(first as unknown as AppArg, () => window),
      true,
    );
    assert.equal(first.quitCalls, 0);

    const second = new FakeApp();
    assert.equal(
      claimSingleInstance(second as unknown as AppArg, () => undefined),
      false,
    );
    assert.equal(second.quitCalls, 1, 'the second instance quits');
    assert.equal(second.count('second-instance'), 0);

    // Electron tells the first instance about the second.
    first.emit('second-instance', {}, ['electron', '.'], '/home');
    assert.equal(window.minimized, false, 'restored');
    assert.equal(window.shown, true);
    assert.equal(window.focused, true);
  });

  it('a second instance before the window exists, or after it closed, changes nothing', () => {
    const first = new FakeApp();
    const current: { window?: FakeWindow } = {};
    claimSingleInstance(first as unknown as AppArg, () => current.window);
    first.emit('second-instance');
    const closed = new FakeWindow({});
    closed.destroyed = true;
    current.window = closed;
    first.emit('second-instance');
    assert.equal(closed.focused, false);
  });
});
