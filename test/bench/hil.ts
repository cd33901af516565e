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

/** The learner's figures a point reports: their mean over the records since the previous point. */
export const WATCHED = [
  'q_demo_action',
  'q_policy_action',
  'q_policy_spread',
  'q_std',
  'critic_loss',
  'entropy',
  'temperature',
  'bc_weight',
  'bc_loss',
  'q_term_scale',
] as const;

export interface Point {
  envSteps: number;
  seconds: number;
  success: number;
  /** Share of the autonomous-phase ticks since the previous point that the expert drove. */
  interventionRate: number;
  learner: Partial<Record<(typeof WATCHED)[number], number>>;
}

export interface HilRun {
  label: string;
  points: Point[];
  /** First point at ≥ 80 % success. */
  reached?: Point;
  interventions: number;
  /** Learner steps at which the hand-over watch raised its alert. */
  regressionAlerts: number[];
}

/**
 * One human-in-the-loop run, headless and lock-stepped (one learner step per control tick): the
 * scripted expert drives `warmupTicks` of BC-warmup (demo episodes, actor trained by BC), then the
 * policy drives with sac+bc; with `interventions` the expert takes over whenever the policy strays.
 * Every `evalEvery` ticks the policy's mean action is evaluated alone on fixed seeds.
 */
export async function hilRun(opts: {
  label: string;
  interventions: boolean;
  learner?: Record<string, unknown>;
  seed?: number;
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
    learner: { ...LEARNER, ...opts.learner },
    autoResetMs: 0,
    seed: opts.seed ?? 1,
  });
  const evalRobot = await createRobot(session.config.task);
  const evalRecorder = new Recorder(store);
  const started = performance.now();
  const points: Point[] = [];
  let lastStep = -1;
  const learnerSince = (): Point['learner'] => {
    const rows = store.readMetrics(session.runId, undefined, lastStep);
    const out: Point['learner'] = {};
    for (const name of WATCHED) {
      const xs = rows.filter((r) => r.name === name).map((r) => r.value);
      if (xs.length > 0) out[name] = xs.reduce((a, b) => a + b, 0) / xs.length;
    }
    lastStep = Math.max(lastStep, ...rows.map((r) => r.step));
    return out;
  };
  try {
    session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'scripted' });
    await session.runHeadless({ ticks: opts.warmupTicks, learnerStepsPerTick: 1 });
    const evaluate = (envSteps: number, interventionRate: number) => {
      const result = evaluatePolicy({
        robot: evalRobot,
        policy: session.policy,
        recorder: evalRecorder,
        runId: session.runId,
        episodes: opts.evalEpisodes,
        seed: 7,
        envSteps,
      });
      session.evaluated({ successRate: result.successRate, episodes: opts.evalEpisodes });
      const point: Point = {
        envSteps,
        seconds: (performance.now() - started) / 1000,
        success: result.successRate,
        interventionRate,
        learner: learnerSince(),
      };
      points.push(point);
      const l = point.learner;
      console.log(
        `  ${opts.label}: ${envSteps} env steps, ${point.seconds.toFixed(0)} s: eval success ${(100 * point.success).toFixed(0)}%, intervention rate ${(100 * interventionRate).toFixed(0)}%; Q demo/policy ${l.q_demo_action?.toFixed(2)}/${l.q_policy_action?.toFixed(2)} spread ${l.q_policy_spread?.toFixed(3)}, entropy ${l.entropy?.toFixed(2)}, α ${l.temperature?.toFixed(3)}, β ${l.bc_weight?.toFixed(2)}, bc ${l.bc_loss?.toFixed(3)}, λ ${l.q_term_scale?.toFixed(3)}`,
      );
    };
    // The warm-up policy's own success: the reference no later evaluation may fall far below.
    evaluate(opts.warmupTicks, 0);
    session.command({ type: 'set-mode', mode: 'autonomous', origin: 'scripted' });
    let driven = 0;
    for (let done = 0; done < opts.ticks; done += opts.evalEvery) {
      const before = session.status().interventions.steps;
      await session.runHeadless({ ticks: opts.evalEvery, learnerStepsPerTick: 1 });
      driven += opts.evalEvery;
      evaluate(
        opts.warmupTicks + driven,
        (session.status().interventions.steps - before) / opts.evalEvery,
      );
    }
    const reached = points.find((p) => p.success >= 0.8);
    return {
      label: opts.label,
      points,
      ...(reached ? { reached } : {}),
      interventions: session.status().interventions.count,
      regressionAlerts: store
        .listEvents(session.runId)
        .filter((e) => e.kind === 'health.raised')
        .map((e) => e.payload as { pathology: string; step: number })
        .filter((a) => a.pathology === 'handover_regression')
        .map((a) => a.step),
    };
  } finally {
    evalRecorder.close();
    evalRobot.close();
    await session.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The hand-overs compared: the recipe before the fix, the defaults, and with a discrete gripper. */
const RECIPES = [
  { name: 'β 1 at the hand-over (before)', learner: { handoverBcWeight: 1 } },
  { name: 'defaults (β 10 at the hand-over)', learner: {} },
  { name: 'discrete gripper (defaults, grasp critic)', learner: { gripper: 'discrete' } },
] as const;

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** The evaluation that fell furthest below the warm-up policy's (points[0]), in points of %. */
function worstDrop(run: HilRun): number {
  const reference = run.points[0]!.success;
  return Math.max(0, ...run.points.slice(1).map((p) => 100 * (reference - p.success)));
}

export async function benchHil({ quick = false } = {}): Promise<BenchResult> {
  const budget = quick
    ? { warmupTicks: 200, ticks: 200, evalEvery: 100, evalEpisodes: 3 }
    : { warmupTicks: 1000, ticks: 5000, evalEvery: 500, evalEpisodes: 20 };
  const seeds = quick ? [1] : [1, 2, 3];
  const figures: Figure[] = [];
  const notes: string[] = [];
  const curve = (run: HilRun) =>
    `${run.label}: eval success by env steps ${run.points.map((p) => `${p.envSteps}: ${pct(p.success)}`).join(', ')}; handover_regression ${run.regressionAlerts.length > 0 ? `raised at learner step ${run.regressionAlerts.join(', ')}` : 'not raised'}`;
  const alone: Record<string, HilRun[]> = {};
  for (const recipe of RECIPES) {
    const runs: HilRun[] = [];
    for (const seed of seeds) {
      const label = `${recipe.name}, seed ${seed}`;
      runs.push(
        await hilRun({ label, interventions: false, learner: recipe.learner, seed, ...budget }),
      );
      notes.push(curve(runs.at(-1)!));
    }
    alone[recipe.name] = runs;
    figures.push(
      figure(
        `no interventions, ${recipe.name}: eval success at the end`,
        '%',
        runs.map((r) => 100 * r.points.at(-1)!.success),
        80,
      ),
      figure(
        `no interventions, ${recipe.name}: worst evaluation below the warm-up policy's`,
        'points',
        runs.map(worstDrop),
        10,
        true,
      ),
      figure(
        `no interventions, ${recipe.name}: runs whose hand-over watch raised handover_regression`,
        'runs',
        [runs.filter((r) => r.regressionAlerts.length > 0).length],
      ),
      figure(
        `no interventions, ${recipe.name}: env steps to ≥ 80 % eval success`,
        'steps',
        runs.map((r) => r.reached?.envSteps ?? Number.NaN),
      ),
    );
  }
  const helped: HilRun[] = [];
  for (const seed of seeds) {
    const label = `defaults with interventions, seed ${seed}`;
    helped.push(await hilRun({ label, interventions: true, seed, ...budget }));
    notes.push(curve(helped.at(-1)!));
  }
  // Intervention rate in the first and the last quarter of the autonomous phase.
  const quarter = (run: HilRun, last: boolean) => {
    const rates = run.points.slice(1).map((p) => p.interventionRate);
    const q = Math.max(1, Math.floor(rates.length / 4));
    return 100 * mean(last ? rates.slice(-q) : rates.slice(0, q));
  };
  figures.push(
    figure(
      'with interventions, defaults: eval success at the end',
      '%',
      helped.map((r) => 100 * r.points.at(-1)!.success),
      90,
    ),
    figure(
      'with interventions: intervention rate, first quarter of RL',
      '%',
      helped.map((r) => quarter(r, false)),
    ),
    figure(
      'with interventions: intervention rate, last quarter of RL',
      '%',
      helped.map((r) => quarter(r, true)),
    ),
    figure(
      'with interventions: last quarter / first quarter intervention rate',
      '×',
      helped.map((r) => quarter(r, true) / Math.max(1e-9, quarter(r, false))),
      0.5,
      true,
    ),
  );
  notes.push(
    `headless and lock-stepped: one learner step per control tick (panda-lift preset with ${LEARNER.ensembleSize} critics), the scripted expert drives ${budget.warmupTicks} ticks of BC-warmup (actor loss bc), then the policy drives with sac+bc for ${budget.ticks} ticks; right after the warm-up and every ${budget.evalEvery} ticks its mean action is evaluated alone on ${budget.evalEpisodes} fixed seeds; seeds ${seeds.join(', ')} (the session's: its demos, the learner's initialisation and noise)`,
  );
  const before = alone[RECIPES[0].name]!;
  const after = alone[RECIPES[1].name]!;
  const discrete = alone[RECIPES[2].name]!;
  const endMean = (runs: HilRun[]) => mean(runs.map((r) => r.points.at(-1)!.success));
  return {
    title:
      'hil: BC-warmup then RL, the hand-over before and after, and with scripted interventions',
    figures,
    comparisons: [
      {
        name: 'mean eval success at the end over the seeds without interventions, defaults / β 1 at the hand-over',
        ratio: endMean(after) / endMean(before),
      },
      {
        name: 'mean eval success at the end over the seeds without interventions, discrete / continuous gripper',
        ratio: endMean(discrete) / endMean(after),
      },
    ],
    notes,
  };
}
