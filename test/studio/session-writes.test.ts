// A live session on an injected clock: ticks are exactly on the grid, and every SQLite write of
// the live loop (steps, episode rows and ends, mode events, learner metrics) lands after a tick,
// in the slack, never inside one. The counter that says so is shown to catch a write in a tick.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { tempDir } from '../cli/helpers.ts';

/** Lets the learner worker's messages (metrics, weights) arrive between stretches of ticks. */
const turn = () => new Promise((r) => setTimeout(r, 20));

describe('live session on a manual clock: SQLite writes after the tick', () => {
  const tmp = tempDir();
  const clock = new ManualClock(1000);
  let store: Store;
  let session: Session;

  before(async () => {
    store = Store.open(join(tmp.dir, 'writes.db'));
    session = await Session.open(
      store,
      {
        task: { task: 'sim/panda-lift', options: {} },
        operator: 'scripted',
        learner: { ensembleSize: 2, hidden: [32, 32], batchSize: 32 },
        autoResetMs: 0,
        realtime: 'off',
      },
      { clock },
    );
  });
  after(async () => {
    await session.close();
    store.close();
    tmp.cleanup();
  });

  it('300 ticks in 30 s of clock, episodes and events written, none inside a tick', async () => {
    session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
    session.startLive();
    for (let s = 0; s < 30; s++) {
      clock.advance(1000);
      await turn();
    }
    const status = session.status();
    assert.equal(status.loop.ticks, 300, 'one tick per 100 ms of clock');
    assert.equal(status.loop.missed, 0);
    session.command({ type: 'set-mode', mode: 'paused', origin: 'ui' });
    clock.advance(100);
    await session.stopLive();
    const episodes = store.listEpisodes({ runId: session.runId });
    const ended = episodes.filter((e) => e.outcome !== undefined);
    assert.ok(ended.length >= 2, `${ended.length} episodes ended`);
    assert.equal(
      episodes.reduce((n, e) => n + e.numSteps, 0),
      store.db.prepare('SELECT count(*) FROM steps').pluck().get(),
    );
    const kinds = new Set(store.listEvents(session.runId).map((e) => e.kind));
    assert.ok(kinds.has('mode.transition'));
    assert.ok(store.readMetrics(session.runId).length > 0, 'learner metrics stored');
    assert.equal(session.status().loop.writesInTicks, 0, 'a tick wrote to SQLite');
  });

  it('the counter catches a write made inside a tick', () => {
    const stop = session.on((e) => {
      // Telemetry is emitted inside the tick: writing here is what the queue exists to prevent.
      if (e.event === 'telemetry')
        store.addEvent({ runId: session.runId, kind: 'test', payload: {} });
    });
    session.tick();
    session.tick();
    stop();
    assert.equal(session.status().loop.writesInTicks, 2);
  });
});
