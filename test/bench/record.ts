import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { box } from '../../src/protocol/index.ts';
import { createExpert } from '../../src/robots/index.ts';
import { PANDA_LIFT_MODEL, PandaLift } from '../../src/robots/sim/panda-lift.ts';
import { loadModel } from '../../src/robots/sim/mujoco.ts';
import { Recorder, Store } from '../../src/store/index.ts';
import { Random } from '../../src/util/random.ts';
import { type BenchResult, figure } from './harness.ts';

const OBS_DIM = 24; // panda-lift's state observation
const ACTION_DIM = 4;
const EPISODE_STEPS = 100;

/** Steps per second through the Recorder into a fresh database file, closed (all flushed) at the end. */
function recorderRate(steps: number, maxBatch: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-'));
  const store = Store.open(join(dir, 'bench.db'));
  try {
    const spec = {
      task: 'bench',
      observation: box(
        Array.from({ length: OBS_DIM }, (_, i) => `o${i}`),
        -1,
        1,
      ),
      action: box(['dx', 'dy', 'dz', 'gripper'], -1, 1),
      rateHz: 10,
      maxSteps: EPISODE_STEPS,
    };
    const runId = store.createRun({
      command: 'bench',
      task: 'bench',
      config: { command: 'bench', task: { task: 'probe' } },
      spec,
    });
    const rng = new Random(1);
    const obs = Float64Array.from({ length: OBS_DIM }, () => rng.uniform(-1, 1));
    const action = Float64Array.from({ length: ACTION_DIM }, () => rng.uniform(-1, 1));
    const recorder = new Recorder(store, { maxBatch });
    const start = performance.now();
    for (let done = 0; done < steps; done += EPISODE_STEPS) {
      const episodeId = recorder.beginEpisode({
        runId,
        task: 'bench',
        kind: 'demo',
        seed: done,
        obsDim: OBS_DIM,
        actionDim: ACTION_DIM,
      });
      for (let index = 0; index < EPISODE_STEPS; index++) {
        obs[0] = index;
        recorder.record(episodeId, {
          index,
          t: index / 10,
          obs,
          action,
          proposed: action,
          reward: 0,
          done: false,
          truncated: index === EPISODE_STEPS - 1,
          source: 'scripted',
          intervened: false,
          policyVersion: 0,
        });
      }
      recorder.endEpisode(episodeId, { outcome: 'timeout', finalObs: obs });
    }
    recorder.close();
    return steps / ((performance.now() - start) / 1000);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Control steps per second of panda-lift driven by `act`, over whole episodes. */
function simRate(
  robot: PandaLift,
  episodes: number,
  act: (obs: Float64Array) => number[],
  reset: () => void,
): number {
  let steps = 0;
  const start = performance.now();
  for (let e = 0; e < episodes; e++) {
    let obs = robot.reset(e);
    reset();
    for (let t = 0; t < robot.spec.maxSteps; t++) {
      const result = robot.step(act(obs));
      steps++;
      obs = result.obs;
      if (result.done || result.truncated) break;
    }
  }
  return steps / ((performance.now() - start) / 1000);
}

export async function benchRecord(repeats = 5): Promise<BenchResult> {
  const batched: number[] = [];
  const perStep: number[] = [];
  for (let r = 0; r < repeats; r++) {
    batched.push(recorderRate(100_000, 1000));
    perStep.push(recorderRate(10_000, 1));
  }

  const robot = await PandaLift.create();
  const expert = createExpert(robot);
  const rng = new Random(3);
  const random = () => [
    rng.uniform(-1, 1),
    rng.uniform(-1, 1),
    rng.uniform(-1, 1),
    rng.uniform(-1, 1),
  ];
  const { mj, model, data } = await loadModel(PANDA_LIFT_MODEL);
  const expertRates: number[] = [];
  const randomRates: number[] = [];
  const physicsRates: number[] = [];
  simRate(
    robot,
    5,
    (o) => expert.act(o),
    () => expert.reset(),
  ); // warm-up
  for (let r = 0; r < repeats; r++) {
    expertRates.push(
      simRate(
        robot,
        40,
        (o) => expert.act(o),
        () => expert.reset(),
      ),
    );
    randomRates.push(simRate(robot, 10, random, () => undefined));
    mj.mj_resetDataKeyframe(model, data, 0);
    const start = performance.now();
    for (let i = 0; i < 20_000; i++) mj.mj_step(model, data);
    physicsRates.push(20_000 / ((performance.now() - start) / 1000));
  }
  robot.close();
  data.delete();
  model.delete();

  const result: BenchResult = {
    title: 'record: Recorder and sim/panda-lift',
    figures: [
      figure('Recorder, batched (1000 steps/transaction), 24-D obs', 'steps/s', batched, 100_000),
      figure('Recorder, one transaction per step', 'steps/s', perStep),
      figure('panda-lift control steps, scripted expert', 'steps/s', expertRates, 500),
      figure('panda-lift control steps, random actions', 'steps/s', randomRates, 500),
      figure('bare MuJoCo physics steps (same model, no control)', 'steps/s', physicsRates),
    ],
    comparisons: [],
    notes: [],
  };
  const [b, p, e, rnd, phys] = result.figures.map((f) => f.median) as [
    number,
    number,
    number,
    number,
    number,
  ];
  result.comparisons.push(
    { name: 'Recorder batched / one transaction per step', ratio: b / p },
    {
      name: 'physics time share of a control step (expert): 50 physics steps at the bare rate / control step time',
      ratio: (50 * e) / phys,
    },
  );
  result.notes.push(
    `real-time factor at 10 Hz: ${(e / 10).toFixed(0)}× (expert), ${(rnd / 10).toFixed(0)}× (random actions)`,
    'each control step is 50 physics steps of 2 ms plus damped least-squares IK (2 iterations of mj_jacSite) and the observation',
  );
  return result;
}
