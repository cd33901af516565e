import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PairingStatus, XrAck } from '../../src/protocol/index.ts';
import { lanAddresses } from '../../src/server/addresses.ts';
import { RPC_PATH } from '../../src/server/rpc.ts';
import type { Session } from '../../src/studio/session.ts';
import { xrFrame } from '../operator/xr-frames.ts';
import { RpcTestClient, startRpcStudio } from './rpc-studio.ts';

const TCP = 15; // index of tcp.x in panda-lift's observation
/** Frames at 125 Hz: within the studio's rate bound. */
const FRAME_MS = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A non-loopback address of this machine: a client from it is "remote", as a headset on the LAN. */
const LAN = lanAddresses()[0];

/** The newest observation the session reported (telemetry). */
let observed: number[] = [];
function tcp(): number[] {
  return observed.slice(TCP, TCP + 3);
}

/** Sends one headset frame at a headset's pace (frames faster than the rate bound are dropped). */
async function sendFrame(headset: RpcTestClient, packet: unknown): Promise<XrAck> {
  await sleep(FRAME_MS);
  return (await headset.ask({ method: 'xr', packet })) as XrAck;
}

function dist(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(...a.map((x, i) => x - b[i]!));
}

describe('the headset over WebSocket: pairing, control, bad frames, faults (real sim and socket)', () => {
  let studio: Awaited<ReturnType<typeof startRpcStudio>>;
  let session: Session;
  /** The desktop: a client on this machine. */
  let desk: RpcTestClient;
  /** Where a headset connects: the LAN address when the machine has one (else loopback). */
  let headsetUrl: string;

  before(async () => {
    studio = await startRpcStudio('xr.db', { host: LAN ? '0.0.0.0' : '127.0.0.1' });
    session = studio.session;
    session.on((e) => {
      if (e.event === 'telemetry') observed = e.data.obs;
    });
    desk = await RpcTestClient.connect(studio.url);
    headsetUrl = LAN ? `ws://${LAN}:${studio.port}${RPC_PATH}` : studio.url;
  });
  after(async () => {
    await desk.close();
    await studio.close();
  });

  /**
   * Runs `n` control ticks (virtual clock, 100 ms apart, no learning) and returns the tool point
   * after. With `stream`, a headset streams a frame after every tick, as a real one does (else
   * its input goes stale after 250 ms of the virtual clock).
   */
  async function ticks(n: number, stream?: () => Promise<unknown>): Promise<number[]> {
    await session.runHeadless({
      ticks: n,
      learnerStepsPerTick: 0,
      ...(stream ? { onTick: async () => void (await stream()) } : {}),
    });
    return tcp();
  }

  async function pairedHeadset(): Promise<RpcTestClient> {
    const { code } = (await desk.ask({ method: 'pairing' })) as PairingStatus;
    const headset = await RpcTestClient.connect(headsetUrl);
    const { token } = (await headset.ask({ method: 'pair', code })) as { token: string };
    assert.ok(token.length >= 32);
    assert.deepEqual(await headset.ask({ method: 'control', take: true }), {
      role: 'controller',
      control: true,
    });
    return headset;
  }

  it('a wrong pairing code: refused, and the headset never moves the robot', async () => {
    await desk.ask({
      method: 'mode',
      command: { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
    });
    const start = await ticks(2);
    const { code } = (await desk.ask({ method: 'pairing' })) as PairingStatus;
    const wrong = code === '000000' ? '000001' : '000000';
    const headset = await RpcTestClient.connect(headsetUrl);
    try {
      const paired = await headset.call(1, { method: 'pair', code: wrong });
      assert.equal(paired.ok, false);
      assert.match(paired.error ?? '', /wrong pairing code/);
      const claim = await headset.call(2, { method: 'control', take: true });
      assert.match(claim.error ?? '', /not paired: it may only watch/);
      const before = session.operator.headset!.counters().accepted;
      for (let seq = 1; seq <= 10; seq++) {
        const p = -0.01 * seq; // 10 cm forward over the frames, clutch and trigger held
        const answer = await headset.call(10 + seq, {
          method: 'xr',
          packet: xrFrame({ seq, position: [0, 1, p], squeeze: true, trigger: true }),
        });
        assert.equal(answer.ok, false);
        assert.match(answer.error ?? '', /only from the paired headset in control/);
        await ticks(1);
      }
      assert.equal(session.operator.headset!.counters().accepted, before, 'no frame was taken');
      assert.ok(dist(await ticks(3), start) < 1e-3, 'the tool point did not move');
    } finally {
      await headset.close();
    }
  });

  it('malformed, oversized and out-of-order frames are ignored and counted; good ones drive', async () => {
    const headset = await pairedHeadset();
    try {
      const xr = (packet: unknown) => sendFrame(headset, packet);
      // Clutch engaged at the rest position: the target is where the tool point is.
      let seq = 0;
      let position: [number, number, number] = [0, 1, 0];
      const stream = () => xr(xrFrame({ seq: ++seq, position, squeeze: true }));
      const first = await stream();
      assert.equal(first.result, 'accepted');
      assert.equal(first.seq, 1);
      assert.ok(first.receivedAt >= first.t! - 1, 'the ack echoes the stamp; it came after it');
      const latched = await ticks(2, stream);
      const counted = session.operator.headset!.counters();

      const moved = xrFrame({ seq: seq + 2, position: [0, 1, -0.08], squeeze: true });
      const bad: [unknown, string][] = [
        [
          {
            ...moved,
            controllers: [{ ...moved.controllers[0], grip: { position: [0, 'up', 0] } }],
          },
          'malformed',
        ],
        [{ ...moved, controllers: [{ ...moved.controllers[0], axes: [NaN] }] }, 'malformed'],
        [{ ...moved, padding: 'x'.repeat(5000) }, 'oversized'],
        [xrFrame({ seq: ++seq, position, squeeze: true }), 'accepted'],
        [{ ...moved, seq: 1 }, 'out-of-order'],
        [{ ...moved, seq }, 'out-of-order'],
      ];
      for (const [packet, expected] of bad) {
        assert.equal((await xr(packet)).result, expected, JSON.stringify(packet).slice(0, 80));
      }
      const counters = session.operator.headset!.counters();
      assert.equal(counters.malformed - counted.malformed, 2);
      assert.equal(counters.oversized - counted.oversized, 1);
      assert.equal(counters.outOfOrder - counted.outOfOrder, 2);
      assert.ok(dist(await ticks(5, stream), latched) < 2e-3, 'no bad frame moved the robot');

      // Good frames 8 cm forward: the tool point follows along the robot's +x.
      position = [0, 1, -0.08];
      const after = await ticks(12, stream);
      assert.ok(
        Math.abs(after[0]! - latched[0]! - 0.08) < 0.01,
        `moved ${after[0]! - latched[0]!}`,
      );
      assert.ok(Math.abs(after[1]! - latched[1]!) < 0.01);
    } finally {
      await headset.close();
    }
  });

  it('frames faster than the rate bound are dropped unread and counted', async () => {
    const headset = await pairedHeadset();
    try {
      const before = session.operator.headset!.counters();
      // 20 frames back to back (no pacing): beyond the burst of 5, most come sooner than 1/150 s after the last.
      const acks = (await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          headset.ask({ method: 'xr', packet: xrFrame({ seq: i + 1, position: [0, 1, 0] }) }),
        ),
      )) as XrAck[];
      const dropped = acks.filter((a) => a.result === 'too-fast').length;
      assert.ok(dropped >= 10, `${dropped} of 20 dropped`);
      const after = session.operator.headset!.counters();
      assert.equal(after.tooFast - before.tooFast, dropped);
      assert.equal(after.accepted - before.accepted, 20 - dropped);
    } finally {
      await headset.close();
    }
  });

  it('a disconnect mid-intervention holds at once and falls back to paused', async () => {
    await desk.ask({
      method: 'mode',
      command: { type: 'set-mode', mode: 'autonomous', origin: 'ui' },
    });
    const headset = await pairedHeadset();
    try {
      const xr = (packet: unknown) => sendFrame(headset, packet);
      await xr(xrFrame({ seq: 1, position: [0, 1, 0], squeeze: true, a: true }));
      assert.equal(session.modes.mode, 'intervention', 'A held takes over (hold style)');
      await ticks(1);
      await xr(xrFrame({ seq: 2, position: [0, 1, -0.3], squeeze: true, a: true }));
      await ticks(1); // moving toward a target 30 cm ahead
    } finally {
      await headset.close();
    }
    // The server sees the close on its own socket: wait for that, not a fixed time.
    const mode = (): string => session.modes.mode; // (not narrowed by the assertion above)
    for (const deadline = Date.now() + 10_000; mode() !== 'paused';) {
      assert.ok(Date.now() < deadline, `still ${mode()} 10 s after the disconnect`);
      await sleep(5);
    }
    const heldAt = tcp();
    assert.ok(dist(await ticks(5), heldAt) < 1e-3, 'held still after the disconnect');
    session.flush();
    const alarms = studio.store.listEvents(session.runId).filter((e) => e.kind === 'safety.alarm');
    assert.match(
      JSON.stringify(alarms.at(-1)?.payload),
      /headset disconnected while the operator drove/,
    );
  });

  it(
    'an unpaired client on the LAN only watches: no commands, no pairing code; e-stop works',
    { skip: LAN ? false : 'this machine has no non-loopback address' },
    async () => {
      const watcher = await RpcTestClient.connect(headsetUrl);
      try {
        const status = await watcher.call(1, { method: 'status' });
        assert.equal(status.ok, true, 'it may watch');
        const refused = [
          { method: 'mode', command: { type: 'set-mode', mode: 'autonomous', origin: 'ui' } },
          { method: 'teleop', packet: { seq: 1, action: [1, 0, 0, 1] } },
          { method: 'episode', command: 'success' },
          { method: 'pairing' },
        ];
        for (const call of refused) {
          const answer = await watcher.call(2, call);
          assert.equal(answer.ok, false, call.method);
          assert.match(answer.error ?? '', /only watches|studio's machine/, call.method);
        }
        assert.equal(session.operator.teleop.latest, undefined);
        const stop = await watcher.call(3, {
          method: 'mode',
          command: { type: 'e-stop', origin: 'headset' },
        });
        assert.equal(stop.ok, true, 'anyone may stop the robot');
        assert.equal(session.modes.mode, 'e-stop');
        await desk.ask({ method: 'mode', command: { type: 'reset', origin: 'ui' } });
      } finally {
        await watcher.close();
      }
    },
  );

  it('a revoked headset loses control and is a watcher again; revoked while driving: paused', async () => {
    await desk.ask({
      method: 'mode',
      command: { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
    });
    const headset = await pairedHeadset();
    try {
      await sendFrame(headset, xrFrame({ seq: 1, position: [0, 1, 0], squeeze: true }));
      const { paired } = (await desk.ask({ method: 'pairing' })) as PairingStatus;
      for (const p of paired)
        assert.equal(await desk.ask({ method: 'revoke', pairingId: p.id }), true);
      const answer = await headset.call(1, {
        method: 'xr',
        packet: xrFrame({ seq: 99, position: [0, 1, 0] }),
      });
      assert.equal(answer.ok, false);
      assert.equal(((await desk.ask({ method: 'pairing' })) as PairingStatus).paired.length, 0);
      assert.equal(session.modes.mode, 'paused', 'the headset drove: revoking it pauses');
    } finally {
      await headset.close();
    }
  });
});

describe('a stale headset stream (session, virtual clock)', () => {
  it('holds at the first tick past 250 ms and pauses', async () => {
    const studio = await startRpcStudio('xr-stale.db');
    const { session } = studio;
    const seen: { verdict?: string | undefined; tcp: number[] }[] = [];
    session.on((e) => {
      if (e.event === 'telemetry')
        seen.push({ verdict: e.data.safety?.verdict, tcp: e.data.obs.slice(TCP, TCP + 3) });
    });
    try {
      session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
      let seq = 0;
      // A frame every tick (100 ms) for 6 ticks, moving forward with the clutch held; then none.
      session.xrPacket(xrFrame({ seq: ++seq, position: [0, 1, 0], squeeze: true }));
      await session.runHeadless({
        ticks: 6,
        learnerStepsPerTick: 0,
        onTick: (s) =>
          void s.xrPacket(xrFrame({ seq: ++seq, position: [0, 1, -0.02 * seq], squeeze: true })),
      });
      await session.runHeadless({ ticks: 5, learnerStepsPerTick: 0 });
      const last = seen.slice(-5);
      assert.deepEqual(
        last.map((t) => t.verdict),
        ['pass', 'pass', 'pass', 'held', undefined],
        'the ticks 0, 100 and 200 ms after the last frame use it; the one at 300 ms holds, then paused',
      );
      assert.equal(session.modes.mode, 'paused');
      const heldAt = last[3]!.tcp;
      assert.ok(dist(last[4]!.tcp, heldAt) < 1e-3);
    } finally {
      await studio.close();
    }
  });
});
