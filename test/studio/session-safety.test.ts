import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Mode } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { tempDir } from '../cli/helpers.ts';

const LEARNER = { ensembleSize: 2, hidden: [32, 32], batchSize: 32 };
const TCP = 15; // index of tcp.x in panda-lift's observation

/** A human-operated session on the real panda-lift sim, ticking on its virtual clock (10 Hz). */
async function humanSession(store: Store, operatorFault?: 'pause' | 'hold'): Promise<Session> {
  return Session.open(store, {
    task: { task: 'sim/panda-lift', options: {} },
    learner: LEARNER,
    autoResetMs: 0,
    ...(operatorFault ? { operatorFault } : {}),
  });
}

describe('studio session: e-stop and stale operator input, on the real sim', () => {
  const tmp = tempDir();
  let store: Store;
  before(() => {
    store = Store.open(join(tmp.dir, 'safety.db'));
  });
  after(() => {
    store.close();
    tmp.cleanup();
  });

  for (const mode of ['autonomous', 'intervention', 'bc-warmup', 'paused'] as Mode[]) {
    it(`e-stop from ${mode} stops the arm at the next tick`, async () => {
      const session = await humanSession(store);
      const seen: number[][] = [];
      session.on((e) => {
        if (e.event === 'telemetry') seen.push(e.data.obs.slice(TCP, TCP + 3));
      });
      try {
        let seq = 0;
        const push = () =>
          session.teleopPacket({ seq: ++seq, action: [1, 0, 0.5, -1], device: 'gamepad' });
        // Get the arm moving (the policy, or the operator's packets), then enter the mode.
        session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
        await session.runHeadless({ ticks: 6, learnerStepsPerTick: 0, onTick: push });
        if (mode === 'intervention') {
          session.command({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
          session.command({ type: 'intervene', pressed: true, origin: 'gamepad' });
        } else {
          session.command({ type: 'set-mode', mode, origin: 'ui' });
        }
        await session.runHeadless({ ticks: 3, learnerStepsPerTick: 0, onTick: push });
        const moving = seen.at(-1)!;
        assert.ok(session.command({ type: 'e-stop', origin: 'keyboard' }).ok);
        await session.runHeadless({ ticks: 5, learnerStepsPerTick: 0, onTick: push });
        assert.equal(session.modes.mode, 'e-stop');
        for (const p of seen.slice(-5)) {
          const moved = Math.hypot(...p.map((x, i) => x - moving[i]!));
          assert.ok(moved < 1e-9, `the tool point moved ${moved} m after the e-stop`);
        }
        // Only an explicit reset leaves it.
        assert.equal(
          session.command({ type: 'set-mode', mode: 'autonomous', origin: 'ui' }).ok,
          false,
        );
        assert.ok(session.command({ type: 'reset', origin: 'ui' }).ok);
        assert.equal(session.modes.mode, 'paused');
      } finally {
        await session.close();
      }
    });
  }

  for (const fault of ['hold', 'pause'] as const) {
    it(`stale operator input holds at the first stale tick, with an alarm stored (operatorFault ${fault})`, async () => {
      const session = await humanSession(store, fault);
      const ticks: { verdict?: string; reasons?: string[]; tcp: number[] }[] = [];
      session.on((e) => {
        if (e.event === 'telemetry')
          ticks.push({
            ...(e.data.safety ?? {}),
            tcp: e.data.obs.slice(TCP, TCP + 3),
          });
      });
      try {
        let seq = 0;
        session.command({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
        session.command({ type: 'intervene', pressed: true, origin: 'headset' });
        // Packets every tick (100 ms) for 8 ticks, then none: stale once older than 250 ms.
        session.teleopPacket({ seq: ++seq, action: [1, 0, 0, -1], device: 'headset' });
        await session.runHeadless({
          ticks: 8,
          learnerStepsPerTick: 0,
          onTick: (s) => s.teleopPacket({ seq: ++seq, action: [1, 0, 0, -1], device: 'headset' }),
        });
        await session.runHeadless({ ticks: 6, learnerStepsPerTick: 0 });
        const after = ticks.slice(-6);
        // The last packet came at t and drove the tick at t; the ticks at t+100 and t+200 hold
        // for want of a new one (a packet is one tick's motion), without an alarm; the input is
        // stale from t+250 on, and the tick at t+300, the first after that, alarms.
        // `hold`: held until packets come again; `pause`: held, then paused (not stepped at all).
        const later = fault === 'hold' ? 'held' : undefined;
        assert.deepEqual(
          after.map((t) => t.verdict),
          ['pass', 'held', 'held', 'held', later, later],
        );
        assert.deepEqual(after[1]!.reasons, ['no-packet']);
        assert.equal(session.modes.mode, fault === 'hold' ? 'intervention' : 'paused');
        assert.ok(after[3]!.reasons!.includes('stale-operator'));
        const heldAt = after[3]!.tcp;
        const drift = Math.max(
          ...after.slice(4).map((t) => Math.hypot(...t.tcp.map((x, i) => x - heldAt[i]!))),
        );
        assert.ok(drift < 0.005, `the arm drifted ${drift} m while held`);
        session.flush();
        const alarms = store.listEvents(session.runId).filter((e) => e.kind === 'safety.alarm');
        assert.equal(alarms.length, 1, 'one alarm when the hold begins, not one per tick');
        assert.match(JSON.stringify(alarms[0]!.payload), /stale|operator/i);
        const paused = store
          .listEvents(session.runId)
          .filter(
            (e) =>
              e.kind === 'mode.transition' && JSON.stringify(e.payload).includes('"to":"paused"'),
          );
        assert.equal(paused.length, fault === 'pause' ? 1 : 0);
        if (fault === 'pause')
          assert.match(JSON.stringify(paused[0]!.payload), /"origin":"safety"/);
      } finally {
        await session.close();
      }
    });
  }

  it('a malformed teleop packet never moves the robot', async () => {
    const session = await humanSession(store);
    const actions: number[][] = [];
    session.on((e) => {
      if (e.event === 'telemetry' && e.data.action) actions.push(e.data.action);
    });
    try {
      session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
      session.teleopPacket({ seq: 1, action: [0, 0, 0, -1] });
      for (const bad of [
        { seq: 2, action: [Infinity, 0, 0, -1] },
        { seq: 3, action: [1, 0, 0] },
        { seq: 4, action: ['1', 0, 0, -1] },
        { seq: 1, action: [1, 1, 1, 1] },
      ]) {
        assert.throws(() => session.teleopPacket(bad), /teleop packet refused/);
      }
      await session.runHeadless({ ticks: 2, learnerStepsPerTick: 0 });
      assert.deepEqual(session.operator.teleop.latest?.action, [0, 0, 0, -1]);
      // The zero packet drives the first tick, the second holds (its pull-back is ~1e-10).
      for (const a of actions) assert.ok(Math.hypot(...a.slice(0, 3)) < 1e-6, `moved by ${a}`);
    } finally {
      await session.close();
    }
  });
});

describe('studio session: episodes by the operator', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('success, failure and discard are stored as said; the next episode starts after the auto-reset delay', async () => {
    const store = Store.open(join(tmp.dir, 'episodes.db'));
    const session = await Session.open(store, {
      task: { task: 'sim/panda-lift', options: {} },
      learner: LEARNER,
      autoResetMs: 300,
    });
    try {
      let seq = 0;
      const push = (s: Session) => s.teleopPacket({ seq: ++seq, action: [0, 0, 0, -1] });
      push(session);
      session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
      const run = (ticks: number) =>
        session.runHeadless({ ticks, learnerStepsPerTick: 0, onTick: push });
      await run(3);
      session.episode('success');
      // Ended at 300 ms: the ticks at 300, 400 and 500 wait, the one at 600 starts the next.
      await run(4);
      assert.equal(session.status().episode?.steps, 1);
      session.episode('discard');
      await run(4);
      session.episode('failure');
      session.flush();
      const outcomes = store
        .listEpisodes({ runId: session.runId, order: 'oldest', includeDeleted: true })
        .map((e) => [e.outcome, e.numSteps]);
      assert.deepEqual(outcomes, [
        ['success', 3],
        ['discarded', 1],
        ['failure', 1],
      ]);
      assert.throws(() => session.episode('explode'), /Invalid option|expected one of/);
    } finally {
      await session.close();
      store.close();
    }
  });
});
