// RLPD on sim/panda-lift from scripted demos, through the real CLI: `tandem record` 20 demos, then
// `tandem train --demos` with a 50-episode evaluation every 1,000 env steps, stopped at the first
// evaluation with ≥ 80 % success (or at the step budget). The curve is read back from the run's
// SQLite file (its `eval` episodes and their outcomes) while it trains.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthAlert } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import { type BenchResult, figure, runTandem, startTandem } from './harness.ts';

const DEMOS = 20;
const SEED = 0;
const TARGET = 0.8;

export interface LiftBenchOptions {
  /** A short budget and a 0 % stop rule: checks the bench's code, its figures mean little. */
  quick?: boolean;
  /** The success rate that stops the run (default 0.8; 0 in quick mode, to test the stop). */
  target?: number;
}

interface Evaluation {
  envSteps: number;
  episodes: number;
  successes: number;
  /** Epoch ms: the first episode's start and the last one's end. */
  startedAt: number;
  endedAt: number;
}

/**
 * The run's complete evaluations so far: its eval episodes in order, in groups of `perEval`
 * (a group still running is left out). With demos there are no random steps, and training is
 * lock-stepped, so an evaluation came after as many env steps as its steps' policy version.
 */
function readEvaluations(store: Store, runId: number, perEval: number): Evaluation[] {
  const episodes = store.listEpisodes({ runId, kind: 'eval', order: 'oldest', limit: 1_000_000 });
  const evals: Evaluation[] = [];
  for (let at = 0; at + perEval <= episodes.length; at += perEval) {
    const group = episodes.slice(at, at + perEval);
    if (group.some((e) => e.outcome === undefined || e.endedAt === undefined)) break;
    const first = store.readSteps(group[0]!.id)[0];
    if (!first) throw new Error(`eval episode ${group[0]!.id} has no steps`);
    evals.push({
      envSteps: first.policyVersion,
      episodes: group.length,
      successes: group.filter((e) => e.outcome === 'success').length,
      startedAt: group[0]!.startedAt,
      endedAt: Math.max(...group.map((e) => e.endedAt!)),
    });
  }
  return evals;
}

/** Opens the training database read-only once the child has created and migrated it. */
function tryOpen(path: string): Store | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return Store.open(path, { readonly: true });
  } catch {
    return undefined; // not migrated yet
  }
}

const pct = (x: number) => `${Math.round(100 * x)}%`;
const n0 = (x: number) => x.toLocaleString('en-US');

/**
 * Watches the evaluations land in the training database (printing each) until the child exits
 * or one reaches `target`, which it returns.
 */
async function watchEvaluations(
  path: string,
  perEval: number,
  target: number,
  startedAt: number,
  exited: () => boolean,
): Promise<Evaluation | undefined> {
  let seen = 0;
  while (!exited()) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const store = tryOpen(path);
    if (!store) continue;
    try {
      const evals = store.getRun(1) ? readEvaluations(store, 1, perEval) : [];
      for (const e of evals.slice(seen)) {
        console.log(
          `  evaluation at ${n0(e.envSteps)} env steps: ${e.successes}/${e.episodes} successful (${pct(e.successes / e.episodes)}), ` +
            `${((e.endedAt - startedAt) / 1000).toFixed(0)} s since start`,
        );
        if (e.successes / e.episodes >= target) return e;
      }
      seen = evals.length;
    } finally {
      store.close();
    }
  }
  return undefined;
}

export async function benchLift(opts: LiftBenchOptions = {}): Promise<BenchResult> {
  const quick = opts.quick ?? false;
  const budget = quick ? 400 : 12_000;
  const evalEvery = quick ? 100 : 1000;
  const evalEpisodes = quick ? 5 : 50;
  const target = opts.target ?? (quick ? 0 : TARGET); // quick: stop at the first evaluation
  const home = mkdtempSync(join(tmpdir(), 'tandem-bench-lift-'));
  const demosDb = join(home, 'demos.db');
  const trainDb = join(home, 'train.db');
  try {
    console.log(`  recording ${DEMOS} scripted demos…`);
    await runTandem(
      [
        'record',
        '--task',
        'sim/panda-lift',
        '--episodes',
        String(DEMOS),
        '--seed',
        String(SEED),
        '--db',
        demosDb,
      ],
      home,
    );
    const demos = Store.open(demosDb, { readonly: true });
    const demoEpisodes = demos.listEpisodes({ kind: 'demo', limit: 1_000_000 });
    demos.close();
    const demoSuccesses = demoEpisodes.filter((e) => e.outcome === 'success').length;
    const demoSteps = demoEpisodes.reduce((s, e) => s + e.numSteps, 0);
    console.log(`  demos: ${demoSuccesses}/${demoEpisodes.length} successful, ${demoSteps} steps`);

    const args = [
      'train',
      '--task',
      'sim/panda-lift',
      '--demos',
      demosDb,
      '--env-steps',
      String(budget),
      '--eval-every',
      String(evalEvery),
      '--eval-episodes',
      String(evalEpisodes),
      '--seed',
      String(SEED),
      '--db',
      trainDb,
    ];
    console.log(`  tandem ${args.join(' ')}`);
    let learnerLine = '';
    const child = startTandem(args, home, (line, stream) => {
      if (line.startsWith('  learner {')) learnerLine = line.trim();
      // The CLI's progress (one line per 10 % off a terminal) and its health alerts.
      if (stream === 'stderr' && line.trim()) console.log(`    ${line}`);
    });
    let exited = false;
    void child.exit.then(
      () => (exited = true),
      () => (exited = true),
    );
    let stoppedAt: Evaluation | undefined;
    try {
      stoppedAt = await watchEvaluations(
        trainDb,
        evalEpisodes,
        target,
        child.startedAt,
        () => exited,
      );
    } catch (err) {
      if (!exited) child.child.kill('SIGTERM');
      await child.exit.catch(() => undefined);
      throw err;
    }
    if (stoppedAt && !exited) {
      console.log(`  ≥ ${pct(target)}: stopping the run (SIGTERM to pid ${child.child.pid})`);
      child.child.kill('SIGTERM');
    }
    const exit = await child.exit;
    if (!stoppedAt && exit.code !== 0) {
      throw new Error(
        `tandem train exited with ${exit.code ?? exit.signal}: ${exit.stderr.split('\n').slice(-5).join(' | ')}`,
      );
    }

    const store = Store.open(trainDb, { readonly: true });
    let evals: Evaluation[];
    let ups: number[];
    let raised: HealthAlert[];
    let backend: string | undefined;
    let loopStart: number | undefined;
    try {
      const run = store.getRun(1);
      if (!run || run.command !== 'train') throw new Error(`${trainDb}: run 1 is not a train run`);
      backend = run.backend;
      evals = readEvaluations(store, run.id, evalEpisodes);
      loopStart = store.listEpisodes({ runId: run.id, kind: 'train', order: 'oldest', limit: 1 })[0]
        ?.startedAt;
      ups = store
        .readMetrics(run.id, 'updates_per_s')
        .map((m) => m.value)
        .filter(Number.isFinite);
      raised = store
        .listEvents(run.id)
        .filter((e) => e.kind === 'health.raised')
        .map((e) => HealthAlert.safeParse(e.payload))
        .flatMap((p) => (p.success ? [p.data] : []));
    } finally {
      store.close();
    }
    if (stoppedAt) evals = evals.filter((e) => e.envSteps <= stoppedAt.envSteps);
    const last = evals.at(-1);
    if (!last) throw new Error('the run ended without a complete evaluation');
    const reached = evals.find((e) => e.successes / e.episodes >= target);
    const evalSeconds = (until: number) =>
      evals
        .filter((e) => e.envSteps <= until)
        .reduce((s, e) => s + (e.endedAt - e.startedAt) / 1000, 0);
    const wall = reached ? (reached.endedAt - child.startedAt) / 1000 : Infinity;
    // The training loop's own time: from its first episode, without the evaluations.
    const training =
      reached && loopStart !== undefined
        ? (reached.endedAt - loopStart) / 1000 - evalSeconds(reached.envSteps)
        : Infinity;
    const lastRate = last.successes / last.episodes;

    const figures = [
      figure(
        `success over ${evalEpisodes} eval episodes, last evaluation (${n0(last.envSteps)} env steps)`,
        '%',
        [100 * lastRate],
        100 * TARGET,
      ),
      figure(
        `env steps to ≥ ${pct(target)} success over ${evalEpisodes} eval episodes (∞ = not within ${n0(budget)})`,
        'env steps',
        [reached?.envSteps ?? Infinity],
      ),
      figure(
        `wall time to ≥ ${pct(target)} (from \`tandem train\` start, with start-up and evaluations)`,
        's',
        [wall],
      ),
      figure(`of which training (the training loop, without start-up and evaluations)`, 's', [
        training,
      ]),
      ...(ups.length ? [figure('learner updates/s (median over the run)', 'updates/s', ups)] : []),
    ];
    const notes = [
      ...(quick
        ? [
            `**QUICK MODE** (${n0(budget)} env steps, ${evalEpisodes} episodes every ${evalEvery}, stop rule ≥ ${pct(target)}): a check of the bench code, not figures to keep`,
          ]
        : []),
      `success over env steps (${evalEpisodes} eval episodes each, fixed seeds): ${evals.map((e) => `${n0(e.envSteps)}: ${pct(e.successes / e.episodes)}`).join(', ')}`,
      reached
        ? `reached ≥ ${pct(target)} at ${n0(reached.envSteps)} env steps after ${wall.toFixed(0)} s (${evalSeconds(reached.envSteps).toFixed(0)} s of it evaluating, ${loopStart === undefined ? '?' : ((loopStart - child.startedAt) / 1000).toFixed(0)} s starting up); ${stoppedAt ? 'the run was stopped there' : 'at the end of the run'}`
        : `did not reach ≥ ${pct(target)} within ${n0(budget)} env steps (${exit.seconds.toFixed(0)} s)`,
      `demos: \`tandem record --task sim/panda-lift --episodes ${DEMOS} --seed ${SEED}\`: ${demoSuccesses}/${demoEpisodes.length} successful, ${n0(demoSteps)} transitions`,
      `training: \`tandem train --task sim/panda-lift --demos DB --env-steps ${n0(budget)} --eval-every ${evalEvery} --eval-episodes ${evalEpisodes} --seed ${SEED}\` (no random steps with demos, one learner step per env step), the bench stops it (SIGTERM) at the first evaluation with ≥ ${pct(target)} success`,
      ...(learnerLine ? [`${learnerLine} (the panda-lift preset; sac+bc with demos)`] : []),
      `health alerts raised: ${raised.length ? raised.map((a) => `${a.pathology} at learner step ${a.step}`).join(', ') : 'none'}`,
      ...(backend ? [backend] : []),
    ];
    return {
      title: `lift: RLPD on sim/panda-lift from ${DEMOS} scripted demos`,
      figures,
      comparisons: [],
      notes,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
