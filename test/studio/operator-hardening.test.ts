// The operator's packets as an unlucky operator or a hostile client sends them, on the real sim:
// a packet from before an e-stop or a mode change never drives after it, one absurd sequence
// number cannot lock the operator out, and the stale hold comes at the first tick past the
// threshold (on an injected clock, so the tick times are exact) with no motion repeated before it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Mode, StudioEvent } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { tempDir } from '../cli/helpers.ts';

const LEARNER = { ensembleSize: 2, hidden: [32, 32], batchSize: 32 };
const TCP = 15; // index of tcp.x in panda-lift's observation
const PUSH = [1, 0, 0.5, -1]; // full speed along +x and +z, gripper open

type Telemetry = Extract<StudioEvent, { event: 'telemetry' }>['data'];

/** The telemetry of every tick, kept as it comes. */
function watch(session: Session): Telemetry[] {
  const seen: Telemetry[] = [];
  session.on((e) => {
    if (e.event === 'telemetry') seen.push(e.data);
  });
  return seen;
}

const tcp = (t: Telemetry) => t.obs.slice(TCP, TCP + 3);
const distance = (a: number[], b: number[]) => Math.hypot(...a.map((x, i) => x - b[i]!));

describe('operator packets: stale, poisoned and pre-e-stop input never drives', () => {
  const tmp = tempDir();
  let store: Store;
  before(() => {
    store = Store.open(join(tmp.dir, 'operator.db'));
  });
  after(() => {
    store.close();
    tmp.cleanup();
  });

  const open = (clock?: ManualClock) =>
    Session.open(
      store,
      {
        task: { task: 'sim/panda-lift', options: {} },
        learner: LEARNER,
        autoResetMs: 0,
        operatorFault: 'hold',
        realtime: 'off',
      },
      clock ? { clock } : {},
    );

  for (const mode of ['autonomous', 'intervention', 'bc-warmup', 'paused'] as Mode[]) {
    it(`e-stop from ${mode}, reset, intervene: the packet from before the e-stop does not move the arm`, async () => {
      const session = await open();
      const seen = watch(session);
      try {
        let seq = 0;
        const push = (s: Session) =>
          s.teleopPacket({ seq: ++seq, action: PUSH, device: 'keyboard' });
        session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
        await session.runHeadless({ ticks: 4, learnerStepsPerTick: 0, onTick: push });
        if (mode === 'intervention') {
          session.command({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
          session.command({ type: 'intervene', pressed: true, origin: 'keyboard' });
        } else session.command({ type: 'set-mode', mode, origin: 'ui' });
        await session.runHeadless({ ticks: 2, learnerStepsPerTick: 0, onTick: push });
        push(session); // the last packet, sent just before the e-stop
        session.command({ type: 'e-stop', origin: 'keyboard' });
        session.command({ type: 'reset', origin: 'ui' });
        const back =
          mode === 'bc-warmup'
            ? session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' })
            : session.command({ type: 'intervene', pressed: true, origin: 'keyboard' });
        assert.ok(back.ok, back.reason);
        await session.runHeadless({ ticks: 4, learnerStepsPerTick: 0 });
        // (Back to BC-warmup begins a new episode: the first tick resets the arm.)
        const held = seen.slice(-3);
        const moved = Math.max(...held.map((t) => distance(tcp(t), tcp(held[0]!))));
        assert.ok(moved < 0.002, `the arm moved ${moved} m on a packet from before the e-stop`);
        for (const t of seen.slice(-4)) assert.equal(t.safety?.verdict, 'held');
        // A packet sent after the reset drives again.
        push(session);
        await session.runHeadless({ ticks: 1, learnerStepsPerTick: 0 });
        assert.notEqual(seen.at(-1)!.safety?.verdict, 'held');
      } finally {
        await session.close();
      }
    });
  }

  it('a packet numbered 2^53−1 locks out neither another connection nor, after e-stop and reset, its own', async () => {
    const session = await open();
    try {
      session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
      const keyboard = (seq: number) =>
        session.teleopPacket({ seq, action: [0, 0, 0, -1], device: 'keyboard' }, 'keyboard-tab');
      keyboard(1_700_000_000_000_000);
      // A jump beyond any real sender's numbering is refused: it cannot become the newest.
      assert.throws(
        () =>
          session.teleopPacket(
            { seq: Number.MAX_SAFE_INTEGER, action: [0, 0, 0, -1], device: 'keyboard' },
            'keyboard-tab',
          ),
        /teleop packet refused: seq .* jumps/,
      );
      keyboard(1_700_000_000_050_000);
      // Another connection's numbering is its own: its huge first number is its business.
      session.teleopPacket(
        { seq: Number.MAX_SAFE_INTEGER, action: [0, 0, 0, -1], device: 'gamepad' },
        'script',
      );
      keyboard(1_700_000_000_100_000);
      assert.throws(
        () => session.teleopPacket({ seq: 5, action: [0, 0, 0, -1] }, 'script'),
        /not after/,
      );
      // A mode change is a new turn, not a new numbering: a replayed packet stays refused.
      session.command({ type: 'set-mode', mode: 'paused', origin: 'ui' });
      assert.throws(() => keyboard(1_700_000_000_100_000), /not after/);
      // A closed connection's numbering goes with it.
      session.operator.teleop.endStream('script');
      session.teleopPacket({ seq: 5, action: [0, 0, 0, -1] }, 'script');
      // E-stop and reset: every connection's numbering starts afresh.
      session.command({ type: 'e-stop', origin: 'keyboard' });
      session.command({ type: 'reset', origin: 'ui' });
      session.teleopPacket({ seq: 2, action: [0, 0, 0, -1] }, 'script');
      keyboard(1);
      assert.equal(session.operator.teleop.latest?.seq, 1);
    } finally {
      await session.close();
    }
  });

  it('stale input (250 ms at 10 Hz) holds at the first tick past the threshold; a missing packet repeats no motion', async () => {
    const clock = new ManualClock(10_000);
    const session = await open(clock);
    const seen = watch(session);
    try {
      session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
      session.startLive({ train: false });
      let seq = 0;
      const alarms: number[] = [];
      session.on((e) => {
        if (e.event === 'alarm') alarms.push(clock.now());
      });
      // Ticks every 100 ms of the clock; packets 30 ms after each tick for 1 s.
      for (let i = 0; i < 10; i++) {
        clock.advance(30);
        session.teleopPacket({ seq: ++seq, action: PUSH, device: 'keyboard' });
        clock.advance(70);
      }
      // The tick just run drove on the last packet, sent 70 ms before it.
      const lastPacketAt = clock.now() - 70;
      const driven = seen.length;
      const atLast = tcp(seen.at(-1)!);
      assert.notEqual(seen.at(-1)!.safety?.verdict, 'held');
      for (let i = 0; i < 6; i++) clock.advance(100);
      const later = seen.slice(driven);
      assert.equal(later.length, 6);
      // No packet since the tick that drove: held at once, not moved on the old packet again.
      for (const t of later) assert.equal(t.safety?.verdict, 'held');
      const moved = Math.max(...later.map((t) => distance(tcp(t), atLast)));
      assert.ok(moved < 0.005, `the arm kept moving ${moved} m after the last packet`);
      // Stale from 250 ms after the last packet: the tick at +270 ms is the first past it (the
      // one at +170 ms held for want of a new packet, without an alarm).
      const staleTick = later.findIndex((t) => t.safety?.reasons.includes('stale-operator'));
      assert.equal(staleTick, 1, later.map((t) => t.safety?.reasons.join('+')).join(', '));
      assert.equal(alarms.length, 1);
      assert.equal(alarms[0]! - lastPacketAt, 270);
    } finally {
      await session.stopLive();
      await session.close();
    }
  });
});
