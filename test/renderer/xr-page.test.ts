import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XrPacket } from '../../src/protocol/xr.ts';
import { controllerOf, packetFromFrame } from '../../renderer/xr/frame.ts';
import { hudLines, INITIAL_HUD } from '../../renderer/xr/hud.ts';
import { MAX_IN_FLIGHT, XrStream } from '../../renderer/xr/stream.ts';
import type { XrAck } from '../../src/protocol/xr.ts';

/** The slice of WebXR's objects the page reads, with poses as a real frame gives them. */
function fakeFrame(opts: {
  sources: {
    hand: 'left' | 'right' | 'none';
    at?: number[];
    buttons?: number[];
    axes?: number[];
  }[];
  emulated?: boolean;
}): XRFrame {
  const spaces = new Map<object, number[] | undefined>();
  const sources = opts.sources.map((s) => {
    const grip = {};
    const ray = {};
    spaces.set(grip, s.at);
    spaces.set(ray, s.at);
    return {
      handedness: s.hand,
      gripSpace: grip,
      targetRaySpace: ray,
      gamepad: {
        buttons: (s.buttons ?? []).map((value) => ({ value })),
        axes: s.axes ?? [],
      },
    };
  });
  const frame = {
    session: { inputSources: sources },
    getPose(space: object) {
      const at = spaces.get(space);
      if (!at) return undefined;
      return {
        transform: {
          position: { x: at[0], y: at[1], z: at[2] },
          orientation: { x: 0, y: 0, z: 0, w: 1 },
        },
      };
    },
    getViewerPose() {
      return { emulatedPosition: opts.emulated ?? false };
    },
  };
  return frame as unknown as XRFrame;
}
const space = {} as XRReferenceSpace;

describe('the headset page: frames from WebXR', () => {
  it('streams both hands with poses, buttons and axes, in a packet the studio parses', () => {
    const frame = fakeFrame({
      sources: [
        {
          hand: 'right',
          at: [0.1, 1.2, -0.3],
          buttons: [1, 0.7, 0, 0, 1, 0],
          axes: [0, 0, 0.5, -2],
        },
        { hand: 'left', at: [-0.2, 1.1, -0.2], buttons: [0, 0] },
        { hand: 'none', at: [0, 0, 0] },
      ],
    });
    const packet = packetFromFrame(frame, space, 7, 1234.5);
    assert.equal(XrPacket.safeParse(packet).success, true);
    assert.equal(packet.seq, 7);
    assert.equal(packet.controllers.length, 2, 'hands only, one each');
    const right = packet.controllers.find((c) => c.hand === 'right')!;
    assert.deepEqual(right.grip?.position, [0.1, 1.2, -0.3]);
    assert.deepEqual(right.buttons, [1, 0.7, 0, 0, 1, 0]);
    assert.deepEqual(right.axes, [0, 0, 0.5, -1], 'axes clamped to [-1, 1]');
    assert.equal(packet.tracking, true);
  });

  it('an untracked controller has no pose; an emulated headset position reads as lost tracking', () => {
    const frame = fakeFrame({ sources: [{ hand: 'right', buttons: [0, 1] }], emulated: true });
    const c = controllerOf(frame.session.inputSources[0]!, frame, space)!;
    assert.equal(c.grip, undefined);
    const packet = packetFromFrame(frame, space, 1, 0);
    assert.equal(packet.tracking, false);
    assert.equal(XrPacket.safeParse(packet).success, true);
  });
});

describe('the headset page: the stream', () => {
  it('measures the round trip from the echoed stamp and never has more than a few frames in flight', async () => {
    let clock = 0;
    const pending: ((ack: XrAck) => void)[] = [];
    const stream = new XrStream(
      (p) =>
        new Promise((resolve) =>
          pending.push(() => resolve({ seq: p.seq, t: p.t, result: 'accepted', receivedAt: 0 })),
        ),
      () => clock,
    );
    const packet = (seq: number) => ({ seq, t: clock, controllers: [] });
    let sent = 0;
    for (let i = 0; i < 20; i++) {
      clock += 10;
      if (stream.offer(packet(i))) sent++;
    }
    assert.equal(sent, MAX_IN_FLIGHT, 'the link is saturated: the rest skipped, not queued');
    assert.equal(stream.stats().skipped, 20 - MAX_IN_FLIGHT);
    clock += 5;
    for (const ack of pending.splice(0)) ack({} as XrAck);
    await new Promise((r) => setImmediate(r));
    const stats = stream.stats();
    assert.equal(stats.acked, MAX_IN_FLIGHT);
    // Frame k was stamped at 10(k+1) and acked at 205: round trips 125 … 195, median 155.
    assert.equal(stats.rttP50, 155);
    assert.equal(stream.offer(packet(98)), true, 'acked: room again');
    clock += 1;
    assert.equal(stream.offer(packet(99)), false, 'too soon after the last frame (rate bound)');
  });

  it('the HUD says who is in control, the mode, the recording, the latencies and the alarm', () => {
    const lines = hudLines({
      ...INITIAL_HUD,
      connection: 'open',
      role: 'control',
      mode: 'intervention',
      recording: true,
      rttMs: 4.25,
      latencyMs: 12,
      clutch: true,
      gripper: true,
      lastOutcome: 'success (64 steps)',
      alarm: 'operator input stale',
    });
    assert.deepEqual(lines, [
      'INTERVENTION  ● REC',
      'in control',
      'round trip 4.3 ms · to robot 12.0 ms',
      'clutch held · gripper closing',
      'last episode: success (64 steps)',
      '⚠ operator input stale',
    ]);
    assert.match(
      hudLines({ ...INITIAL_HUD, connection: 'reconnecting' })[1]!,
      /studio reconnecting/,
    );
  });
});
