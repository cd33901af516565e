// The studio as an actor of a remote learner: a live session on the probe whose learner is a
// LearnerServer on loopback (real gRPC). It acts with the weights the learner publishes, raises
// the alarm when the learner goes away (and pauses, by setting), and after the learner restarts
// with its checkpoint every transition it took is in the learner's log once.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RobotSpec, StudioEvent } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { cleanup, probeSpec, SMALL, startLearner } from './helpers.ts';

let spec: RobotSpec;
before(async () => {
  spec = await probeSpec();
});

const until = async (what: string, ok: () => boolean, timeoutMs = 20_000) => {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

async function liveSession(dir: string, port: number, learnerLost: 'keep' | 'pause') {
  const store = Store.open(join(dir, `studio-${learnerLost}.db`));
  const session = await Session.open(
    store,
    {
      task: { task: 'probe', options: {} },
      rateHz: 50,
      realtime: 'off',
      autoResetMs: 0,
      learnerLost,
      learner: SMALL,
    },
    { remoteLearner: { url: `grpc://127.0.0.1:${port}`, actor: `studio-${learnerLost}` } },
  );
  const events: StudioEvent[] = [];
  session.on((e) => events.push(e));
  session.command({ type: 'set-mode', mode: 'autonomous', origin: 'scripted' });
  session.startLive();
  return { store, session, events };
}

describe('the studio on a remote learner', () => {
  it('acts with its weights, keeps ticking with the alarm up while it is away, and resends all once after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-remote-studio-'));
    let l = await startLearner(spec, { checkpointEveryMs: 500 }, dir);
    const port = l.server.port;
    const { store, session, events } = await liveSession(dir, port, 'keep');
    try {
      assert.match(
        session.status().learner.backend,
        /^remote grpc:\/\/127\.0\.0\.1:\d+ \(learner backend /,
      );
      await until('weights in use', () => session.policy.version > 0);
      // The learner goes away (its checkpoint saved): the alarm, and the loop ticks on.
      const ticksBefore = session.status().loop.ticks;
      await l.server.close();
      l.store.close();
      await until('the alarm', () =>
        events.some((e) => e.event === 'alarm' && /learner lost/.test(e.data.message)),
      );
      await until('ticks while away', () => session.status().loop.ticks >= ticksBefore + 50);
      assert.equal(session.modes.mode, 'autonomous');
      assert.match(
        session.status().alarms.at(-1)!,
        /acting on with policy version \d+; transitions are queued/,
      );
      assert.ok(session.status().learner.backlog > 0, 'transitions queued for the learner');
      // Back, from its checkpoint: the queue drains into it.
      l = await startLearner(spec, { port, resume: true, runId: 1 }, dir);
      await until('the queue drained', () => session.status().learner.backlog === 0);
      await session.stopLive();
      const sent = session.status().learner.online;
      await until('every row stored', () => (l.server.acked.get('studio-keep') ?? 0) >= sent);
      const row = l.store.db
        .prepare(
          "SELECT COUNT(*) AS n, COUNT(DISTINCT seq) AS d, MAX(seq) AS m FROM received WHERE actor = 'studio-keep'",
        )
        .get() as { n: number; d: number; m: number };
      assert.deepEqual(row, { n: sent, d: sent, m: sent });
    } finally {
      await session.close();
      store.close();
      await l.close();
      cleanup(dir);
    }
  });

  it('pauses when the learner is lost, with learnerLost: pause', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-remote-studio-'));
    const l = await startLearner(spec, {}, dir);
    const { store, session, events } = await liveSession(dir, l.server.port, 'pause');
    try {
      await until('weights in use', () => session.policy.version > 0);
      await l.close();
      await until('the alarm', () =>
        events.some((e) => e.event === 'alarm' && /learner lost .*: paused/.test(e.data.message)),
      );
      assert.equal(session.modes.mode, 'paused');
    } finally {
      await session.close();
      store.close();
      cleanup(dir);
    }
  });
});
