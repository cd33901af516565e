import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/index.ts';
import type { Session } from '../../src/studio/session.ts';
import { RpcTestClient as Client, startRpcStudio } from './rpc-studio.ts';

describe('studio RPC over WebSocket (real session, real socket on loopback)', () => {
  let studio: Awaited<ReturnType<typeof startRpcStudio>>;
  let store: Store;
  let session: Session;
  let url: string;
  let client: Client;

  before(async () => {
    studio = await startRpcStudio('rpc.db');
    ({ store, session, url } = studio);
    client = await Client.connect(url);
  });
  after(async () => {
    client.ws.close();
    await studio.close();
  });

  it('answers a status call', async () => {
    const answer = await client.call(1, { method: 'status' });
    assert.equal(answer.ok, true);
    assert.equal((answer.result as { mode: string }).mode, 'paused');
  });

  it('malformed requests get a clear error and change nothing', async () => {
    const before = session.status();
    const cases: [string, RegExp][] = [
      ['not json', /not JSON/],
      [JSON.stringify({ method: 'status' }), /needs a numeric "id"/],
      [JSON.stringify({ id: 2, method: 'fly' }), /method/],
      [
        JSON.stringify({
          id: 3,
          method: 'mode',
          command: { type: 'set-mode', mode: 'warp', origin: 'ui' },
        }),
        /command/,
      ],
      [JSON.stringify({ id: 4, method: 'mode', command: { type: 'e-stop' } }), /command/],
      [
        JSON.stringify({ id: 5, method: 'mode', command: { type: 'reset', origin: 'ui' } }),
        /refused/,
      ],
      [
        JSON.stringify({ id: 6, method: 'teleop', packet: { seq: 1, action: [0, 0, 'up', 1] } }),
        /teleop packet refused/,
      ],
      [
        JSON.stringify({ id: 7, method: 'teleop', packet: { seq: 1, action: [0, 0, 1] } }),
        /3 entries, the robot takes 4/,
      ],
      [JSON.stringify({ id: 8, method: 'episode', command: 'explode' }), /command/],
      [JSON.stringify({ id: 9, method: 'status', extra: 1 }), /malformed request/],
      [
        JSON.stringify({ id: 10, method: 'rollback' }),
        /no rollback point: this session has not handed over from BC-warmup to autonomous/,
      ],
    ];
    for (const [text, reason] of cases) {
      const answer = await client.send(text);
      assert.equal(answer.ok, false, text);
      assert.match(answer.error ?? '', reason, text);
    }
    const afterwards = session.status();
    assert.equal(afterwards.mode, before.mode);
    assert.equal(afterwards.loop.ticks, before.loop.ticks);
    assert.equal(session.operator.teleop.latest, undefined, 'no bad packet was taken');
    assert.equal(store.countEpisodes({ runId: session.runId }), 0);
  });

  it('a mode call changes the mode and every client hears of it', async () => {
    const other = await Client.connect(url);
    try {
      const answer = await client.call(10, {
        method: 'mode',
        command: { type: 'set-mode', mode: 'autonomous', origin: 'ui' },
      });
      assert.equal(answer.ok, true);
      assert.equal(session.modes.mode, 'autonomous');
      // The studio sends the mode event to every client as the mode changes, before it answers:
      // an answer to a later request on the other socket comes after the event on it.
      await other.call(12, { method: 'status' });
      assert.ok(
        other.events.some(
          (e) => e.event === 'mode' && (e.data as { to: string }).to === 'autonomous',
        ),
      );
      const stop = await client.call(11, {
        method: 'mode',
        command: { type: 'e-stop', origin: 'keyboard' },
      });
      assert.equal(stop.ok, true);
      assert.equal(session.modes.mode, 'e-stop');
    } finally {
      other.ws.close();
    }
  });

  it('serves the review: scene, episodes, steps, replayed poses, annotations written to SQLite', async () => {
    const scene = (await client.call(20, { method: 'scene' })).result as {
      bodies: { name: string }[];
      geoms: { type: string }[];
    };
    assert.ok(scene.bodies.length > 5 && scene.geoms.some((g) => g.type === 'box'));
    // Record one short episode: e-stop reset, then BC-warmup with nobody sending packets is held
    // still by the safety layer, but still recorded.
    session.command({ type: 'reset', origin: 'ui' });
    session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
    await session.runHeadless({ ticks: 5, learnerStepsPerTick: 0 });
    session.episode('failure');
    session.flush();
    const episodes = (await client.call(21, { method: 'episodes', filter: { kind: 'demo' } }))
      .result as { id: number; numSteps: number }[];
    assert.equal(episodes.length, 1);
    const id = episodes[0]!.id;
    const steps = (await client.call(22, { method: 'steps', episodeId: id })).result as unknown[];
    assert.equal(steps.length, episodes[0]!.numSteps);
    const replay = (await client.call(23, { method: 'replay', episodeId: id })).result as {
      poses: number[][];
    };
    assert.equal(replay.poses.length, steps.length + 1);
    assert.equal(replay.poses[0]!.length, 7 * scene.bodies.length);
    const labelled = await client.call(24, {
      method: 'annotate',
      episodeId: id,
      label: 'success',
      notes: 'the cube slipped but it counts',
    });
    assert.equal(labelled.ok, true);
    const stored = store.getEpisode(id)!;
    assert.equal(stored.label, 'success');
    assert.equal(stored.notes, 'the cube slipped but it counts');
    // Trim: only steps [1, 3) are kept for learning; all stay stored and replayable.
    const trimmed = await client.call(27, {
      method: 'annotate',
      episodeId: id,
      trim: { start: 1, end: 3 },
    });
    assert.equal(trimmed.ok, true, trimmed.error);
    assert.deepEqual(store.getEpisode(id)!.trim, { start: 1, end: 3 });
    assert.equal(store.readTransitions(id).length, 2);
    assert.equal(store.readSteps(id).length, steps.length);
    const tooFar = await client.call(28, {
      method: 'annotate',
      episodeId: id,
      trim: { start: 0, end: steps.length + 1 },
    });
    assert.match(tooFar.error ?? '', /cannot trim/);
    await client.call(29, { method: 'annotate', episodeId: id, trim: null });
    assert.equal(store.getEpisode(id)!.trim, undefined);
    assert.equal(store.readTransitions(id).length, steps.length);
    const missing = await client.call(25, { method: 'steps', episodeId: 999 });
    assert.match(missing.error ?? '', /there is no episode 999/);
    const badFilter = await client.call(26, { method: 'episodes', filter: { colour: 'red' } });
    assert.equal(badFilter.ok, false);
  });

  it('refuses a browser page from another origin', async () => {
    await assert.rejects(
      Client.connect(url, { origin: 'https://evil.example' }),
      /Unexpected server response: 401/,
    );
  });
});
