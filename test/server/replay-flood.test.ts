import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SessionStatus, Step } from '../../src/protocol/index.ts';
import { lanAddresses } from '../../src/server/addresses.ts';
import { HEAVY_IN_FLIGHT, RPC_PATH } from '../../src/server/rpc.ts';
import type { Store } from '../../src/store/index.ts';
import { replayPoses } from '../../src/studio/review.ts';
import type { Session } from '../../src/studio/session.ts';
import { type Answer, RpcTestClient, startRpcStudio } from './rpc-studio.ts';

/** A non-loopback address of this machine: a client from it is a remote watcher (not local). */
const LAN = lanAddresses()[0];
/** The recorded episode's length (its timeout: the task's maxSteps). */
const EPISODE_STEPS = 200;
/** The flood: this many watchers, each asking for its share of replays and steps reads. */
const WATCHERS = 4;
const REPLAYS = 20;
const STEP_READS = 8;
/**
 * No tick may start later than this at 10 Hz (a replay on the control thread stalls it 100 ms and
 * more; a busy 2-core machine alone stays well under it).
 */
const LATE_MS = 40;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `ready` on the session's status, polling; fails with `what` after `ms`. */
async function until(
  session: Session,
  ready: (s: SessionStatus) => boolean,
  what: string,
  ms = 60_000,
): Promise<SessionStatus> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = session.status();
    if (ready(s)) return s;
    assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(s.loop)}`);
    await sleep(50);
  }
}

describe('read-only calls stay off the control thread (live session, watchers over WebSocket)', () => {
  let studio: Awaited<ReturnType<typeof startRpcStudio>>;
  let store: Store;
  let session: Session;
  /** Where watchers connect: the LAN address when the machine has one (else loopback). */
  let watcherUrl: string;
  let episodeId: number;
  let poses: number[][];
  let steps: Step[];

  before(async () => {
    studio = await startRpcStudio('flood.db', {
      host: LAN ? '0.0.0.0' : '127.0.0.1',
      config: { task: { task: 'sim/panda-lift', options: { maxSteps: EPISODE_STEPS } } },
    });
    ({ store, session } = studio);
    watcherUrl = LAN ? `ws://${LAN}:${studio.port}${RPC_PATH}` : studio.url;
    // One whole episode of the (untrained) policy: it runs to its timeout.
    session.command({ type: 'reset', origin: 'ui' });
    session.command({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
    await session.runHeadless({ ticks: EPISODE_STEPS + 1, learnerStepsPerTick: 0 });
    session.flush();
    const episode = store.listEpisodes({ runId: session.runId, order: 'oldest' })[0]!;
    assert.equal(episode.numSteps, EPISODE_STEPS);
    episodeId = episode.id;
    // What the review must show, computed here before the loop runs.
    poses = (await replayPoses(store, episodeId)).poses;
    assert.equal(poses.length, EPISODE_STEPS + 1);
    steps = JSON.parse(JSON.stringify(store.readSteps(episodeId))) as Step[];
    // Live at 10 Hz, the policy driving (no learner: its thread would only add noise here).
    session.startLive({ train: false });
  });
  after(async () => {
    await studio.close();
  });

  it('a flood of replays and steps reads leaves every tick on time, and answers right', async (t) => {
    const start = session.status().loop.ticks;
    const calm = await until(session, (s) => s.loop.ticks >= start + 20, 'ticks before the flood');
    const watchers = await Promise.all(
      Array.from({ length: WATCHERS }, () => RpcTestClient.connect(watcherUrl)),
    );
    try {
      // Each watcher asks for its share one call after another (within its bounds), all at once.
      const flood = watchers.map(async (w) => {
        const answers: { method: string; answer: Answer }[] = [];
        for (let i = 0; i < REPLAYS / WATCHERS; i++) {
          answers.push({
            method: 'replay',
            answer: await w.call(i, { method: 'replay', episodeId }),
          });
          if (i >= STEP_READS / WATCHERS) continue;
          answers.push({
            method: 'steps',
            answer: await w.call(i, { method: 'steps', episodeId }),
          });
        }
        return answers;
      });
      const answers = (await Promise.all(flood)).flat();
      const after = session.status();
      const replays = answers.filter((a) => a.method === 'replay');
      assert.equal(replays.length, REPLAYS);
      assert.equal(answers.length, REPLAYS + STEP_READS);
      for (const { method, answer } of answers) {
        assert.equal(answer.ok, true, `${method}: ${answer.error}`);
        if (method === 'replay') assert.deepEqual(answer.result, { poses });
        else assert.deepEqual(answer.result, steps);
      }
      const figures = `before the flood ${JSON.stringify(calm.loop)}, after ${JSON.stringify(after.loop)}`;
      t.diagnostic(figures);
      assert.ok(after.loop.ticks > calm.loop.ticks, figures);
      assert.equal(after.loop.missed, calm.loop.missed, `no deadline missed: ${figures}`);
      assert.ok(
        after.loop.latenessMax <= Math.max(LATE_MS, calm.loop.latenessMax),
        `no tick started more than ${LATE_MS} ms late: ${figures}`,
      );
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
    }
  });

  it('the running episode is read as far as it was written', async () => {
    const watcher = await RpcTestClient.connect(watcherUrl);
    try {
      const running = await until(session, (s) => (s.episode?.steps ?? 0) > 5, 'a running episode');
      const id = running.episode!.id;
      session.flush(); // between ticks: what the running episode has so far is in SQLite now
      const written = JSON.parse(JSON.stringify(store.readSteps(id))) as Step[];
      const read = (await watcher.ask({ method: 'steps', episodeId: id })) as Step[];
      assert.ok(
        read.length >= written.length,
        `${read.length} steps read, ${written.length} written`,
      );
      assert.deepEqual(read.slice(0, written.length), written);
    } finally {
      await watcher.close();
    }
  });

  it('a burst past the bound is refused at once; after a wait the calls work again', async () => {
    const watcher = await RpcTestClient.connect(watcherUrl);
    const extra = 6;
    try {
      const burst = Array.from({ length: HEAVY_IN_FLIGHT + extra }, (_, i) =>
        watcher.call(100 + i, { method: 'replay', episodeId }),
      );
      // In the order they came back: the refusals first, before any replay was done.
      const answers = await Promise.all(burst);
      const refused = answers.slice(0, extra);
      assert.deepEqual(
        refused.map((a) => a.id),
        Array.from({ length: extra }, (_, i) => 100 + HEAVY_IN_FLIGHT + i),
      );
      for (const a of refused) assert.match(a.error ?? '', /^replay refused: too many requests/);
      for (const a of answers.slice(extra)) {
        assert.equal(a.ok, true, a.error);
        assert.deepEqual(a.result, { poses });
      }
      // The token bucket: cheap reads one after another soon hit the sustained rate.
      let refusal: Answer | undefined;
      for (let i = 0; i < 50 && !refusal; i++) {
        const a = await watcher.call(200 + i, { method: 'steps', episodeId });
        if (!a.ok) refusal = a;
      }
      assert.match(refusal?.error ?? 'never refused', /^steps refused: too many requests/);
      // Waiting refills the bucket: a call is answered again.
      const deadline = Date.now() + 10_000;
      let again: Answer;
      do {
        await sleep(200);
        again = await watcher.call(300, { method: 'replay', episodeId });
      } while (!again.ok && Date.now() < deadline);
      assert.equal(again.ok, true, again.error);
      assert.deepEqual(again.result, { poses });
    } finally {
      await watcher.close();
    }
  });
});
