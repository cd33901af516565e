import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../cli/helpers.ts';
import { ensureRendererBuilt } from './renderer.ts';

const BIN = fileURLToPath(new URL('../../bin/tandem.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tandem serve: a live session driven over the WebSocket RPC', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('runs the control loop live, takes mode calls, publishes the policy, stops cleanly', async () => {
    ensureRendererBuilt();
    const db = join(tmp.dir, 'live.db');
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--port', '0', '--operator', 'scripted', '--db', db],
      { env: { ...process.env, TANDEM_HOME: tmp.dir }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!url) {
        assert.ok(Date.now() < deadline, `no RPC address printed: ${stdout} ${stderr}`);
        url = /RPC (ws:\/\/\S+)/.exec(stdout)?.[1];
        await sleep(100);
      }
      const ws = new WebSocket(url);
      const answers = new Map<number, { ok: boolean; result?: unknown; error?: string }>();
      const events: { event: string; data: unknown }[] = [];
      ws.on('message', (raw) => {
        const m = JSON.parse(String(raw)) as { id?: number; event?: string; data?: unknown };
        if (m.event) events.push({ event: m.event, data: m.data });
        else answers.set(m.id!, m as { ok: boolean });
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      let id = 0;
      const call = async (body: Record<string, unknown>) => {
        const n = ++id;
        ws.send(JSON.stringify({ id: n, ...body }));
        while (!answers.has(n)) await sleep(10);
        return answers.get(n)!;
      };
      const mode = (m: string) =>
        call({ method: 'mode', command: { type: 'set-mode', mode: m, origin: 'ui' } });

      type Status = {
        running: boolean;
        loop: { ticks: number; missed: number };
        policyVersion: number;
        learner: { steps: number; demo: number };
      };
      const status = async () => (await call({ method: 'status' })).result as Status;
      /** Polls the status until `ready` (no fixed sleeps: a slow machine only takes longer). */
      const until = async (ready: (s: Status) => boolean, what: string) => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const s = await status();
          if (ready(s)) return s;
          assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(s)}`);
          await sleep(100);
        }
      };
      const published = () => events.filter((e) => e.event === 'policy').length;

      assert.ok((await mode('bc-warmup')).ok);
      // The expert drives demo episodes at 10 Hz, the learner training on them.
      await until((s) => s.learner.demo >= 30, 'demo transitions');
      assert.ok((await mode('autonomous')).ok);
      const last = await until(
        (s) => published() > 0 && s.policyVersion > 0 && s.loop.ticks >= 50,
        'weights published and swapped in',
      );
      assert.equal(last.running, true);
      assert.ok(last.loop.ticks >= 50, `${last.loop.ticks} ticks`);
      assert.ok(published() > 0 && last.policyVersion > 0, 'weights published and swapped in');
      assert.ok(last.learner.demo >= 30, `${last.learner.demo} demo transitions`);
      assert.ok(events.some((e) => e.event === 'telemetry'));
      assert.ok((await call({ method: 'mode', command: { type: 'e-stop', origin: 'ui' } })).ok);
      ws.close();
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, stderr);
    const store = Store.open(db, { readonly: true });
    try {
      const episodes = store.listEpisodes({ limit: 100 });
      assert.ok(episodes.some((e) => e.kind === 'demo' && e.numSteps > 0));
      assert.ok(store.listEvents(1).some((e) => e.kind === 'mode.transition'));
      assert.ok(
        episodes.every((e) => e.outcome !== undefined),
        'every episode ended, the one cut by Ctrl-C as interrupted',
      );
    } finally {
      store.close();
    }
  });
});
