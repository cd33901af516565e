import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LearnerConfig } from '../../learner/config.ts';
import { LEARNER_BACKENDS } from '../../learner/backend.ts';
import type { LearnerLink } from '../../learner/link.ts';
import { LEARNER_PRESETS } from '../../learner/presets.ts';
import {
  type HealthAlert,
  RunConfig,
  TaskConfig,
  type TrainSettings,
} from '../../protocol/index.ts';
import { createRobot, type SafeRobot } from '../../robots/index.ts';
import { Recorder, Store, type StoredCheckpoint } from '../../store/index.ts';
import { LearningCurves } from '../../studio/curves.ts';
import type { LoopFigures } from '../../studio/learner-monitor.ts';
import { openLearnerSide } from '../../studio/learner-side.ts';
import { type LoopState, trainOnline } from '../../studio/train.ts';
import {
  onlineTransitions,
  ResumeError,
  resumePoint,
  saveTrainCheckpoint,
} from '../../studio/train-checkpoints.ts';
import { type Command, intFlag, parse, UsageError } from '../args.ts';
import {
  backendFlag,
  codeVersion,
  dbPathFrom,
  keyValueFlags,
  openStore,
  SAFETY_FLAG_HELP,
  safetyFlags,
} from '../common.ts';
import { ProgressBar } from '../progress.ts';
import { taskFlag, taskOptionFlags, taskOptionsFrom } from '../task-options.ts';

const usage = `
Usage: tandem train --task TASK [options]
       tandem train --resume RUN [--env-steps N] [--db PATH]

Online RLPD in the headless loop: the policy acts, every step is recorded, the learner (in a
worker thread) trains after each environment step, and evaluation episodes run the mean action.

Options:
  --task TASK          sim/panda-lift | probe | ros2 (required)
  --env-steps N        environment steps of training (probe 1500, panda-lift 20000)
  --random-steps N     random actions before the policy acts (probe 200; 0 with --demos)
  --demos SOURCE       demonstrations for the demo buffer: a database file (its demo episodes)
                       or run:ID (the demo episodes of run ID in --db)
  --eval-every N       evaluate every N environment steps (probe 500, panda-lift 2000)
  --eval-episodes N    episodes per evaluation (probe 1, panda-lift 10)
  --checkpoint-every N store the learner's checkpoint at the first episode end after every N
                       env steps, and at the end (probe 500, panda-lift 2000; the newest 2 kept)
  --resume RUN         continue run RUN of --db from its newest checkpoint, with its settings;
                       --env-steps is then the new total
  --backend NAME       force where the learner runs: ${LEARNER_BACKENDS.join(' | ')}
                       (default: the first that loads, in that order)
  --set KEY=VALUE      a learner setting (repeatable), e.g. --set utd=4 --set ensembleSize=10
${SAFETY_FLAG_HELP}
  --seed N             (default 0)
  --db PATH            database file (default: the data folder)
${taskOptionFlags}
`;

const TASK_DEFAULTS = {
  probe: {
    envSteps: 1500,
    randomSteps: 200,
    evalEvery: 500,
    evalEpisodes: 1,
    checkpointEvery: 500,
  },
  'sim/panda-lift': {
    envSteps: 20_000,
    randomSteps: 1000,
    evalEvery: 2000,
    evalEpisodes: 10,
    checkpointEvery: 2000,
  },
  // A real robot: fewer steps than the sim by default (each is real time), few evaluations.
  ros2: {
    envSteps: 5000,
    randomSteps: 0,
    evalEvery: 1000,
    evalEpisodes: 3,
    checkpointEvery: 500,
  },
} as const;

/** Prints a health alert as it is raised or cleared, with the probable cause and what to try. */
function printAlert(alert: HealthAlert): void {
  process.stderr.write(
    `\nhealth ${alert.state}: ${alert.pathology} at learner step ${alert.step}: ${alert.evidence}\n`,
  );
  if (alert.state === 'raised')
    process.stderr.write(
      `  probable cause: ${alert.probableCause}\n  try: ${alert.whatToTry.join('; ')}\n`,
    );
}

/** The demo transitions of a database file or of run:ID in the run's own database. */
function loadDemos(
  source: string,
  store: Store,
): { episodes: number; transitions: ReturnType<Store['readTransitions']> } {
  const run = /^run:(\d+)$/.exec(source);
  const from = run
    ? store
    : existsSync(source)
      ? Store.open(source, { readonly: true })
      : undefined;
  if (!from) throw new UsageError(`--demos ${source}: no such database file (or use run:ID)`);
  try {
    const episodes = from.listEpisodes({
      kind: 'demo',
      limit: 100_000,
      ...(run ? { runId: Number(run[1]) } : {}),
    });
    if (episodes.length === 0) throw new UsageError(`--demos ${source}: no demo episodes there`);
    return {
      episodes: episodes.length,
      transitions: episodes.flatMap((e) => from.readTransitions(e.id)),
    };
  } finally {
    if (from !== store) from.close();
  }
}

/** What one `tandem train` invocation runs: a new run, or a stored one continued. */
interface Plan {
  task: TaskConfig;
  seed: number;
  settings: TrainSettings;
  learner: Record<string, unknown>;
  /** The safety layer's settings as given (SafetyOptions input). */
  safety: Record<string, unknown>;
  resume?: { runId: number; checkpoint: StoredCheckpoint; state: LoopState };
}

const RESUMABLE_FLAGS = new Set(['resume', 'env-steps', 'backend', 'db']);

/** The settings of a new run from the flags. */
function newPlan(values: Record<string, string | string[] | undefined>): Plan {
  const str = (k: string) => values[k] as string | undefined;
  const taskName = taskFlag(str('task'));
  const defaults = TASK_DEFAULTS[taskName];
  const seed = intFlag('seed', str('seed'), 0);
  const demos = str('demos');
  const settings: TrainSettings = {
    envSteps: intFlag('env-steps', str('env-steps'), defaults.envSteps, 1),
    randomSteps: intFlag('random-steps', str('random-steps'), demos ? 0 : defaults.randomSteps),
    evalEvery: intFlag('eval-every', str('eval-every'), defaults.evalEvery, 1),
    evalEpisodes: intFlag('eval-episodes', str('eval-episodes'), defaults.evalEpisodes, 1),
    checkpointEvery: intFlag(
      'checkpoint-every',
      str('checkpoint-every'),
      defaults.checkpointEvery,
      1,
    ),
    learner: {},
    ...(demos ? { demos: /^run:\d+$/.test(demos) ? demos : resolve(demos) } : {}),
  };
  const task = TaskConfig.parse({ task: taskName, options: taskOptionsFrom.parse(values) });
  const sets = (values.set as string[] | undefined) ?? [];
  const learner = LearnerConfig.parse({
    ...LEARNER_PRESETS[task.task],
    seed,
    ...keyValueFlags('set', sets),
  });
  if (demos && learner.actorLoss === 'sac' && !sets.some((s) => s.startsWith('actorLoss='))) {
    learner.actorLoss = 'sac+bc'; // demos: BC-regularised actor with a decaying weight
  }
  const safety = safetyFlags(values.safety as string[] | undefined);
  return { task, seed, settings, learner: { ...learner }, safety };
}

/** The stored run's settings and its newest checkpoint, with --env-steps as the new total. */
function resumePlan(store: Store, values: Record<string, string | string[] | undefined>): Plan {
  const runId = intFlag('resume', values.resume as string, 0, 1);
  const extra = Object.keys(values).filter(
    (k) => values[k] !== undefined && !RESUMABLE_FLAGS.has(k),
  );
  if (extra.length > 0) {
    throw new UsageError(
      `--resume continues run ${runId} with its own settings: only --env-steps, --backend and --db go with it (got --${extra.join(', --')})`,
    );
  }
  const run = store.getRun(runId);
  if (!run) throw new UsageError(`--resume ${runId}: there is no run ${runId} in ${store.path}`);
  const config = RunConfig.safeParse(run.config);
  if (!config.success || config.data.command !== 'train' || !config.data.train) {
    throw new UsageError(`--resume ${runId}: run ${runId} is not a tandem train run`);
  }
  const { task, seed, train: stored, safety = {} } = config.data;
  let point: ReturnType<typeof resumePoint>;
  try {
    point = resumePoint(store, runId);
  } catch (err) {
    if (err instanceof ResumeError) throw new UsageError(`--resume ${runId}: ${err.message}`);
    throw err;
  }
  const envSteps = intFlag('env-steps', values['env-steps'] as string, stored.envSteps, 1);
  if (envSteps <= point.state.envSteps) {
    throw new UsageError(
      `--resume ${runId}: the run's checkpoint is at env step ${point.state.envSteps}; give --env-steps above that (the new total)`,
    );
  }
  const learner = (point.checkpoint.meta as { config?: Record<string, unknown> }).config ?? {};
  return {
    task,
    seed,
    settings: { ...stored, envSteps },
    learner,
    safety,
    resume: { runId, ...point },
  };
}

const showJson = (v: unknown) =>
  JSON.stringify(v, (_, x: unknown) => (x === Infinity ? 'Infinity' : x));

export const train: Command = {
  name: 'train',
  summary: 'train a policy online with RLPD (probe or sim), optionally from demos; or resume a run',
  usage,
  async run(argv) {
    const args = parse(
      argv,
      {
        task: { type: 'string' },
        'env-steps': { type: 'string' },
        'random-steps': { type: 'string' },
        demos: { type: 'string' },
        'eval-every': { type: 'string' },
        'eval-episodes': { type: 'string' },
        'checkpoint-every': { type: 'string' },
        resume: { type: 'string' },
        backend: { type: 'string' },
        set: { type: 'string', multiple: true },
        safety: { type: 'string', multiple: true },
        seed: { type: 'string' },
        db: { type: 'string' },
        ...taskOptionsFrom.options,
      },
      usage,
    );
    if (!args) return;
    const { values } = args;
    const backend = backendFlag(values.backend);
    const flags = values as Record<string, string | string[] | undefined>;
    const fresh = values.resume === undefined ? newPlan(flags) : undefined;
    const store = openStore(values.db);
    let link: LearnerLink | undefined;
    let robot: SafeRobot | undefined;
    let recorder: Recorder | undefined;
    try {
      const plan = fresh ?? resumePlan(store, flags);
      const { task, seed, settings, resume } = plan;
      const { envSteps, randomSteps, evalEvery, evalEpisodes, checkpointEvery } = settings;
      robot = await createRobot(task, plan.safety);
      recorder = new Recorder(store);
      console.log(
        resume
          ? `tandem train: resuming run ${resume.runId} (${task.task}) at env step ${resume.state.envSteps}, learner step ${resume.checkpoint.step} (checkpoint ${resume.checkpoint.id})`
          : `tandem train: ${task.task} ${JSON.stringify(task.options)}`,
      );
      console.log(
        `  ${envSteps} env steps (${randomSteps} random), eval every ${evalEvery} × ${evalEpisodes} episodes, checkpoint every ${checkpointEvery}, db ${dbPathFrom(values.db)}`,
      );
      console.log(`  learner ${showJson(plan.learner)}`);
      console.log(`  safety ${showJson(robot.safety.settings)}`);
      const demos = settings.demos ? loadDemos(settings.demos, store) : undefined;
      const runId =
        resume?.runId ??
        store.createRun({
          command: 'train',
          task: task.task,
          config: {
            command: 'train',
            task,
            seed,
            train: {
              ...settings,
              learner: JSON.parse(showJson(plan.learner)) as Record<string, unknown>,
            },
            safety: plan.safety,
          } satisfies RunConfig,
          spec: robot.spec,
          codeVersion: codeVersion(),
        });
      const progress: LoopFigures = { envSteps: 0 };
      const side = await openLearnerSide({
        store,
        runId,
        spec: robot.spec,
        config: plan.learner,
        ...(backend ? { backend } : {}),
        ...(resume ? { checkpoint: resume.checkpoint.payload } : {}),
        ...(demos ? { demos: demos.transitions } : {}),
        onAlert: printAlert,
        loop: () => progress,
      });
      ({ link } = side);
      const { policy, monitor } = side;
      console.log(`  ${link.backend}`);
      if (demos) {
        console.log(
          `  demo buffer: ${demos.transitions.length} transitions from ${demos.episodes} episodes (${settings.demos})`,
        );
      }
      if (resume) {
        const online = onlineTransitions(store, runId, resume.state);
        link.feed(online);
        await link.checkBuffers();
        policy.load(await link.train(0));
        console.log(
          `  online buffer refilled: ${online.length} transitions of run ${runId}'s training episodes; buffers match the checkpoint`,
        );
      }
      const bar = new ProgressBar('training', envSteps);
      let lastEval = '';
      // The learning curves beside the learner's metrics (the dashboard and review plot them).
      const curves = new LearningCurves();
      const curvePoint = (figures: Record<string, number>) =>
        store.addMetrics(
          runId,
          Object.entries(figures).map(([name, value]) => ({
            step: monitor.latest.step ?? 0,
            name,
            value,
          })),
        );
      const results = await trainOnline({
        robot,
        link,
        recorder,
        runId,
        envSteps,
        randomSteps,
        evalEvery,
        evalEpisodes,
        seed,
        progress,
        policy,
        learnerStepsPerEnvStep: 1,
        ...(resume ? { resume: resume.state } : {}),
        checkpoint: {
          every: checkpointEvery,
          save: async (state) => {
            recorder?.flush();
            await saveTrainCheckpoint(store, link!, runId, state);
          },
        },
        onStep(step) {
          if (step % 50 === 0 || step === envSteps) {
            const ups = monitor.latest.updates_per_s;
            bar.update(
              step,
              `${lastEval} ${curves.summary(link!.updateToData)}${ups ? ` · ${ups.toFixed(0)} updates/s` : ''} · ${monitor.health.summary()}`,
            );
          }
        },
        onEpisode(e) {
          curvePoint(curves.episode(e, link!.updateToData));
        },
        onEval(r) {
          curvePoint(curves.evaluated(r.successRate, link!.updateToData));
          lastEval =
            task.task === 'probe'
              ? `eval reward/step ${r.meanStepReward.toFixed(4)}`
              : `eval success ${(100 * r.successRate).toFixed(0)}%`;
        },
      });
      recorder.close();
      const last = results.at(-1);
      console.log(
        `run ${runId}: ${envSteps} env steps; last evaluation: ` +
          (task.task === 'probe'
            ? ''
            : `success ${last ? (100 * last.successRate).toFixed(0) : '-'}%, `) +
          `mean reward/step ${last?.meanStepReward.toFixed(4) ?? '-'}, policy version ${last?.policyVersion ?? 0}; ` +
          `health: ${monitor.health.summary()}; resume with: tandem train --resume ${runId} --env-steps N`,
      );
    } finally {
      recorder?.close();
      await link?.close();
      robot?.close();
      store.close();
    }
  },
};
