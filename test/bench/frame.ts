import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { SessionStatus } from '../../src/protocol/studio.ts';
import {
  connectRpc,
  ensureFreshRenderer,
  launchChromium,
  startStudio,
  waitFor,
} from '../e2e/harness.ts';
import { type BenchResult, figure, median } from './harness.ts';

const VIEWPORT = { width: 1280, height: 800 };

interface Recording {
  intervals: number[];
  work: number[];
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/**
 * Records every requestAnimationFrame interval of the page and, per frame, the scene's own
 * render time (window.__tandemScene.lastFrameMs), until `stop`.
 */
async function startRecording(page: Page): Promise<void> {
  // Plain JavaScript text: a TypeScript function would carry tsx's `__name(…)` into the page.
  await page.evaluate(`(() => {
    const w = window;
    w.__bench = { intervals: [], work: [], stop: false };
    let last = -1;
    let lastFrames = -1;
    const tick = (t) => {
      if (last >= 0) w.__bench.intervals.push(t - last);
      last = t;
      const scene = w.__tandemScene;
      if (scene && scene.frames !== lastFrames) {
        lastFrames = scene.frames;
        w.__bench.work.push(scene.lastFrameMs);
      }
      if (!w.__bench.stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
}

async function stopRecording(page: Page): Promise<Recording> {
  return page.evaluate(() => {
    const w = window as unknown as {
      __bench: { intervals: number[]; work: number[]; stop: boolean };
    };
    w.__bench.stop = true;
    return { intervals: w.__bench.intervals, work: w.__bench.work };
  });
}

/** Drags across the canvas for `ms`: the orbit camera turns the whole time. */
async function orbit(page: Page, ms: number): Promise<void> {
  const box = await page.locator('[data-testid="scene-canvas"]').first().boundingBox();
  if (!box) throw new Error('the scene canvas is not shown');
  const y = box.y + box.height * 0.5;
  const left = box.x + box.width * 0.3;
  const span = box.width * 0.4;
  const end = Date.now() + ms;
  let x = left;
  let dir = 1;
  await page.mouse.move(x, y);
  await page.mouse.down();
  while (Date.now() < end) {
    x += dir * 8;
    if (x > left + span || x < left) dir = -dir;
    await page.mouse.move(x, y);
    await new Promise((r) => setTimeout(r, 30));
  }
  await page.mouse.up();
}

/**
 * Frame time of the live 3D view in headless Chromium (SwiftShader: WebGL on the CPU) while the
 * studio streams telemetry at 10 Hz (BC-warmup: the scripted expert moves the arm) and the
 * camera orbits: requestAnimationFrame intervals and the scene's own render time per frame.
 */
export async function benchFrame({ quick = false } = {}): Promise<BenchResult> {
  const seconds = quick ? 3 : 10;
  const repeats = quick ? 1 : 3;
  ensureFreshRenderer();
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-frame-'));
  const studio = await startStudio(dir, ['--operator', 'scripted']);
  const rpc = await connectRpc(studio.rpcUrl);
  const browser = await launchChromium(VIEWPORT);
  try {
    const { page } = browser;
    const version = browser.context.browser()?.version() ?? 'unknown';
    await rpc.result({
      method: 'mode',
      command: { type: 'set-mode', mode: 'bc-warmup', origin: 'scripted' },
    });
    const runs: (Recording & {
      ticksPerS: number;
      fps: number;
      drawnPerS: number;
      jitter: number;
    })[] = [];
    let gl = 'unknown';
    for (let r = 0; r < repeats; r++) {
      await page.goto(studio.url);
      await waitFor(
        'the scene to draw',
        () => page.evaluate(() => (window.__tandemScene?.frames ?? 0) > 5),
        30_000,
      );
      gl = await page.evaluate(() => {
        const c = document.createElement('canvas').getContext('webgl2');
        const info = c?.getExtension('WEBGL_debug_renderer_info');
        return c && info ? String(c.getParameter(info.UNMASKED_RENDERER_WEBGL)) : 'no WebGL2';
      });
      const from = await rpc.result<SessionStatus>({ method: 'status' });
      const t0 = Date.now();
      await startRecording(page);
      await orbit(page, seconds * 1000);
      const recorded = await stopRecording(page);
      const to = await rpc.result<SessionStatus>({ method: 'status' });
      const elapsed = (Date.now() - t0) / 1000;
      const ticksPerS = (to.loop.ticks - from.loop.ticks) / elapsed;
      const fps = recorded.intervals.length / (sum(recorded.intervals) / 1000);
      const drawnPerS = recorded.work.length / elapsed;
      runs.push({ ...recorded, ticksPerS, fps, drawnPerS, jitter: to.loop.periodErrorP99 });
      console.log(
        `  repeat ${r + 1}/${repeats}: ${fps.toFixed(1)} frames/s, ${drawnPerS.toFixed(1)} scene draws/s, ` +
          `interval median ${median(recorded.intervals).toFixed(1)} ms, p99 ${quantile(recorded.intervals, 0.99).toFixed(1)} ms; ` +
          `scene work median ${median(recorded.work).toFixed(2)} ms; telemetry ${ticksPerS.toFixed(1)} ticks/s`,
      );
    }
    return {
      title: 'Live 3D view frame time (headless Chromium)',
      figures: [
        figure(
          'frame interval (requestAnimationFrame), median',
          'ms',
          runs.map((x) => median(x.intervals)),
        ),
        figure(
          'frame interval (requestAnimationFrame), p99',
          'ms',
          runs.map((x) => quantile(x.intervals, 0.99)),
        ),
        figure(
          'page frames per second',
          'fps',
          runs.map((x) => x.fps),
        ),
        figure(
          'scene draws per second (on demand: telemetry and camera moves)',
          'draws/s',
          runs.map((x) => x.drawnPerS),
        ),
        figure(
          'scene render time per frame (__tandemScene.lastFrameMs), median',
          'ms',
          runs.map((x) => median(x.work)),
        ),
        figure(
          'scene render time per frame, p99',
          'ms',
          runs.map((x) => quantile(x.work, 0.99)),
        ),
        figure(
          'telemetry while measured (control ticks)',
          'ticks/s',
          runs.map((x) => x.ticksPerS),
        ),
        figure(
          "studio's control period error p99 meanwhile (same 2 cores)",
          'ms',
          runs.map((x) => x.jitter),
        ),
      ],
      comparisons: [],
      notes: [
        `Chromium ${version} headless, ${VIEWPORT.width}×${VIEWPORT.height}, WebGL2 on ${gl} ` +
          '(SwiftShader: rendering on the CPU, sharing the 2 cores with the studio).',
        `${repeats} × ${seconds} s of the live view: sim/panda-lift in BC-warmup (the scripted ` +
          'expert moves the arm), telemetry at the control rate, the camera orbiting (mouse drag) ' +
          'throughout.',
      ],
    };
  } finally {
    rpc.close();
    await browser.close();
    await studio.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
