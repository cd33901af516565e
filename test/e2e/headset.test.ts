// The headset path end to end: `tandem serve` (human operator), the headset page (/xr) in headless
// Chromium with iwer emulating a Meta Quest 3 (docs/SETUP.md), paired with the code the studio
// shows, in an immersive session. The test moves the emulated right controller with the grip
// held and the trigger pressed, and checks where it lands: the sim's tool point (telemetry) and the
// steps in the SQLite file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { PairingStatus, SessionStatus } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import {
  assertChromium,
  connectRpc,
  ensureFreshRenderer,
  launchChromium,
  type RpcClient,
  startStudio,
  type StudioProcess,
  waitFor,
} from './harness.ts';

const SHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const IWER = createRequire(import.meta.url).resolve('iwer/build/iwer.min.js');
const GRIPPER = 14; // panda-lift observation: gripper.opening, then tcp.x, tcp.y, tcp.z
const TCP = 15;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Page-side code as plain JavaScript text (see harness.ts: tsx's keepNames breaks functions).
const INSTALL_IWER = `
  window.__xrDevice = new IWER.XRDevice(IWER.metaQuest3);
  window.__xrDevice.installRuntime({ forceInstall: true });
`;
// No gamepad can be plugged in here: a stand-in for the Gamepad API's one call the studio makes,
// a standard-mapping pad whose sticks and buttons the test sets through window.__pad.
const FAKE_GAMEPAD = `
  window.__pad = {
    connected: true, mapping: 'standard', id: 'test pad', index: 0,
    axes: [0, 0, 0, 0],
    buttons: Array.from({ length: 17 }, () => ({ value: 0, pressed: false, touched: false })),
  };
  window.__press = (i, on) => { window.__pad.buttons[i] = { value: on ? 1 : 0, pressed: on, touched: on }; };
  navigator.getGamepads = () => [window.__pad];
`;

describe('the headset page in headless Chromium with iwer', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-xr-e2e-'));
  let studio: StudioProcess | undefined;
  let rpc: RpcClient;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let page: Page;
  const errors: string[] = [];

  const status = () => rpc.result<SessionStatus>({ method: 'status' });
  const obs = () => page.evaluate('window.__tandemXr.obs()') as Promise<number[]>;
  const right = (js: string) => page.evaluate(`window.__xrDevice.controllers.right.${js}`);

  before(async () => {
    assertChromium();
    ensureFreshRenderer();
    studio = await startStudio(dir, ['--operator', 'human']);
    rpc = await connectRpc(studio.rpcUrl);
    browser = await launchChromium({ width: 1000, height: 700 });
    page = browser.page;
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
    await page.addInitScript({ path: IWER });
    await page.addInitScript({ content: INSTALL_IWER });
    mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    rpc?.close();
    await browser?.close();
    await studio?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pairs with the code the studio shows, enters immersive VR and takes control', async () => {
    await page.goto(`${studio!.url}xr`);
    await page.locator('#xr-pair').waitFor({ state: 'visible' });
    const wrong = await rpc.result<PairingStatus>({ method: 'pairing' });
    await page.fill('#xr-code', wrong.code === '000000' ? '111111' : '000000');
    await page.click('#xr-pair button');
    await waitFor('the wrong code refused', async () =>
      /wrong pairing code/.test((await page.textContent('#xr-pair-error')) ?? ''),
    );
    const { code } = await rpc.result<PairingStatus>({ method: 'pairing' });
    await page.fill('#xr-code', code);
    await page.click('#xr-pair button');
    await waitFor('the page in control', async () => {
      return (await page.evaluate('window.__tandemXr.hud().role')) === 'control';
    });
    const paired = await rpc.result<PairingStatus>({ method: 'pairing' });
    assert.equal(paired.paired.length, 1);
    assert.notEqual(paired.code, code, 'a code pairs one headset: it rotated');

    await waitFor('Enter VR enabled', () => page.isEnabled('#xr-enter'));
    await page.click('#xr-enter');
    await waitFor('an immersive session', async () => {
      return (await page.evaluate('document.body.dataset.xr')) === 'immersive';
    });
    assert.deepEqual(errors, []);
  });

  it('grip held + trigger: the tool point follows the controller and the gripper closes; steps are stored as intervened by a human with the policy proposals', async () => {
    // The policy drives first, so that it has weights and a proposal at every tick.
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'autonomous', origin: 'ui' },
    });
    await waitFor('the policy published', async () => (await status()).policyVersion > 0, 30_000);
    // A held on the controller: the headset takes over.
    await right(`position.set(0.2, 1.1, -0.3)`);
    await right(`updateButtonValue('a-button', 1)`);
    await waitFor(
      'intervention from the A button',
      async () => (await status()).mode === 'intervention',
    );
    await right(`updateButtonValue('squeeze', 1)`); // clutch: latch controller and tool point
    await sleep(400);
    const start = await obs();
    // 10 cm forward (−z) and 5 cm to the right (+x) with the trigger pressed: the tool point should
    // go 10 cm along the robot's +x and 5 cm along −y; the gripper closes.
    await right(`position.set(0.25, 1.1, -0.4)`);
    await right(`updateButtonValue('trigger', 1)`);
    await sleep(2500);
    const end = await obs();
    const moved = [0, 1, 2].map((i) => end[TCP + i]! - start[TCP + i]!);
    await page.screenshot({ path: join(SHOTS, 'headset.png') });
    assert.ok(Math.abs(moved[0]! - 0.1) < 0.015, `forward ${moved[0]} m, wanted 0.10`);
    assert.ok(Math.abs(moved[1]! + 0.05) < 0.015, `sideways ${moved[1]} m, wanted −0.05`);
    assert.ok(Math.abs(moved[2]!) < 0.015, `up ${moved[2]} m, wanted 0`);
    assert.ok(
      end[GRIPPER]! < start[GRIPPER]! - 0.01,
      `gripper ${start[GRIPPER]} → ${end[GRIPPER]}`,
    );
    const hud = (await page.evaluate('window.__tandemXr.hud()')) as {
      rttMs?: number;
      latencyMs?: number;
    };
    assert.ok(hud.rttMs !== undefined && hud.rttMs < 1000, `round trip shown: ${hud.rttMs}`);
    assert.ok(hud.latencyMs !== undefined, 'latency to the robot shown');

    // Hand back (A released), then read what was recorded.
    await right(`updateButtonValue('a-button', 0)`);
    await waitFor('handed back', async () => (await status()).mode === 'autonomous');
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'paused', origin: 'ui' },
    });
    const runId = (await status()).runId;
    await sleep(1500); // the recorder's batch reaches the file
    const store = Store.open(studio!.db, { readonly: true });
    try {
      const episode = store.listEpisodes({ runId })[0]!;
      const steps = store.readSteps(episode.id);
      const human = steps.filter((s) => s.intervened);
      assert.ok(human.length >= 20, `${human.length} intervened steps`);
      for (const s of human) {
        assert.equal(s.source, 'human');
        assert.ok(s.proposed !== null && s.proposed.length === 4, 'the policy proposal is stored');
      }
      assert.ok(
        human.some((s) => s.action[3]! > 0.5),
        'a gripper-close command was executed',
      );
      assert.ok(
        steps.some((s) => !s.intervened && s.source === 'policy'),
        'the policy drove before',
      );
    } finally {
      store.close();
    }
    assert.deepEqual(errors, []);
  });

  /** The newest episode's steps, from the SQLite file (read-only beside the running studio). */
  async function lastEpisodeSteps() {
    await sleep(1500); // the recorder's batch reaches the file
    const store = Store.open(studio!.db, { readonly: true });
    try {
      const runId = (await status()).runId;
      const episode = store.listEpisodes({ runId })[0]!;
      return store.readSteps(episode.id);
    } finally {
      store.close();
    }
  }

  it('the desktop shows the pairing code; its keyboard drives in BC-warmup (arrows, G)', async () => {
    await page.close(); // the headset goes: its stream must not compete with the keyboard
    const desk = await browser!.context.newPage();
    desk.on('pageerror', (err) => errors.push(`desk page error: ${err.message}`));
    await desk.addInitScript({ content: FAKE_GAMEPAD });
    page = desk;
    await desk.goto(studio!.url);
    const { code } = await rpc.result<PairingStatus>({ method: 'pairing' });
    await waitFor(
      'the pairing code shown',
      async () => (await desk.textContent('[data-testid="pairing-code"]')) === code,
    );
    assert.match((await desk.textContent('[data-testid="paired"]')) ?? '', /127\.0\.0\.1|::1/);
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
    });
    await waitFor(
      'BC-warmup on the page',
      async () =>
        (await desk.locator('[data-testid="mode"]').getAttribute('data-mode')) === 'bc-warmup',
    );
    // Entering BC-warmup ends the running episode; the demo episode begins after the auto-reset.
    await waitFor('a demo episode running', async () => (await status()).episode?.kind === 'demo');
    await desk.keyboard.press('g'); // close the gripper
    await desk.keyboard.down('ArrowLeft'); // +y in the robot's frame
    await sleep(1200);
    await desk.keyboard.up('ArrowLeft');
    await sleep(500);
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'paused', origin: 'ui' },
    });
    const steps = await lastEpisodeSteps();
    assert.ok(steps.length >= 10, `${steps.length} steps`);
    assert.ok(steps.every((s) => s.source === 'human'));
    const left = steps.filter((s) => s.action[1]! > 0.5);
    assert.ok(left.length >= 5, `${left.length} steps moving left`);
    assert.ok(
      left.every((s) => Math.abs(s.action[0]!) < 1e-6 && s.action[3] === 1),
      'only +y, gripper closed',
    );
    const y = (s: { obs: ArrayLike<number> }) => s.obs[TCP + 1]!;
    assert.ok(
      y(steps.at(-1)!) - y(steps[0]!) > 0.05,
      `moved ${y(steps.at(-1)!) - y(steps[0]!)} m in y`,
    );
    assert.match(
      (await desk.textContent('[data-testid="operator-timing"]')) ?? '',
      /no operator input|keyboard/,
    );
  });

  it('a gamepad: A held intervenes, the left stick drives, releasing A hands back', async () => {
    const desk = page;
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'autonomous', origin: 'ui' },
    });
    await waitFor('the pad seen', async () =>
      /connected/.test((await desk.textContent('[data-testid="gamepad"]')) ?? ''),
    );
    await desk.evaluate('window.__press(0, true)');
    await waitFor(
      'intervention from the pad',
      async () => (await status()).mode === 'intervention',
    );
    await desk.evaluate('window.__pad.axes[1] = -1'); // left stick full up: forward
    await sleep(1200);
    await desk.evaluate('window.__pad.axes[1] = 0; window.__press(0, false)');
    await waitFor('handed back', async () => (await status()).mode === 'autonomous');
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'paused', origin: 'ui' },
    });
    const steps = await lastEpisodeSteps();
    const pad = steps.filter((s) => s.intervened);
    assert.ok(pad.length >= 5, `${pad.length} intervened steps`);
    assert.ok(pad.every((s) => s.source === 'human'));
    assert.ok(pad.filter((s) => s.action[0]! > 0.5).length >= 5, 'driven forward');
    await desk.evaluate('window.__press(1, true)'); // B: e-stop
    await waitFor('e-stop from the pad', async () => (await status()).mode === 'e-stop');
    await desk.evaluate('window.__press(1, false)');
    await rpc.result({ method: 'mode', command: { type: 'reset', origin: 'ui' } });
    assert.deepEqual(errors, []);
  });

  it('the headset page without VR: a preview where the mouse is the right hand', async () => {
    await page.close(); // the desk's keyboard and pad step aside
    const preview = await browser!.context.newPage();
    preview.on('pageerror', (err) => errors.push(`preview page error: ${err.message}`));
    page = preview;
    await preview.goto(`${studio!.url}xr`);
    // Paired in the first test: the token is in this browser's storage, so it takes control.
    await waitFor('the preview in control', async () => {
      return (await preview.evaluate('window.__tandemXr.hud().role')) === 'control';
    });
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
    });
    await waitFor('a demo episode running', async () => (await status()).episode?.kind === 'demo');
    await sleep(300);
    const start = await obs();
    const box = (await preview.locator('#xr-canvas').boundingBox())!;
    const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
    await preview.mouse.move(x, y);
    await preview.mouse.down(); // grip: the clutch latches
    await sleep(300);
    await preview.mouse.move(x, y - 80, { steps: 8 }); // drag up: the hand 8 cm forward
    await sleep(2000);
    const end = await obs();
    await preview.mouse.up();
    const forward = end[TCP]! - start[TCP]!;
    assert.ok(Math.abs(forward - 0.08) < 0.015, `forward ${forward} m, wanted 0.08`);
    assert.ok(Math.abs(end[TCP + 1]! - start[TCP + 1]!) < 0.015, 'no sideways motion');
    assert.match((await preview.textContent('#xr-hud')) ?? '', /BC-WARMUP[\s\S]*in control/);
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'paused', origin: 'ui' },
    });
    assert.deepEqual(errors, []);
  });
});
