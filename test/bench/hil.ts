import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRobot } from '../../src/robots/index.ts';
import { Recorder, Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { evaluatePolicy } from '../../src/studio/train.ts';
import type { BenchResult, Figure } from './harness.ts';
import { figure } from './harness.ts';

/** The learner of the HIL runs: the panda-lift preset with 2 critics (what fits the budget). */
const LEARNER = { ensembleSize: 2 };

interface Point {
  envSteps: number;
  seconds: number;
  success: number;
  /** Share of the autonomous-phase ticks since the previous point that the expert drove. */
  interventionRate: number;
}

interface HilRun {
  label: string;
  points: Point[];
  /** First point at ≥ 80 % success. */
  reached?: Point;
  interventions: number;
}

/**
 * One human-in-the-loop run, headless and lock-stepped (one learner step per control tick): the
 * scripted expert drives `warmupTicks` of BC-warmup (demo episodes, actor trained by BC), then the
 * policy drives with sac+bc; with `interventions` the expert takes over whenever the policy strays.
 * Every `evalEvery` ticks the policy's mean action is evaluated alone on fixed seeds.
 */
async function hilRun(opts: {
  label: string;
  interventions: boolean;
  warmupTicks: number;
  ticks: number;
  evalEvery: number;
  evalEpisodes: number;
}): Promise<HilRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-hil-'));
  const store = Store.open(join(dir, 'hil.db'));
  const session = await Session.open(store, {
    task: { task: 'sim/panda-lift', options: {} },
    operator: 'scripted',
    scriptedInterventions: opts.interventions,
    learner: LEARNER,
    autoResetMs: 0,
    seed: 1,
  });
  const evalRobot = await createRobot(session.config.task);
  const evalRecorder = new Recorder(store);
  const started = performance.now();
  const points: Point[] = [];
  try {
    session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'scripted' });
    await session.runHeadless({ ticks: opts.warmupTicks, learnerStepsPerTick: 1 });
    session.command({ type: 'set-mode', mode: 'autonomous', origin: 'scripted' });
    let driven = 0;
    let intervened = 0;
    for (let done = 0; done < opts.ticks; done += opts.evalEvery) {
      const before = session.status().interventions.steps;
      await session.runHeadless({ ticks: opts.evalEvery, learnerStepsPerTick: 1 });
      driven += opts.evalEvery;
      intervened = session.status().interventions.steps - before;
      const result = evaluatePolicy({
        robot: evalRobot,
        policy: session.policy,
        recorder: evalRecorder,
        runId: session.runId,
        episodes: opts.evalEpisodes,
        seed: 7,
        envSteps: opts.warmupTicks + driven,
      });
      const point = {
        envSteps: opts.warmupTicks + driven,
        seconds: (performance.now() - started) / 1000,
        success: result.successRate,
        interventionRate: intervened / opts.evalEvery,
      };
      points.push(point);
      console.log(
        `  ${opts.label}: ${point.envSteps} env steps, ${point.seconds.toFixed(0)} s: eval success ${(100 * point.success).toFixed(0)}%, intervention rate ${(100 * point.interventionRate).toFixed(0)}%`,
      );
    }
    const reached = points.find((p) => p.success >= 0.8);
    return {
      label: opts.label,
      points,
      ...(reached ? { reached } : {}),
      interventions: session.status().interventions.count,
    };
  } finally {
    evalRecorder.close();
    evalRobot.close();
    await session.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchHil({ quick = false } = {}): Promise<BenchResult> {
  const budget = quick
    ? { warmupTicks: 200, ticks: 200, evalEvery: 100, evalEpisodes: 3 }
    : { warmupTicks: 1000, ticks: 5000, evalEvery: 500, evalEpisodes: 20 };
  const runs = [
    await hilRun({ label: 'BC-warmup then RL', interventions: false, ...budget }),
    await hilRun({ label: 'BC-warmup then RL with interventions', interventions: true, ...budget }),
  ];
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const run of runs) {
    const last = run.points.at(-1)!;
    figures.push(
      figure(`${run.label}: eval success at the end`, '%', [100 * last.success], 80),
      figure(`${run.label}: env steps to ≥ 80 % eval success`, 'steps', [
        run.reached?.envSteps ?? Number.NaN,
      ]),
      figure(`${run.label}: wall time to ≥ 80 %`, 's', [run.reached?.seconds ?? Number.NaN]),
    );
    notes.push(
      `${run.label}: eval success by env steps ${run.points.map((p) => `${p.envSteps}: ${(100 * p.success).toFixed(0)}%`).join(', ')}`,
    );
  }
  const withInterventions = runs[1]!;
  const rates = withInterventions.points.map((p) => p.interventionRate);
  const half = Math.floor(rates.length / 2);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  figures.push(
    figure('intervention rate, first half of RL', '%', [100 * mean(rates.slice(0, half))]),
    figure('intervention rate, second half of RL', '%', [100 * mean(rates.slice(half))]),
  );
  notes.push(
    `intervention rate by env steps: ${withInterventions.points.map((p) => `${p.envSteps}: ${(100 * p.interventionRate).toFixed(0)}%`).join(', ')} (${withInterventions.interventions} take-overs)`,
    `headless and lock-stepped: one learner step per control tick (panda-lift preset with ${LEARNER.ensembleSize} critics), the scripted expert drives ${budget.warmupTicks} ticks of BC-warmup (actor loss bc), then the policy drives with sac+bc for ${budget.ticks} ticks; every ${budget.evalEvery} ticks its mean action is evaluated alone on ${budget.evalEpisodes} fixed seeds; one run per setting (a learning curve, not a repeated timing)`,
  );
  const comparisons =
    withInterventions.reached && runs[0]!.reached
      ? [
          {
            name: 'env steps to 80 %, without / with interventions',
            ratio: runs[0]!.reached.envSteps / withInterventions.reached.envSteps,
          },
        ]
      : [];
  return {
    title: 'hil: BC-warmup then RL, with and without scripted interventions',
    figures,
    comparisons,
    notes,
  };
}
