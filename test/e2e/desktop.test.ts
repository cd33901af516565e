// The studio page as the desktop window runs it, in headless Chromium (Electron cannot run on the
// build machines): a `window.tandem` bridge of the preload's shape, put on the page before it
// loads, forwards each call to the main process's handler (answerCall) over the main process's
// link (connectStudio) to `tandem serve`, and the link's events back to the page. The page must
// take the bridge and open no WebSocket of its own.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { StudioClient } from '../../renderer/api/client.ts';
import { answerCall } from '../../src/main/ipc.ts';
import { connectStudio } from '../../src/main/studio-process.ts';
import type { StudioEvent } from '../../src/protocol/studio.ts';
import {
  assertChromium,
  ensureFreshRenderer,
  launchChromium,
  startStudio,
  type StudioProcess,
  waitFor,
} from './harness.ts';

const byId = (id: string) => `[data-testid="${id}"]`;

/** The preload's bridge as the page sees it, over two functions the test exposes. */
const BRIDGE = `(() => {
  const listeners = new Set();
  window.__tandemEvents = [];
  window.__tandemEmit = (event) => {
    window.__tandemEvents.push(event.event);
    listeners.forEach((l) => l(event));
  };
  window.tandem = Object.freeze({
    async call(call) {
      const answer = await window.__tandemInvoke(call);
      if (!answer.ok) throw new Error(answer.error);
      return answer.result;
    },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  });
})();`;

describe('the studio page over the desktop bridge (headless Chromium)', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-e2e-desktop-'));
  let studio: StudioProcess | undefined;
  let link: StudioClient | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let page: Page;
  const errors: string[] = [];
  const sockets: string[] = [];
  const calls: string[] = [];

  before(async () => {
    assertChromium();
    ensureFreshRenderer();
    studio = await startStudio(dir, ['--operator', 'scripted']);
    link = await connectStudio(studio.rpcUrl);
    browser = await launchChromium();
    page = browser.page;
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.exposeFunction('__tandemInvoke', (call: { method?: string }) => {
      calls.push(String(call?.method));
      return answerCall(link!, call);
    });
    await page.addInitScript(BRIDGE);
    link.on((event: StudioEvent) => {
      if (event.event === 'telemetry' && event.data.tick % 5 !== 0) return;
      page
        .evaluate(
          (e) => (window as unknown as { __tandemEmit(e: unknown): void }).__tandemEmit(e),
          event,
        )
        .catch(() => undefined);
    });
  });

  after(async () => {
    link?.close();
    await browser?.close();
    const code = await studio?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (studio) assert.equal(code, 0, `tandem serve did not stop cleanly:\n${studio.output()}`);
  });

  it('takes the bridge: the studio shows up with no WebSocket from the page', async () => {
    await page.goto(studio!.url);
    await page.locator(byId('tab-live')).waitFor({ timeout: 15_000 });
    await waitFor('the mode label to say paused', async () => {
      return (await page.locator(byId('mode')).getAttribute('data-mode')) === 'paused';
    });
    await waitFor('the header to show the run', async () =>
      /run \d+/.test((await page.locator(byId('connection')).textContent()) ?? ''),
    );
    assert.ok(calls.includes('status'), `status went over the bridge: ${calls.join(', ')}`);
    assert.deepEqual(sockets, [], 'the page opened no WebSocket');
    assert.deepEqual(errors, []);
  });

  it('a mode button drives the studio through the bridge; its events come back', async () => {
    const mode = async () => (await page.locator(byId('mode')).getAttribute('data-mode')) ?? '';
    const events = () =>
      page.evaluate(() => (window as unknown as { __tandemEvents: string[] }).__tandemEvents);
    await page.locator(byId('mode-bc-warmup')).click();
    await waitFor(
      'the studio in bc-warmup',
      async () => (await link!.status()).mode === 'bc-warmup',
    );
    await waitFor('the mode label to say bc-warmup', async () => (await mode()) === 'bc-warmup');
    await waitFor('a mode event and telemetry on the page', async () => {
      const got = await events();
      return got.includes('mode') && got.includes('telemetry');
    });
    await page.locator(byId('mode-pause')).click();
    await waitFor('the studio to pause', async () => (await link!.status()).mode === 'paused');
    await waitFor('the mode label to say paused', async () => (await mode()) === 'paused');
    assert.ok(calls.includes('mode'));
    assert.deepEqual(sockets, []);
    assert.deepEqual(errors, []);
  });
});
