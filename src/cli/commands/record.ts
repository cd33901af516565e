import { TaskConfig, type RunConfig } from '../../protocol/index.ts';
import { createRobot } from '../../robots/index.ts';
import { Recorder } from '../../store/index.ts';
import { recordEpisodes } from '../../studio/record.ts';
import { type Command, intFlag, parse, UsageError } from '../args.ts';
import { codeVersion, dbPathFrom, openStore, SAFETY_FLAG_HELP, safetyFlags } from '../common.ts';
import { ProgressBar } from '../progress.ts';
import { taskFlag, taskOptionFlags, taskOptionsFrom } from '../task-options.ts';

const usage = `
Usage: tandem record --task TASK [options]

Records episodes driven by an operator into the database.

Options:
  --task TASK          sim/panda-lift | probe | ros2 (required)
  --episodes N         how many episodes (default 10)
  --operator NAME      scripted (the task's scripted expert; the only headless operator)
  --seed N             episode i is reset with seed N+i (default 0)
  --kind KIND          demo | train | eval (default demo)
  --db PATH            database file (default: the data folder, see tandem --help)
${SAFETY_FLAG_HELP}
${taskOptionFlags}
`;

export const record: Command = {
  name: 'record',
  summary: 'record episodes with an operator (the scripted expert headless)',
  usage,
  async run(argv) {
    const args = parse(
      argv,
      {
        task: { type: 'string' },
        episodes: { type: 'string' },
        operator: { type: 'string' },
        seed: { type: 'string' },
        kind: { type: 'string' },
        db: { type: 'string' },
        safety: { type: 'string', multiple: true },
        ...taskOptionsFrom.options,
      },
      usage,
    );
    if (!args) return;
    const { values } = args;
    const taskName = taskFlag(values.task);
    const operator = values.operator ?? 'scripted';
    if (operator !== 'scripted') {
      throw new UsageError(
        `--operator ${operator} cannot drive headless; a human operator records through the studio (tandem serve)`,
      );
    }
    const kind = values.kind ?? 'demo';
    if (kind !== 'demo' && kind !== 'train' && kind !== 'eval') {
      throw new UsageError(`--kind must be demo, train or eval, got "${kind}"`);
    }
    const episodes = intFlag('episodes', values.episodes, 10, 1);
    const seed = intFlag('seed', values.seed, 0);
    const task = TaskConfig.parse({ task: taskName, options: taskOptionsFrom.parse(values) });
    const safety = safetyFlags(values.safety);
    const config: RunConfig = { command: 'record', task, operator, episodes, seed, safety };

    const dbPath = dbPathFrom(values.db);
    const store = openStore(values.db);
    const robot = await createRobot(task, safety);
    const recorder = new Recorder(store);
    try {
      console.log(`tandem record: ${task.task} ${JSON.stringify(task.options)}`);
      console.log(
        `  operator ${operator}, ${episodes} ${kind} episodes from seed ${seed}, db ${dbPath}`,
      );
      console.log(`  safety ${JSON.stringify(robot.safety.settings)}`);
      const runId = store.createRun({
        command: 'record',
        task: task.task,
        config,
        spec: robot.spec,
        codeVersion: codeVersion(),
      });
      const bar = new ProgressBar('recording', episodes);
      let successes = 0;
      let steps = 0;
      const started = performance.now();
      bar.update(0);
      recordEpisodes({
        robot,
        expert: robot.expert(),
        recorder,
        runId,
        episodes,
        seed,
        kind,
        onEpisode(e) {
          if (e.outcome === 'success') successes++;
          steps += e.steps;
          bar.update(e.index + 1, `success ${successes}/${e.index + 1}`);
        },
      });
      recorder.close();
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `run ${runId}: ${episodes} episodes, ${successes} successful, ${steps} steps ` +
          `(${(steps / seconds).toFixed(0)} steps/s) in ${dbPath}`,
      );
    } finally {
      recorder.close();
      robot.close();
      store.close();
    }
  },
};
