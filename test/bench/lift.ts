// RLPD on sim/panda-lift from scripted demos, through the real CLI: `tandem record` 20 demos, then
// `tandem train --demos` three times from them, one after another (the wasm learner, the native
// one, the native one at utd 4), each with a 50-episode evaluation every 1,000 env steps, stopped
// at its first evaluation with ≥ 80 % success (or at the step budget). The curves are read back
// from each run's SQLite file (its `eval` episodes and their outcomes) while it trains.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthAlert } from '../../src/protocol/index.ts';
import { loadNativeLearner } from '../../src/learner/native-addon.ts';
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

export interface Evaluation {
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

/** One training setting of the bench: where the learner runs and its update-to-data ratio. */
export interface Variant {
  label: string;
  backend: 'wasm' | 'native';
  utd: number;
}

/**
 * Side by side in one run: the wasm learner (the studio's learner before the native addon), the
 * native one at the same settings, and the native one at an update-to-data ratio of 4 (critic
 * updates per env step: the ratio its speed allows at about the wasm run's wall time per step).
 */
const VARIANTS: Variant[] = [
  { label: 'wasm, utd 1', backend: 'wasm', utd: 1 },
  { label: 'native, utd 1', backend: 'native', utd: 1 },
  { label: 'native, utd 4', backend: 'native', utd: 4 },
];

export interface Outcome {
  variant: Variant;
  evals: Evaluation[];
  reached: Evaluation | undefined;
  /** Seconds to `reached` from `tandem train` start (∞ when not reached). */
  wall: number;
  /** Of which the training loop's own time, without start-up and evaluations. */
  training: number;
  evalSeconds: number;
  startup: number | undefined;
  ups: number[];
  raised: HealthAlert[];
  backend: string | undefined;
  learnerLine: string;
  stopped: boolean;
  exitSeconds: number;
}

export interface Budget {
  envSteps: number;
  evalEvery: number;
  evalEpisodes: number;
  target: number;
}

/** `tandem train` from the demos in `demosDb` with one variant's settings, until `target`. */
export async function trainLift(
  variant: Variant,
  home: string,
  demosDb: string,
  b: Budget,
): Promise<Outcome> {
  const trainDb = join(home, `train-${variant.backend}-utd${variant.utd}.db`);
  const args = [
    'train',
    '--task',
    'sim/panda-lift',
    '--demos',
    demosDb,
    '--env-steps',
    String(b.envSteps),
    '--eval-every',
    String(b.evalEvery),
    '--eval-episodes',
    String(b.evalEpisodes),
    '--seed',
    String(SEED),
    '--backend',
    variant.backend,
    '--set',
    `utd=${variant.utd}`,
    '--db',
    trainDb,
  ];
  console.log(`  ${variant.label}: tandem ${args.join(' ')}`);
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
      b.evalEpisodes,
      b.target,
      child.startedAt,
      () => exited,
    );
  } catch (err) {
    if (!exited) child.child.kill('SIGTERM');
    await child.exit.catch(() => undefined);
    throw err;
  }
  if (stoppedAt && !exited) {
    console.log(`  ≥ ${pct(b.target)}: stopping the run (SIGTERM to pid ${child.child.pid})`);
    child.child.kill('SIGTERM');
  }
  const exit = await child.exit;
  if (!stoppedAt && exit.code !== 0) {
    throw new Error(
      `tandem train (${variant.label}) exited with ${exit.code ?? exit.signal}: ${exit.stderr.split('\n').slice(-5).join(' | ')}`,
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
    evals = readEvaluations(store, run.id, b.evalEpisodes);
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
  if (evals.length === 0) throw new Error(`${variant.label}: the run ended without an evaluation`);
  const reached = evals.find((e) => e.successes / e.episodes >= b.target);
  const evalSeconds = evals
    .filter((e) => !reached || e.envSteps <= reached.envSteps)
    .reduce((sum, e) => sum + (e.endedAt - e.startedAt) / 1000, 0);
  return {
    variant,
    evals,
    reached,
    wall: reached ? (reached.endedAt - child.startedAt) / 1000 : Infinity,
    training:
      reached && loopStart !== undefined
        ? (reached.endedAt - loopStart) / 1000 - evalSeconds
        : Infinity,
    evalSeconds,
    startup: loopStart === undefined ? undefined : (loopStart - child.startedAt) / 1000,
    ups,
    raised,
    backend,
    learnerLine,
    stopped: stoppedAt !== undefined,
    exitSeconds: exit.seconds,
  };
}

export async function benchLift(opts: LiftBenchOptions = {}): Promise<BenchResult> {
  const quick = opts.quick ?? false;
  const budget: Budget = {
    envSteps: quick ? 400 : 12_000,
    evalEvery: quick ? 100 : 1000,
    evalEpisodes: quick ? 5 : 50,
    target: opts.target ?? (quick ? 0 : TARGET), // quick: stop at the first evaluation
  };
  const { target, evalEpisodes } = budget;
  const native = loadNativeLearner();
  const variants = VARIANTS.filter((v) => v.backend !== 'native' || native.ok);
  const home = mkdtempSync(join(tmpdir(), 'tandem-bench-lift-'));
  const demosDb = join(home, 'demos.db');
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

    const outcomes: Outcome[] = [];
    for (const v of variants) outcomes.push(await trainLift(v, home, demosDb, budget));

    const figures = outcomes.flatMap((o) => {
      const last = o.evals.at(-1)!;
      const { label } = o.variant;
      return [
        figure(
          `${label}: success over ${evalEpisodes} eval episodes, last evaluation (${n0(last.envSteps)} env steps)`,
          '%',
          [(100 * last.successes) / last.episodes],
          100 * TARGET,
        ),
        figure(
          `${label}: env steps to ≥ ${pct(target)} success (∞ = not within ${n0(budget.envSteps)})`,
          'env steps',
          [o.reached?.envSteps ?? Infinity],
        ),
        figure(
          `${label}: wall time to ≥ ${pct(target)} (from \`tandem train\` start, with start-up and evaluations)`,
          's',
          [o.wall],
        ),
        figure(`${label}: of which training (without start-up and evaluations)`, 's', [o.training]),
        ...(o.ups.length
          ? [figure(`${label}: learner steps/s (median over the run)`, 'steps/s', o.ups)]
          : []),
      ];
    });
    const byLabel = (label: string) => outcomes.find((o) => o.variant.label === label);
    const comparisons = [
      ['wasm, utd 1', 'native, utd 1'],
      ['wasm, utd 1', 'native, utd 4'],
    ].flatMap(([from, to]) => {
      const a = byLabel(from!);
      const b = byLabel(to!);
      return a && b && Number.isFinite(a.wall) && Number.isFinite(b.wall)
        ? [{ name: `wall time to ≥ ${pct(target)}: ${from} / ${to}`, ratio: a.wall / b.wall }]
        : [];
    });
    const notes = [
      ...(quick
        ? [
            `**QUICK MODE** (${n0(budget.envSteps)} env steps, ${evalEpisodes} episodes every ${budget.evalEvery}, stop rule ≥ ${pct(target)}): a check of the bench code, not figures to keep`,
          ]
        : []),
      ...(native.ok ? [] : [`native variants left out: ${native.reason}`]),
      ...outcomes.map((o) => {
        const curve = o.evals.map((e) => `${n0(e.envSteps)}: ${pct(e.successes / e.episodes)}`);
        const end = o.reached
          ? `reached ≥ ${pct(target)} at ${n0(o.reached.envSteps)} env steps after ${o.wall.toFixed(0)} s (${o.evalSeconds.toFixed(0)} s of it evaluating, ${o.startup === undefined ? '?' : o.startup.toFixed(0)} s starting up)${o.stopped ? ', stopped there' : ''}`
          : `did not reach ≥ ${pct(target)} within ${n0(budget.envSteps)} env steps (${o.exitSeconds.toFixed(0)} s)`;
        const alerts = o.raised.length
          ? o.raised.map((a) => `${a.pathology} at learner step ${a.step}`).join(', ')
          : 'none';
        return `${o.variant.label}: success over env steps (${evalEpisodes} eval episodes each, fixed seeds): ${curve.join(', ')}; ${end}; health alerts raised: ${alerts}; ${o.backend ?? 'backend not recorded'}`;
      }),
      `demos: \`tandem record --task sim/panda-lift --episodes ${DEMOS} --seed ${SEED}\`: ${demoSuccesses}/${demoEpisodes.length} successful, ${n0(demoSteps)} transitions`,
      `training: \`tandem train --task sim/panda-lift --demos DB --env-steps ${n0(budget.envSteps)} --eval-every ${budget.evalEvery} --eval-episodes ${evalEpisodes} --seed ${SEED} --backend B --set utd=U\` (no random steps with demos, one learner step per env step, each step utd critic updates and one actor update), the three runs one after another from the same demos; the bench stops each (SIGTERM) at its first evaluation with ≥ ${pct(target)} success`,
      ...(outcomes[0]?.learnerLine
        ? [`${outcomes[0].learnerLine} (the panda-lift preset; sac+bc with demos; utd as above)`]
        : []),
    ];
    return {
      title: `lift: RLPD on sim/panda-lift from ${DEMOS} scripted demos, wasm and native learners`,
      figures,
      comparisons,
      notes,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
