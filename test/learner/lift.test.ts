import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LearnerConfig } from '../../src/learner/config.ts';
import { LearnerLink, packTransitions } from '../../src/learner/link.ts';
import { PolicyRunner } from '../../src/learner/policy.ts';
import { LEARNER_PRESETS } from '../../src/learner/presets.ts';
import { createExpert, SafeRobot } from '../../src/robots/index.ts';
import { PandaLift } from '../../src/robots/sim/panda-lift.ts';
import { Recorder, Store } from '../../src/store/index.ts';
import { recordEpisodes } from '../../src/studio/record.ts';
import { evaluatePolicy, trainOnline } from '../../src/studio/train.ts';

const ENV_STEPS = 4000;
const EVAL_EPISODES = 10;

describe('learner on sim/panda-lift from 20 scripted demos', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-lift-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`lifts the cube clearly more often than the untrained policy after ${ENV_STEPS} env steps`, async () => {
    const robot = new SafeRobot(await PandaLift.create());
    const store = Store.open(join(dir, 'lift.db'));
    const recorder = new Recorder(store);
    const obsDim = robot.spec.observation.names.length;
    const actionDim = robot.spec.action.names.length;
    // The small ensemble keeps the test in a CI budget; the benchmark runs the preset's.
    const config = LearnerConfig.parse({
      ...LEARNER_PRESETS['sim/panda-lift'],
      ensembleSize: 2,
      actorLoss: 'sac+bc',
      seed: 0,
    });
    const link = await LearnerLink.start({ obsDim, actionDim, config });
    try {
      const spec = robot.spec;
      const demoRun = store.createRun({
        command: 'record',
        task: spec.task,
        config: { command: 'record', task: { task: 'sim/panda-lift' } },
        spec,
      });
      recordEpisodes({
        robot,
        expert: createExpert(robot),
        recorder,
        runId: demoRun,
        episodes: 20,
        seed: 500,
        kind: 'demo',
      });
      recorder.flush();
      const demos = store
        .listEpisodes({ runId: demoRun, kind: 'demo' })
        .flatMap((e) => store.readTransitions(e.id));
      link.add('demo', packTransitions(demos, obsDim, actionDim));

      const runId = store.createRun({
        command: 'train',
        task: spec.task,
        config: { command: 'train', task: { task: 'sim/panda-lift' } },
        spec,
      });
      const policy = new PolicyRunner(obsDim, actionDim, [config.logStdMin, config.logStdMax]);
      policy.load(await link.train(0)); // the untrained actor
      const common = {
        robot,
        link,
        policy,
        recorder,
        runId,
        randomSteps: 0,
        learnerStepsPerEnvStep: 1,
        evalEpisodes: EVAL_EPISODES,
        seed: 0,
      };
      const untrained = evaluatePolicy({ ...common, episodes: EVAL_EPISODES, envSteps: 0 });
      const results = await trainOnline({ ...common, envSteps: ENV_STEPS, evalEvery: ENV_STEPS });
      const trained = results.at(-1)!;
      assert.ok(
        trained.successRate >= 0.5 && trained.successRate >= untrained.successRate + 0.3,
        `success ${trained.successRate} after training vs ${untrained.successRate} untrained`,
      );
      assert.equal(store.listEpisodes({ runId, kind: 'eval' }).length, 2 * EVAL_EPISODES);
    } finally {
      recorder.close();
      await link.close();
      robot.close();
      store.close();
    }
  });
});
