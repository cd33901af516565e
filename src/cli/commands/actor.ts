import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { PolicyRunner } from '../../learner/policy.ts';
import { packTransitions } from '../../learner/link.ts';
import { RemoteLearner } from '../../learner/remote/client.ts';
import { ActorId } from '../../learner/remote/wire.ts';
import { RunConfig, TaskConfig } from '../../protocol/index.ts';
import { createRobot, type SafeRobot } from '../../robots/index.ts';
import { Recorder, Store } from '../../store/index.ts';
import type { LearnerMonitor } from '../../studio/learner-monitor.ts';
import { runActor } from '../../studio/actor.ts';
import { controlSide } from '../../studio/learner-side.ts';
import { type Command, intFlag, parse, UsageError } from '../args.ts';
import { codeVersion, dbPathFrom, openStore, SAFETY_FLAG_HELP, safetyFlags } from '../common.ts';
import { taskFlag, taskOptionFlags, taskOptionsFrom } from '../task-options.ts';
import { tokenFrom } from './learner.ts';

const usage = `
Usage: tandem actor --learner grpc://HOST:PORT --task TASK [options]

A headless actor for a remote learner (tandem learner serve): the policy acts on the task with the
newest weights the learner publishes, every step goes through the safety layer, is recorded in this
actor's database and sent to the learner (queued: the loop never waits on the network; after a
lost connection the queue is resent from where the learner's log stands, none lost, none twice).

Options:
  --learner URL        grpc://HOST:PORT, or grpcs://HOST:PORT for TLS (required)
  --learner-ca PATH    the learner's certificate to trust (its self-signed one, for grpcs://)
  --token TOKEN        the learner's shared token (or --token-file PATH)
  --token-file PATH
  --id NAME            this actor's id (default: the host name); keep it across restarts so
                       that the stream resumes where it stood
  --task TASK          sim/panda-lift | probe | ros2 (required)
  --env-steps N        environment steps to take (default 20000)
  --random-steps N     random actions before the policy acts (default 0)
  --rate HZ            paced: one step per control tick at HZ, as a robot runs (default 0:
                       unpaced, a sim copy keeping step with the learner, see --utd)
  --utd R              unpaced: the learner steps per online transition to keep (default 1)
  --demos DB           push the demo episodes of this database first, as demonstrations (once:
                       not again when the stream resumes)
  --eval-every N       unpaced: evaluate every N env steps (default 0: never)
  --eval-episodes N    episodes per evaluation (default 10)
  --stop-at RATE       stop at the first evaluation with at least this success rate (0–1)
${SAFETY_FLAG_HELP}
  --seed N             (default 0)
  --db PATH            this actor's database (default: the data folder)
${taskOptionFlags}
`;

const options = {
  learner: { type: 'string' },
  'learner-ca': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  id: { type: 'string' },
  task: { type: 'string' },
  'env-steps': { type: 'string' },
  'random-steps': { type: 'string' },
  rate: { type: 'string' },
  utd: { type: 'string' },
  demos: { type: 'string' },
  'eval-every': { type: 'string' },
  'eval-episodes': { type: 'string' },
  'stop-at': { type: 'string' },
  safety: { type: 'string', multiple: true },
  seed: { type: 'string' },
  db: { type: 'string' },
  ...taskOptionsFrom.options,
} as const;

function numberFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} must be a number ≥ ${min}, got "${value}"`);
  return n;
}

export const actor: Command = {
  name: 'actor',
  summary: 'a headless actor (sim copy or robot) feeding a remote learner over gRPC',
  usage,
  async run(argv) {
    const args = parse(argv, options, usage);
    if (!args) return;
    const v = args.values;
    if (!v.learner) throw new UsageError('--learner grpc://HOST:PORT is required');
    const id = ActorId.safeParse(v.id ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-'));
    if (!id.success) throw new UsageError(`--id: ${id.error.issues[0]!.message}`);
    const task = TaskConfig.parse({ task: taskFlag(v.task), options: taskOptionsFrom.parse(v) });
    const rateHz = numberFlag('rate', v.rate, 0);
    const evalEvery = intFlag('eval-every', v['eval-every'], 0);
    if (rateHz > 0 && evalEvery > 0)
      throw new UsageError(
        '--eval-every needs an unpaced actor (--rate 0): evaluations take whole episodes',
      );
    const seed = intFlag('seed', v.seed, 0);
    const token = tokenFrom(v);
    const store = openStore(v.db);
    let robot: SafeRobot | undefined;
    let learner: RemoteLearner | undefined;
    let recorder: Recorder | undefined;
    try {
      const safety = safetyFlags(v.safety);
      robot = await createRobot(task, safety);
      const spec = robot.spec;
      const obsDim = spec.observation.names.length;
      const actionDim = spec.action.names.length;
      const runId = store.createRun({
        command: 'actor',
        task: task.task,
        config: {
          command: 'actor',
          task,
          seed,
          safety,
          remote: { url: v.learner, actor: id.data },
        } satisfies RunConfig,
        spec,
        codeVersion: codeVersion(),
      });
      // Weights and metrics may come before the policy and the monitor exist (made from the
      // learner's config, which comes with the connection).
      const side: { policy?: PolicyRunner; monitor?: LearnerMonitor } = {};
      const staged: Parameters<PolicyRunner['stage']>[0][] = [];
      learner = await RemoteLearner.connect({
        url: v.learner,
        actor: id.data,
        ...(token ? { token } : {}),
        ...(v['learner-ca'] ? { caPath: v['learner-ca'] } : {}),
        task: task.task,
        obsDim,
        actionDim,
        followSteps: rateHz === 0,
        onWeights: (w) => (side.policy ? side.policy.stage(w) : staged.push(w)),
        onMetrics: (m) => side.monitor?.observe(m),
        onConnection: (up, reason) =>
          console.log(
            up
              ? `learner up: ${reason}`
              : `ALARM learner lost: ${reason} (acting on with the last policy)`,
          ),
      });
      const made = controlSide(
        {
          store,
          runId,
          onAlert: (a) =>
            console.log(
              `health ${a.state}: ${a.pathology} at learner step ${a.step}: ${a.evidence}`,
            ),
          loop: () => ({ envSteps: learner?.sentOnline ?? 0 }),
        },
        learner.config,
        obsDim,
        actionDim,
      );
      Object.assign(side, made);
      const policy = made.policy;
      if (staged.length > 0) policy.stage(staged.at(-1)!);
      const envSteps = intFlag('env-steps', v['env-steps'], 20_000, 1);
      console.log(
        `tandem actor ${id.data}: ${task.task}, run ${runId} in ${dbPathFrom(v.db)}; learner ${learner.backend}, its run ${learner.runId}, this actor's stream at ${learner.acked}`,
      );
      console.log(
        `  ${envSteps} env steps, ${rateHz > 0 ? `paced at ${rateHz} Hz` : `unpaced, keeping ${numberFlag('utd', v.utd, 1)} learner steps per online transition`}; safety ${JSON.stringify(robot.safety.settings)}`,
      );
      if (v.demos) {
        if (learner.acked > 0)
          console.log(`  demos: already sent (the stream resumes at ${learner.acked})`);
        else {
          const from = Store.open(resolve(v.demos), { readonly: true });
          try {
            const episodes = from.listEpisodes({ kind: 'demo', limit: 100_000 });
            if (episodes.length === 0)
              throw new UsageError(`--demos ${v.demos}: no demo episodes there`);
            const rows = episodes.flatMap((e) => from.readTransitions(e.id));
            learner.add('demo', packTransitions(rows, obsDim, actionDim));
            console.log(
              `  demos: ${rows.length} transitions from ${episodes.length} episodes sent`,
            );
          } finally {
            from.close();
          }
        }
      }
      recorder = new Recorder(store);
      const stopAt =
        v['stop-at'] === undefined ? undefined : numberFlag('stop-at', v['stop-at'], 1);
      let stop = false;
      const onSignal = () => (stop = true);
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const results = await runActor({
        robot,
        learner,
        policy,
        recorder,
        runId,
        envSteps,
        randomSteps: intFlag('random-steps', v['random-steps'], 0),
        rateHz,
        utd: numberFlag('utd', v.utd, 1, 1e-6),
        evalEvery,
        evalEpisodes: intFlag('eval-episodes', v['eval-episodes'], 10, 1),
        seed,
        ...(stopAt !== undefined ? { stopAt } : {}),
        shouldStop: () => stop,
        onEval: (r) =>
          console.log(
            `eval at ${r.envSteps} env steps: success ${(100 * r.successRate).toFixed(0)}% (${r.episodes} episodes), policy version ${r.policyVersion}`,
          ),
        onLive: (scheduling) => console.log(`  control thread: ${scheduling}`),
        onProgress: (steps, stats, swaps) =>
          console.log(
            JSON.stringify({
              progress: steps,
              connected: learner!.connected,
              acked: learner!.acked,
              backlog: learner!.backlog,
              learnerSteps: learner!.steps,
              policyVersion: policy.version,
              ...(swaps.count > 0 ? { swapP50: swaps.p50, swapP99: swaps.p99 } : {}),
              // The period error needs two ticks.
              ...(stats && stats.ticks > 1
                ? {
                    periodErrorP99: stats.periodError.p99,
                    ticks: stats.ticks,
                    missed: stats.missed,
                  }
                : {}),
            }),
          ),
      });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const flushed = await learner.flush(30_000);
      const last = results.at(-1);
      console.log(
        `actor ${id.data}: ${learner.sentOnline} transitions sent, ${learner.acked} stored by the learner${flushed ? '' : ` (${learner.backlog} still queued: the learner is away)`}${last ? `; last evaluation: success ${(100 * last.successRate).toFixed(0)}% at ${last.envSteps} env steps` : ''}`,
      );
    } finally {
      recorder?.close();
      await learner?.close();
      robot?.close();
      store.close();
    }
  },
};
