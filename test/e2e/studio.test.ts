// The studio UI end to end: `tandem serve --operator scripted` in a child process, the built
// renderer in headless Debian Chromium (playwright-core, SwiftShader WebGL; docs/SETUP.md).
// What the UI does is checked where it lands: the studio's RPC `status`, and the SQLite file
// (events, episodes) opened read-only beside the running studio. Screenshots go to
// docs/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import type { Episode } from '../../src/protocol/episode.ts';
import type { ModeEvent } from '../../src/protocol/modes.ts';
import type { SessionStatus } from '../../src/protocol/studio.ts';
import { Store } from '../../src/store/index.ts';
import {
  assertChromium,
  connectRpc,
  ensureFreshRenderer,
  launchChromium,
  PixelReader,
  type RpcClient,
  startStudio,
  type StudioProcess,
  waitFor,
} from './harness.ts';

const SHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byId = (id: string) => `[data-testid="${id}"]`;

describe('the studio UI in headless Chromium against tandem serve', { timeout: 150_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-e2e-'));
  let studio: StudioProcess | undefined;
  let rpc: RpcClient;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let page: Page;
  let pixels: PixelReader;
  let runId: number;
  /** Console errors and uncaught page errors, from the first load on. */
  const errors: string[] = [];

  const status = () => rpc.result<SessionStatus>({ method: 'status' });
  /** Waits until the studio reports `mode` (polled fast: the scripted operator may take over). */
  const studioMode = (mode: string, cause: string) =>
    waitFor(`mode ${mode} after ${cause}`, async () => (await status()).mode === mode, 5_000, 25);
  /** The live mode bar's mode (its data-mode attribute). */
  const label = async () => (await page.locator(byId('mode')).getAttribute('data-mode')) ?? '';
  const blur = () =>
    page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
    });
  /** The 3D canvas shown now (the live view's or the review's). */
  const canvas = (): Locator => page.locator(`${byId('scene-canvas')}:visible`).first();
  const sceneFrames = () => page.evaluate(() => window.__tandemScene?.frames ?? 0);

  before(async () => {
    assertChromium();
    ensureFreshRenderer();
    studio = await startStudio(dir, ['--operator', 'scripted']);
    rpc = await connectRpc(studio.rpcUrl);
    runId = (await status()).runId;
    browser = await launchChromium();
    page = browser.page;
    page.on('console', (msg) => {
      if (msg.type() === 'error') {
        const where = msg.location().url;
        errors.push(`console: ${msg.text()}${where ? ` (${where})` : ''}`);
      }
    });
    page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
    pixels = await PixelReader.open(browser.context);
    await page.bringToFront(); // the studio's page renders in front of the pixel helper's
    mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    rpc?.close();
    await browser?.close();
    const code = await studio?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (studio) assert.equal(code, 0, `tandem serve did not stop cleanly:\n${studio.output()}`);
  });

  it('loads with no console errors and shows the paused studio', async () => {
    await page.goto(studio!.url);
    await page.locator(byId('tab-live')).waitFor({ timeout: 15_000 });
    await waitFor('the mode label to say paused', async () => (await label()) === 'paused');
    await sleep(1500); // telemetry streams into the page meanwhile
    assert.deepEqual(errors, [], 'no console errors on load');
  });

  it('draws the robot in the 3D view (pixels, not just no error)', async () => {
    await canvas().waitFor({ timeout: 10_000 });
    await waitFor(
      'the scene to draw its meshes',
      () =>
        page.evaluate(() => {
          const scene = window.__tandemScene;
          return scene !== undefined && scene.frames > 0 && scene.meshes > 0;
        }),
      20_000,
    );
    // It draws on demand: dragging orbits the camera, and every move draws a frame.
    const f0 = await sceneFrames();
    const box = (await canvas().boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    await page.mouse.down();
    for (let i = 1; i <= 5; i++) {
      await page.mouse.move(box.x + box.width * 0.5 + 12 * i, box.y + box.height * 0.5);
      await sleep(50);
    }
    await page.mouse.up();
    await waitFor('the orbiting camera to draw frames', async () => (await sceneFrames()) > f0);
    await sleep(300);

    const shot = await canvas().screenshot();
    const stats = await pixels.analyse(shot);
    assert.ok(
      stats.nonBackground >= 0.03 && stats.colours >= 16,
      `the canvas shows a shaded scene, not its clear colour: ${JSON.stringify(stats)}`,
    );
  });

  it('mode buttons and keys change the studio mode (RPC status and the events table)', async () => {
    const click = async (id: string) => {
      await page.locator(byId(id)).click();
      await blur(); // keys go to the window, not to a focused button
    };
    // 'paused' and 'e-stop' hold until the next command, so the page's label must say them too.
    const stable = async (mode: string, cause: string) => {
      await studioMode(mode, cause);
      await waitFor(`the mode label to say ${mode}`, async () => (await label()) === mode);
    };

    await click('mode-bc-warmup');
    await studioMode('bc-warmup', 'the BC-warmup button');
    await sleep(3000); // the expert drives: a demonstration is being recorded
    await page.screenshot({ path: join(SHOTS, 'live.png') }); // the arm moving, its trail, arrows
    await click('mode-autonomous'); // ends the demonstration episode
    await studioMode('autonomous', 'the autonomous button');

    // S, F and R end the running episode with the operator's word (the next starts 1 s later).
    const commands = () =>
      readEvents('episode.command').map((e) => (e.payload as { command: string }).command);
    for (const [key, command] of [
      ['s', 'success'],
      ['f', 'failure'],
      ['r', 'reset'],
    ] as const) {
      await waitFor(`an episode to run before ${key}`, async () => (await status()).episode, 5_000);
      await page.keyboard.press(key);
      await waitFor(`episode.command ${command} after ${key}`, () => commands().includes(command));
    }

    await click('mode-pause');
    await stable('paused', 'the pause button');

    // Space held = intervene (hold style): the operator drives while it is down.
    await page.keyboard.down('Space');
    await studioMode('intervention', 'Space down');
    await sleep(300);
    await page.keyboard.up('Space');
    await stable('paused', 'Space up');

    // The intervene button is held too.
    await page.locator(byId('mode-intervene')).hover();
    await page.mouse.down();
    await studioMode('intervention', 'the intervene button pressed');
    await sleep(300);
    await page.mouse.up();
    await stable('paused', 'the intervene button released');
    await blur();

    await page.keyboard.press('Escape');
    await stable('e-stop', 'Esc');
    await click('mode-reset');
    await stable('paused', 'the reset button');

    await click('mode-estop');
    await stable('e-stop', 'the e-stop button');
    await click('mode-reset');
    await stable('paused', 'the reset button');

    // Every one of these is in SQLite, in order, with where it came from.
    const expected: [to: string, cause: string, origin: string][] = [
      ['bc-warmup', 'set-mode', 'ui'],
      ['autonomous', 'set-mode', 'ui'],
      ['paused', 'set-mode', 'ui'],
      ['intervention', 'intervene', 'keyboard'],
      ['paused', 'intervene', 'keyboard'],
      ['intervention', 'intervene', 'ui'],
      ['paused', 'intervene', 'ui'],
      ['e-stop', 'e-stop', 'keyboard'],
      ['paused', 'reset', 'ui'],
      ['e-stop', 'e-stop', 'ui'],
      ['paused', 'reset', 'ui'],
    ];
    // The scripted operator's own takeovers (origin scripted) may come in between. The studio
    // writes events after its next tick (the live loop's writes wait for the slack): within 5 s.
    const missing = () => {
      const seen = readEvents('mode.transition')
        .map((e) => e.payload as Extract<ModeEvent, { kind: 'transition' }>)
        .filter((t) => t.origin !== 'scripted')
        .map((t) => `${t.to}/${t.cause}/${t.origin}`);
      let at = 0;
      for (const [to, cause, origin] of expected) {
        const want = `${to}/${cause}/${origin}`;
        const found = seen.indexOf(want, at);
        if (found < 0) return `mode.transition ${want} in the events table after #${at}: ${seen}`;
        at = found + 1;
      }
      return undefined;
    };
    const deadline = Date.now() + 5000;
    while (missing() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const problem = missing();
    assert.ok(problem === undefined, problem);
  });

  it('a metric series grows on the dashboard while BC-warmup trains the actor', async () => {
    await page.locator(byId('tab-live')).click();
    await page.locator(byId('mode-bc-warmup')).click();
    await studioMode('bc-warmup', 'the BC-warmup button');
    await page.locator(byId('tab-dashboard')).click();
    // The critic's loss: the learner reports it every few steps in BC-warmup too (the learning
    // curves above it grow per training episode, and BC-warmup has none).
    const chart = page.locator('[data-metric="critic_loss"]').first();
    await chart.waitFor({ timeout: 10_000 });
    const points = async () => Number((await chart.getAttribute('data-points')) ?? 'NaN');
    const first = await waitFor(
      'points on the chart',
      async () => {
        const n = await points();
        return n > 0 ? n : false;
      },
      20_000,
      250,
    );
    const grown = await waitFor(
      `the chart to grow past ${first} points`,
      async () => {
        const n = await points();
        return n > first ? n : false;
      },
      20_000,
      250,
    );
    assert.ok(grown > first);
    // Every plot says what it shows and in what unit.
    const title = (await page.locator(byId('metric-title-critic_loss')).textContent()) ?? '';
    assert.match(title, /Critic loss .*\(Q²\)/);
    // A few more points for the screenshot (the learner logs every 50 steps; not a condition).
    const until = Date.now() + 15_000;
    while ((await points()) < 4 && Date.now() < until) await sleep(500);
    const learner = (await status()).learner;
    assert.ok(learner.steps > 0, `the learner trains: ${JSON.stringify(learner)}`);
    await sleep(500);
    await page.screenshot({ path: join(SHOTS, 'dashboard.png') });
    await page.locator(byId('tab-live')).click();
    await page.locator(byId('mode-pause')).click();
    await studioMode('paused', 'the pause button');
  });

  it('a recorded episode opens in Review, scrubs, and takes a label and a note into SQLite', async () => {
    const episodes = await rpc.result<Episode[]>({
      method: 'episodes',
      filter: { runId, order: 'longest', limit: 50 },
    });
    const episode = episodes.find((e) => e.outcome !== undefined && e.numSteps >= 10);
    assert.ok(episode, `a finished episode of 10+ steps: ${JSON.stringify(episodes)}`);

    await page.locator(byId('tab-review')).click();
    const row = page.locator(`${byId('episode-row')}[data-episode-id="${episode.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.click();

    const timeline = page.locator(byId('timeline'));
    await timeline.waitFor({ timeout: 15_000 });
    await waitFor('the replay to load (timeline max > 0)', async () => {
      return Number((await timeline.getAttribute('max')) ?? '0') > 0;
    });
    await waitFor('the review scene to draw', async () => (await sceneFrames()) > 0);
    await sleep(1500); // the replay's poses (re-simulated by the studio) come after the steps
    const value = async () => Number(await timeline.inputValue());

    // Scrub with the keyboard (real input events): first step, then the last.
    await timeline.focus();
    await page.keyboard.press('Home');
    await waitFor('the timeline at its start', async () => (await value()) === 0);
    await sleep(500);
    const start = await canvas().screenshot();
    await sleep(500);
    const startAgain = await canvas().screenshot();
    await page.keyboard.press('End');
    const end = await waitFor('the timeline to move', async () => {
      const v = await value();
      return v > 0 ? v : false;
    });
    assert.ok(end >= 5, `scrubbed to step ${end}`);
    await sleep(800);
    const last = await canvas().screenshot();
    const noise = await pixels.difference(start, startAgain);
    const moved = await pixels.difference(start, last);
    assert.ok(
      moved > Math.max(0.002, 3 * noise),
      `the robot's pose changes when scrubbing: ${(moved * 100).toFixed(2)}% of pixels differ, ` +
        `${(noise * 100).toFixed(2)}% between two frames of the same step`,
    );

    // Label and note, written through to SQLite.
    const note = `e2e note ${Date.now()}: the grasp slipped once`;
    await page.locator(byId('label-success')).click();
    await page.locator(byId('notes')).fill(note);
    await page.locator(byId('notes-save')).click();
    const stored = await waitFor('the label and note in SQLite', () => {
      const e = readEpisode(episode.id);
      return e?.label === 'success' && e.notes === note ? e : false;
    });
    assert.equal(stored.label, 'success');
    assert.equal(stored.notes, note);

    // Trim: one step back from the end, "end here" keeps the steps before it for learning.
    await timeline.focus();
    await page.keyboard.press('ArrowLeft');
    await waitFor('the timeline one step back', async () => (await value()) === end - 1);
    await page.locator(byId('trim-end')).click();
    const trimmed = await waitFor(
      'the trim in SQLite',
      () => readEpisode(episode.id)?.trim ?? false,
    );
    assert.deepEqual(trimmed, { start: 0, end: end - 1 });
    await page.screenshot({ path: join(SHOTS, 'review.png') });

    // Play runs the timeline on from the start.
    await timeline.focus();
    await page.keyboard.press('Home');
    await page.locator(byId('play')).click();
    await waitFor('play to advance the timeline', async () => (await value()) > 0, 10_000);
  });

  it('stays free of console errors through the whole session', () => {
    assert.deepEqual(errors, []);
  });

  function readEvents(kind: string) {
    const store = Store.open(studio!.db, { readonly: true });
    try {
      return store.listEvents(runId).filter((e) => e.kind === kind);
    } finally {
      store.close();
    }
  }

  function readEpisode(id: number) {
    const store = Store.open(studio!.db, { readonly: true });
    try {
      return store.getEpisode(id);
    } finally {
      store.close();
    }
  }
});
