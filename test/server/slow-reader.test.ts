import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Recorder, Store } from '../../src/store/index.ts';
import { tempDir } from '../cli/helpers.ts';
import { createTestRun, recordEpisode } from '../store/helpers.ts';
import { RawWebSocket, textFrame } from './raw-ws.ts';
import { RpcTestClient } from './rpc-studio.ts';
import { type ServeChild, startServe, until, within } from './serve-child.ts';

/** The long episode: its `steps` answer is ~160 KB of JSON. */
const STEPS = 500;
/** Short episodes besides it, so that an `episodes` answer is ~60 KB too. */
const SHORT_EPISODES = 300;
/**
 * The flood: a batch of BATCH calls every FLOOD_MS, half `steps`, half `episodes` (which keep it
 * big where heavy reads are rate-bounded), until the server gives up on the client. Batches, not
 * one write: each stays under the in-flight bound, so the calls are run, not refused.
 */
const BATCH = 16;
const FLOOD_MS = 20;
/** How far the serving process may grow while the slow client is dealt with. */
const RSS_BOUND = 150 << 20;
const MB = (bytes: number) => `${(bytes / (1 << 20)).toFixed(0)} MB`;

describe('tandem serve: a client that stops reading is closed; memory stays bounded', () => {
  const tmp = tempDir();
  let serve: ServeChild;
  let watcher: RpcTestClient;
  let episodeId: number;
  const ask = (call: Record<string, unknown>) =>
    within(watcher.ask(call), 20_000, call.method as string);

  before(async () => {
    const db = join(tmp.dir, 'slow.db');
    const store = Store.open(db);
    try {
      const runId = createTestRun(store);
      const recorder = new Recorder(store);
      episodeId = recordEpisode(recorder, runId, STEPS);
      for (let i = 0; i < SHORT_EPISODES; i++) recordEpisode(recorder, runId, 2);
    } finally {
      store.close();
    }
    serve = await startServe(tmp.dir, ['--db', db]);
    watcher = await RpcTestClient.connect(serve.url);
  });
  after(async () => {
    await watcher?.close();
    await serve?.stop();
    tmp.cleanup();
  });

  it('a client that floods steps calls and never reads is closed with the reason; RSS bounded', async () => {
    // Warm the paths up first, so that the baseline holds what any reading costs.
    assert.equal(((await ask({ method: 'steps', episodeId })) as unknown[]).length, STEPS);
    assert.ok(((await ask({ method: 'episodes' })) as unknown[]).length > SHORT_EPISODES);
    const baseline = serve.rssBytes();
    const slow = await RawWebSocket.connect(serve.port);
    try {
      slow.socket.pause(); // it reads nothing from here on: the TCP window closes
      let sent = 0;
      const flood = setInterval(() => {
        const batch = Array.from({ length: BATCH }, (_, i) => {
          const id = sent++;
          const call = i % 2 === 0 ? { method: 'steps', episodeId } : { method: 'episodes' };
          return textFrame(JSON.stringify({ id, ...call }));
        });
        slow.write(Buffer.concat(batch)).catch(() => {});
      }, FLOOD_MS);
      let peak = baseline;
      await until(
        () => {
          peak = Math.max(peak, serve.rssBytes());
          assert.ok(
            peak - baseline < RSS_BOUND,
            `RSS grew from ${MB(baseline)} to ${MB(peak)} with the slow client still open`,
          );
          assert.equal(serve.exitCode(), undefined, serve.stderr());
          return /too far behind/.test(serve.stderr());
        },
        60_000,
        () => `the slow client was never closed: RSS ${MB(baseline)} → ${MB(peak)}, ${sent} calls`,
      ).finally(() => clearInterval(flood));
      // Once it reads again it gets what was queued, then the close frame with the reason (within
      // the grace the server gives it before cutting it off).
      slow.socket.resume();
      // The other client is served throughout.
      assert.ok(((await ask({ method: 'status' })) as { loop: { ticks: number } }).loop.ticks > 0);
      const closed = await slow.waitClosed(30_000, 'the slow client');
      assert.equal(closed?.code, 1013, JSON.stringify(closed));
      assert.match(closed.reason, /^too far behind: \d+ bytes queued$/);
      peak = Math.max(peak, serve.rssBytes());
      assert.ok(peak - baseline < RSS_BOUND, `RSS ${MB(baseline)} → ${MB(peak)}`);
      const lines = serve.stderr().match(/closed the RPC connection .*too far behind.*/g) ?? [];
      assert.equal(lines.length, 1, serve.stderr());
      console.log(`# RSS ${MB(baseline)} → peak ${MB(peak)}; ${sent} calls, ${slow.texts} answers`);
    } finally {
      slow.destroy();
    }
    assert.equal(((await ask({ method: 'steps', episodeId })) as unknown[]).length, STEPS);
  });

  it('calls past the in-flight bound are refused at once, unrun; the connection goes on', async () => {
    const raw = await RawWebSocket.connect(serve.port);
    try {
      const texts = raw.keepTexts();
      const n = 100;
      const burst = Array.from({ length: n }, (_, i) =>
        textFrame(JSON.stringify({ id: i, method: 'status' })),
      );
      // One write, so one read on the server: every call is taken before any is answered.
      await raw.write(Buffer.concat(burst));
      const answers = () =>
        texts
          .map((t) => JSON.parse(t) as { id?: number; ok?: boolean; error?: string })
          .filter((a) => a.id !== undefined);
      await until(
        () => answers().length >= n,
        20_000,
        () => `${answers().length} of ${n} answered`,
      );
      const all = answers();
      assert.deepEqual(
        all.map((a) => a.id).sort((a, b) => a! - b!),
        Array.from({ length: n }, (_, i) => i),
        'each call answered once',
      );
      const refused = all.filter((a) => !a.ok);
      assert.ok(refused.length > 0 && refused.length <= n - 32, `${refused.length} refused`);
      for (const a of refused) assert.match(a.error ?? '', /too many calls in flight/);
      // Answered, the connection takes calls again.
      texts.length = 0;
      await raw.write(textFrame(JSON.stringify({ id: 1000, method: 'status' })));
      await until(
        () => answers().some((a) => a.id === 1000 && a.ok),
        20_000,
        () => 'no answer after the burst',
      );
    } finally {
      raw.destroy();
    }
  });
});
