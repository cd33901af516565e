import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LearnerConfig } from '../../src/learner/config.ts';
import { LearnerLink } from '../../src/learner/link.ts';
import { PolicyRunner } from '../../src/learner/policy.ts';
import { LEARNER_PRESETS } from '../../src/learner/presets.ts';
import { SafeRobot } from '../../src/robots/index.ts';
import { Probe } from '../../src/robots/probe/probe.ts';
import { Recorder, Store } from '../../src/store/index.ts';
import { trainOnline } from '../../src/studio/train.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-probe-'));

/** Trains on the probe through the real worker, recording into SQLite; returns the last evaluation. */
async function learnProbe(actionDim: number, target: number) {
  const robot = new Probe({ actionDim, target, reward: 'mse' });
  const store = Store.open(join(dir, `probe-${actionDim}.db`));
  const config = LearnerConfig.parse({ ...LEARNER_PRESETS.probe, seed: 1 });
  const link = await LearnerLink.start({ obsDim: 4, actionDim, config });
  const recorder = new Recorder(store);
  try {
    const runId = store.createRun({
      command: 'test',
      task: 'probe',
      config: { command: 'test', task: { task: 'probe', options: robot.options } },
      spec: robot.spec,
    });
    const results = await trainOnline({
      robot: new SafeRobot(robot),
      link,
      policy: new PolicyRunner(4, actionDim, [config.logStdMin, config.logStdMax]),
      recorder,
      runId,
      envSteps: 1200,
      randomSteps: 200,
      learnerStepsPerEnvStep: 1,
      evalEvery: 400,
      evalEpisodes: 1,
      seed: 0,
    });
    recorder.close();
    const evals = store.listEpisodes({ runId, kind: 'eval' });
    return { results, evals, untrained: results[0]! };
  } finally {
    await link.close();
    store.close();
  }
}

describe('learner on the probe task (mse reward)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [dim, target] of [
    [2, 0],
    [6, 0.5],
  ] as const) {
    it(`outputs the target action ${target} in ${dim} dimensions: mean eval step reward ≥ −0.01`, async () => {
      const { results, evals } = await learnProbe(dim, target);
      const last = results.at(-1)!;
      assert.ok(
        last.meanStepReward >= -0.01,
        `mean step reward ${last.meanStepReward.toFixed(4)} after ${last.envSteps} env steps`,
      );
      assert.equal(evals.length, results.length, 'every evaluation is recorded as an eval episode');
      assert.ok(evals.every((e) => e.numSteps === 200));
      assert.ok(last.policyVersion >= 1000, `policy version ${last.policyVersion}`);
    });
  }
});
