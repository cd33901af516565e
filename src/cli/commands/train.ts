import { existsSync } from 'node:fs';
import { LearnerConfig } from '../../learner/config.ts';
import { BACKENDS, type BackendName } from '../../learner/backend.ts';
import { LearnerLink, packTransitions } from '../../learner/link.ts';
import { PolicyRunner } from '../../learner/policy.ts';
import { LEARNER_PRESETS } from '../../learner/presets.ts';
import { TaskConfig, type RunConfig } from '../../protocol/index.ts';
import { createRobot } from '../../robots/index.ts';
import { Recorder, Store } from '../../store/index.ts';
import { LearnerMonitor } from '../../studio/learner-monitor.ts';
import { trainOnline } from '../../studio/train.ts';
import { type Command, intFlag, parse, UsageError } from '../args.ts';
import { codeVersion, dbPathFrom, openStore } from '../common.ts';
import { ProgressBar } from '../progress.ts';
import { taskFlag, taskOptionFlags, taskOptionsFrom } from '../task-options.ts';

const usage = `
Usage: tandem train --task TASK [options]

Online RLPD in the headless loop: the policy acts, every step is recorded, the learner (in a
worker thread) trains after each environment step, and evaluation episodes run the mean action.

Options:
  --task TASK          sim/panda-lift | probe (required)
  --env-steps N        environment steps of training (probe 1500, panda-lift 20000)
  --random-steps N     random actions before the policy acts (probe 200; 0 with --demos)
  --demos SOURCE       demonstrations for the demo buffer: a database file (its demo episodes)
                       or run:ID (the demo episodes of run ID in --db)
  --eval-every N       evaluate every N environment steps (probe 500, panda-lift 2000)
  --eval-episodes N    episodes per evaluation (probe 1, panda-lift 10)
  --backend NAME       force a TensorFlow.js backend: ${BACKENDS.join(' | ')}
  --set KEY=VALUE      a learner setting (repeatable), e.g. --set utd=4 --set ensembleSize=10
  --seed N             (default 0)
  --db PATH            database file (default: the data folder)
${taskOptionFlags}
`;

const TASK_DEFAULTS = {
  probe: { envSteps: 1500, randomSteps: 200, evalEvery: 500, evalEpisodes: 1 },
  'sim/panda-lift': { envSteps: 20_000, randomSteps: 1000, evalEvery: 2000, evalEpisodes: 10 },
} as const;

/** `--set key=value` pairs as a learner-config object (numbers, booleans and lists parsed as JSON). */
function learnerOverrides(pairs: string[]): Record<string, unknown> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--set takes KEY=VALUE, got "${pair}"`);
      const raw = pair.slice(at + 1);
      let value: unknown = raw;
      try {
        value = JSON.parse(raw);
      } catch {
        // not JSON: keep the text (e.g. actorLoss=sac+bc)
      }
      return [pair.slice(0, at), value];
    }),
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

export const train: Command = {
  name: 'train',
  summary: 'train a policy online with RLPD (probe or sim), optionally from demos',
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
        backend: { type: 'string' },
        set: { type: 'string', multiple: true },
        seed: { type: 'string' },
        db: { type: 'string' },
        ...taskOptionsFrom.options,
      },
      usage,
    );
    if (!args) return;
    const { values } = args;
    const taskName = taskFlag(values.task);
    if (values.backend !== undefined && !(BACKENDS as readonly string[]).includes(values.backend)) {
      throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
    }
    const defaults = TASK_DEFAULTS[taskName];
    const seed = intFlag('seed', values.seed, 0);
    const envSteps = intFlag('env-steps', values['env-steps'], defaults.envSteps, 1);
    const randomSteps = intFlag(
      'random-steps',
      values['random-steps'],
      values.demos ? 0 : defaults.randomSteps,
    );
    const evalEvery = intFlag('eval-every', values['eval-every'], defaults.evalEvery, 1);
    const evalEpisodes = intFlag(
      'eval-episodes',
      values['eval-episodes'],
      defaults.evalEpisodes,
      1,
    );
    const task = TaskConfig.parse({ task: taskName, options: taskOptionsFrom.parse(values) });
    const learner = LearnerConfig.parse({
      ...LEARNER_PRESETS[task.task],
      seed,
      ...learnerOverrides(values.set ?? []),
    });
    if (
      values.demos &&
      learner.actorLoss === 'sac' &&
      !values.set?.some((s) => s.startsWith('actorLoss='))
    ) {
      learner.actorLoss = 'sac+bc'; // demos: BC-regularised actor with a decaying weight
    }

    const store = openStore(values.db);
    const robot = await createRobot(task);
    const obsDim = robot.spec.observation.names.length;
    const actionDim = robot.spec.action.names.length;
    let link: LearnerLink | undefined;
    const recorder = new Recorder(store);
    try {
      const config: RunConfig = { command: 'train', task, seed };
      console.log(`tandem train: ${task.task} ${JSON.stringify(task.options)}`);
      console.log(
        `  ${envSteps} env steps (${randomSteps} random), eval every ${evalEvery} × ${evalEpisodes} episodes, db ${dbPathFrom(values.db)}`,
      );
      console.log(
        `  learner ${JSON.stringify(learner, (_, v: unknown) => (v === Infinity ? 'Infinity' : v))}`,
      );
      const demos = values.demos ? loadDemos(values.demos, store) : undefined;
      const runId = store.createRun({
        command: 'train',
        task: task.task,
        config,
        spec: robot.spec,
        codeVersion: codeVersion(),
      });
      const monitor = new LearnerMonitor(
        store,
        runId,
        { gamma: learner.gamma, rewardScale: learner.rewardScale, actionDim },
        (alert) => {
          process.stderr.write(
            `\nhealth ${alert.state}: ${alert.pathology} at learner step ${alert.step}: ${alert.evidence}\n`,
          );
          if (alert.state === 'raised')
            process.stderr.write(
              `  probable cause: ${alert.probableCause}\n  try: ${alert.whatToTry.join('; ')}\n`,
            );
        },
      );
      link = await LearnerLink.start({
        obsDim,
        actionDim,
        config: { ...learner },
        ...(values.backend ? { backend: values.backend as BackendName } : {}),
        metricsEvery: 50,
        onMetrics: (m) => monitor.observe(m),
      });
      store.setRunBackend(runId, link.backend);
      console.log(`  ${link.backend}`);
      if (demos) {
        link.add('demo', packTransitions(demos.transitions, obsDim, actionDim));
        console.log(
          `  demo buffer: ${demos.transitions.length} transitions from ${demos.episodes} episodes (${values.demos})`,
        );
      }
      const bar = new ProgressBar('training', envSteps);
      let lastEval = '';
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
        monitor,
        policy: new PolicyRunner(obsDim, actionDim, [learner.logStdMin, learner.logStdMax]),
        learnerStepsPerEnvStep: 1,
        onStep(step) {
          if (step % 50 === 0 || step === envSteps) {
            const ups = monitor.latest.updates_per_s;
            bar.update(
              step,
              `${lastEval}${ups ? ` ${ups.toFixed(0)} updates/s` : ''} ${monitor.health.summary()}`,
            );
          }
        },
        onEval(r) {
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
          `health: ${monitor.health.summary()}`,
      );
    } finally {
      recorder.close();
      await link?.close();
      robot.close();
      store.close();
    }
  },
};
