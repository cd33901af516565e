import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PairingStatus } from '../../src/protocol/index.ts';
import { Session } from '../../src/studio/session.ts';
import { ScriptedHeadset } from '../operator/scripted-headset.ts';
import { RpcTestClient, startRpcStudio } from './rpc-studio.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('demonstrations through the headset path', { timeout: 120_000 }, () => {
  it('a scripted headset records 5 panda-lift demos live; they load as the learner demo buffer', async () => {
    // Live at 50 Hz (each tick still simulates the task's 100 ms), BC-warmup, human operator.
    const studio = await startRpcStudio('headset-demos.db', { config: { rateHz: 50 } });
    const { session, store } = studio;
    const desk = await RpcTestClient.connect(studio.url);
    const headsetClient = await RpcTestClient.connect(studio.url);
    try {
      const { code } = (await desk.ask({ method: 'pairing' })) as PairingStatus;
      await headsetClient.ask({ method: 'pair', code });
      await headsetClient.ask({ method: 'control', take: true });
      const headset = new ScriptedHeadset(headsetClient, session.robot.spec, 0.025);
      await desk.ask({
        method: 'mode',
        command: { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
      });
      session.startLive({ train: false });
      const deadline = Date.now() + 90_000;
      while (headset.finished.filter((e) => e.outcome === 'success').length < 5) {
        assert.ok(Date.now() < deadline, `episodes so far: ${JSON.stringify(headset.finished)}`);
        await sleep(100);
      }
      await desk.ask({
        method: 'mode',
        command: { type: 'set-mode', mode: 'paused', origin: 'ui' },
      });
      await session.stopLive();
      session.flush();

      const demos = store.listEpisodes({ runId: session.runId, kind: 'demo', outcome: 'success' });
      assert.ok(demos.length >= 5, `${demos.length} successful demos`);
      const failed = headset.finished.filter((e) => e.outcome !== 'success');
      assert.ok(failed.length <= 1, `failed: ${JSON.stringify(failed)}`);
      assert.ok(headset.acks.every((a) => a.result === 'accepted' || a.result === 'too-fast'));
      const transitions = demos.slice(0, 5).flatMap((e) => store.readTransitions(e.id));
      for (const e of demos) {
        const steps = store.readSteps(e.id);
        assert.ok(
          steps.every((s) => s.source === 'human' && !s.intervened),
          'driven by the human in BC-warmup',
        );
        assert.ok(
          steps.some((s) => s.action[3] === 1),
          'the gripper closed on the cube',
        );
      }

      // The demos as a new session's demo buffer: the learner takes them and trains on them.
      const learner = await Session.open(
        store,
        {
          task: { task: 'sim/panda-lift', options: {} },
          learner: { ensembleSize: 2, hidden: [32, 32], batchSize: 32 },
        },
        { demos: transitions },
      );
      try {
        assert.equal(learner.status().learner.demo, transitions.length);
        learner.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'scripted' });
        await learner.runHeadless({ ticks: 3, learnerStepsPerTick: 5 });
        assert.ok(learner.status().policyVersion >= 10, 'the learner trained on the demo buffer');
      } finally {
        await learner.close();
      }
    } finally {
      await headsetClient.close();
      await desk.close();
      await studio.close();
    }
  });
});
