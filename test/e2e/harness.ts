// Shared by the end-to-end tests (test/e2e) and the frame-time bench (test/bench/frame.ts): the
// studio started as `tandem serve` in a child process, a WebSocket RPC client to it, headless
// Debian Chromium driven by playwright-core (docs/SETUP.md), and PNG pixels read in the
// browser.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { WebSocket } from 'ws';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/tandem.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Debian's Chromium; TANDEM_CHROMIUM points elsewhere (another distribution's binary). */
export const CHROMIUM = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';

/**
 * A missing Chromium is a failure that says how to install it, never a silent skip: CI installs
 * it (.ci/run).
 */
export function assertChromium(): void {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: the end-to-end tests need Debian's Chromium. Install it with ` +
      '`bash .ci/chromium` (apt-get install -y chromium, as root or with sudo; .ci/run does this on CI).',
  );
}

/** The launch flags of docs/SETUP.md: headless, WebGL2 on SwiftShader, nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

/** Headless Chromium in a fresh profile (fails with the install command if it is missing). */
export async function launchChromium(
  viewport = { width: 1280, height: 800 },
): Promise<{ context: BrowserContext; page: Page; close: () => Promise<void> }> {
  assertChromium();
  const profile = mkdtempSync(join(tmpdir(), 'tandem-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The newest modification time under `dir` (ms), 0 if it does not exist. */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

/**
 * Builds the renderer (vite) when dist/renderer is missing or older than its sources
 * (renderer/ and the schemas in src/protocol): the end-to-end tests must test the UI as written.
 */
export function ensureFreshRenderer(): void {
  const built = join(ROOT, 'dist/renderer/index.html');
  const sources = Math.max(
    newest(join(ROOT, 'renderer')),
    newest(join(ROOT, 'src/protocol')),
    statSync(join(ROOT, 'vite.config.ts')).mtimeMs,
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const build = spawnSync(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'error'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(build.status, 0, `the renderer does not build:\n${build.stderr}`);
}

/** An answer of the studio's RPC. */
export interface Answer {
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface RpcClient {
  call(body: Record<string, unknown>): Promise<Answer>;
  /** `call`, throwing the error of a refused one. */
  result<T>(body: Record<string, unknown>): Promise<T>;
  close(): void;
}

/** A WebSocket client of the studio's RPC (no Origin header: a non-browser client). */
export async function connectRpc(url: string): Promise<RpcClient> {
  const ws = new WebSocket(url);
  const waiting = new Map<number, (a: Answer) => void>();
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw)) as Answer & { id?: number; event?: string };
    if (m.event === undefined && typeof m.id === 'number') waiting.get(m.id)?.(m);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const call = (body: Record<string, unknown>) =>
    new Promise<Answer>((resolve, reject) => {
      const n = ++id;
      const timer = setTimeout(() => reject(new Error(`no answer to ${body.method}`)), 30_000);
      waiting.set(n, (a) => {
        clearTimeout(timer);
        waiting.delete(n);
        resolve(a);
      });
      ws.send(JSON.stringify({ id: n, ...body }));
    });
  return {
    call,
    async result<T>(body: Record<string, unknown>) {
      const a = await call(body);
      if (!a.ok) throw new Error(`${String(body.method)}: ${a.error ?? 'refused'}`);
      return a.result as T;
    },
    close: () => ws.close(),
  };
}

/** `tandem serve` running in a child process. */
export interface StudioProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT/ */
  url: string;
  rpcUrl: string;
  db: string;
  output(): string;
  /** SIGINT, and the exit code (0: a clean stop). */
  stop(): Promise<number | null>;
}

/** Starts `tandem serve --port 0 …args --db <dir>/studio.db` and waits for its addresses. */
export async function startStudio(dir: string, args: string[] = []): Promise<StudioProcess> {
  const db = join(dir, 'studio.db');
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args, '--db', db], {
    cwd: ROOT,
    env: { ...process.env, TANDEM_HOME: dir, TANDEM_DEBUG: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + 60_000;
  let rpcUrl: string | undefined;
  let url: string | undefined;
  while (!rpcUrl || !url) {
    if (done || Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(`tandem serve printed no addresses:\n${out}`);
    }
    rpcUrl = /RPC (ws:\/\/\S+)/.exec(out)?.[1];
    url = /tandem studio: (http:\/\/\S+)/.exec(out)?.[1];
    await sleep(100);
  }
  return {
    child,
    url,
    rpcUrl,
    db,
    output: () => out,
    async stop() {
      if (!done) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails saying `what`. */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      assert.fail(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await sleep(everyMs);
  }
}

/** What `analyse` says about an image. */
export interface PixelStats {
  width: number;
  height: number;
  /** The share of pixels that differ (any channel by more than 16) from the image's corners. */
  nonBackground: number;
  /** Distinct colours (quantised to 4 bits per channel): a shaded 3D scene has many. */
  colours: number;
}

// Browser-side code as plain JavaScript text: functions passed to page.evaluate from TypeScript
// run through tsx, whose keepNames adds `__name(…)` calls that do not exist in the page.
const DECODE_JS = `async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}`;

const ANALYSE_JS = `async (b64) => {
  const { data, width, height } = await (${DECODE_JS})(b64);
  const at = (x, y) => (y * width + x) * 4;
  const corners = [at(0, 0), at(width - 1, 0), at(0, height - 1), at(width - 1, height - 1)];
  const near = (i, j) =>
    Math.abs(data[i] - data[j]) <= 16 &&
    Math.abs(data[i + 1] - data[j + 1]) <= 16 &&
    Math.abs(data[i + 2] - data[j + 2]) <= 16;
  let differ = 0;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    if (!corners.some((c) => near(i, c))) differ++;
    colours.add(((data[i] >> 4) << 8) | ((data[i + 1] >> 4) << 4) | (data[i + 2] >> 4));
  }
  return { width, height, nonBackground: differ / (width * height), colours: colours.size };
}`;

const DIFFERENCE_JS = `async ([a64, b64]) => {
  const decode = ${DECODE_JS};
  const [x, y] = [await decode(a64), await decode(b64)];
  if (x.width !== y.width || x.height !== y.height) return 1;
  let differ = 0;
  for (let i = 0; i < x.data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      if (Math.abs(x.data[i + c] - y.data[i + c]) > 24) {
        differ++;
        break;
      }
    }
  }
  return differ / (x.width * x.height);
}`;

/** Runs `fn` (JavaScript source of a one-argument function) in the page on `arg`. */
export function evaluateJs<T>(page: Page, fn: string, arg: unknown): Promise<T> {
  return page.evaluate(`(${fn})(${JSON.stringify(arg)})`) as Promise<T>;
}

/**
 * Decodes PNGs in a browser page (no PNG decoder in Node here): the page is a helper page on
 * about:blank, so the studio's CSP does not apply.
 */
export class PixelReader {
  readonly #page: Page;

  private constructor(page: Page) {
    this.#page = page;
  }

  static async open(context: BrowserContext): Promise<PixelReader> {
    const page = await context.newPage();
    await page.goto('about:blank');
    return new PixelReader(page);
  }

  analyse(png: Buffer): Promise<PixelStats> {
    return evaluateJs(this.#page, ANALYSE_JS, png.toString('base64'));
  }

  /** The share of pixels that differ (any channel by more than 24) between two same-size PNGs. */
  difference(a: Buffer, b: Buffer): Promise<number> {
    return evaluateJs(this.#page, DIFFERENCE_JS, [a.toString('base64'), b.toString('base64')]);
  }

  async close(): Promise<void> {
    await this.#page.close();
  }
}
