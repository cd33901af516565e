import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LEARNER_BACKENDS } from '../../learner/backend.ts';
import { LearnerConfig } from '../../learner/config.ts';
import { LEARNER_PRESETS } from '../../learner/presets.ts';
import { LearnerServer } from '../../learner/remote/server.ts';
import { RunConfig, TaskConfig } from '../../protocol/index.ts';
import { createRobot } from '../../robots/index.ts';
import { lanAddresses } from '../../server/addresses.ts';
import { ensureCertificate } from '../../server/certificate.ts';
import { defaultDataDir } from '../../store/index.ts';
import { type Command, intFlag, parse, UsageError } from '../args.ts';
import { backendFlag, codeVersion, keyValueFlags, openStore } from '../common.ts';
import { taskFlag, taskOptionFlags, taskOptionsFrom } from '../task-options.ts';

const usage = `
Usage: tandem learner serve --task TASK [options]
       tandem learner serve --resume RUN [options]

The learner as a service on gRPC, for actors on this or other machines (tandem actor,
tandem serve --learner grpc://HOST:PORT): it trains free-running on every transition they send,
publishes the policy's weights to all of them, and keeps its run (every transition received,
checkpoints, metrics, health alerts) in its own SQLite file. Stop it with Ctrl-C: it saves a
checkpoint; continue with --resume RUN (actors reconnect by themselves).

Without --tls and --token it listens on loopback only.

Options:
  --task TASK            sim/panda-lift | probe | ros2 (required unless --resume)
  --port N               (default 50051; 0: any free port, printed)
  --host ADDR            (default 127.0.0.1; any other address needs --tls and --token)
  --token TOKEN          a shared secret every actor must send (or --token-file PATH)
  --token-file PATH
  --tls                  serve TLS with the studio's self-signed certificate (made on first use,
                         kept beside the database; actors trust it with --learner-ca)
  --tls-cert PATH        serve TLS with this certificate and key instead
  --tls-key PATH
  --resume RUN           continue run RUN of --db from its newest checkpoint, its buffers
                         refilled from the transitions it had received
  --checkpoint-every S   seconds between checkpoints (default 30; one more at Ctrl-C)
  --max-utd R            at most R learner steps per online transition (default: the config's utd)
  --backend NAME         force where the learner runs: ${LEARNER_BACKENDS.join(' | ')}
  --set KEY=VALUE        a learner setting (repeatable), e.g. --set ensembleSize=10
  --seed N               (default 0)
  --db PATH              database file (default: the data folder's learner.db)
${taskOptionFlags}
`;

const options = {
  task: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  tls: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  resume: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'max-utd': { type: 'string' },
  backend: { type: 'string' },
  set: { type: 'string', multiple: true },
  seed: { type: 'string' },
  db: { type: 'string' },
  ...taskOptionsFrom.options,
} as const;

const showJson = (v: unknown) =>
  JSON.stringify(v, (_, x: unknown) => (x === Infinity ? 'Infinity' : x));

/** The token from --token or --token-file (its first line). */
export function tokenFrom(values: { token?: string; 'token-file'?: string }): string | undefined {
  if (values.token !== undefined && values['token-file'] !== undefined)
    throw new UsageError('give --token or --token-file, not both');
  const token = values['token-file']
    ? readFileSync(values['token-file'], 'utf8').split('\n')[0]!.trim()
    : values.token;
  if (token !== undefined && token.length < 8)
    throw new UsageError('a token needs at least 8 characters');
  return token;
}

async function serveLearner(argv: string[]): Promise<void> {
  const args = parse(argv, options, usage);
  if (!args) return;
  const v = args.values;
  const backend = backendFlag(v.backend);
  const token = tokenFrom(v);
  if (v.tls && (v['tls-cert'] || v['tls-key']))
    throw new UsageError('give --tls or --tls-cert/--tls-key, not both');
  if (Boolean(v['tls-cert']) !== Boolean(v['tls-key']))
    throw new UsageError('--tls-cert and --tls-key go together');
  const dbPath = v.db ?? join(defaultDataDir(), 'learner.db');
  const store = openStore(dbPath);
  try {
    let runId: number;
    let task: TaskConfig;
    let learner: Record<string, unknown>;
    if (v.resume !== undefined) {
      runId = intFlag('resume', v.resume, 0, 1);
      const run = store.getRun(runId);
      const config = run && RunConfig.safeParse(run.config);
      if (!config?.success || config.data.command !== 'learner')
        throw new UsageError(`--resume ${runId}: there is no learner run ${runId} in ${dbPath}`);
      if (v.task !== undefined || v.set !== undefined)
        throw new UsageError(`--resume ${runId} continues with the run's own task and settings`);
      task = config.data.task;
      learner = config.data.learner ?? {};
    } else {
      task = TaskConfig.parse({ task: taskFlag(v.task), options: taskOptionsFrom.parse(v) });
      learner = {
        ...LearnerConfig.parse({
          ...LEARNER_PRESETS[task.task],
          seed: intFlag('seed', v.seed, 0),
          ...keyValueFlags('set', v.set ?? []),
        }),
      };
      runId = 0;
    }
    // The task's dims come from its robot (made and closed again: the learner drives nothing).
    const robot = await createRobot(task);
    const spec = robot.spec;
    robot.close();
    if (learner.gripper === 'discrete') {
      // PolicyWeights' grasp critic has no place on the wire (src/learner/remote/wire.ts) yet
      throw new UsageError(
        'tandem learner serve: a discrete gripper (gripper=discrete) does not reach remote actors yet; train it in the studio or with tandem train, or use gripper=continuous',
      );
    }
    if (runId === 0) {
      runId = store.createRun({
        command: 'learner',
        task: task.task,
        config: {
          command: 'learner',
          task,
          seed: 0,
          learner: JSON.parse(showJson(learner)) as Record<string, unknown>,
        } satisfies RunConfig,
        spec,
        codeVersion: codeVersion(),
      });
    }
    const host = v.host ?? '127.0.0.1';
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (v['tls-cert'] && v['tls-key'])
      tls = { cert: readFileSync(v['tls-cert']), key: readFileSync(v['tls-key']) };
    else if (v.tls) {
      // Its names: localhost, loopback, this host, and the address it listens on (or, on all of
      // them, this machine's LAN addresses).
      const hosts = ['0.0.0.0', '::'].includes(host) ? lanAddresses() : [host];
      const c = await ensureCertificate(join(dirname(dbPath), 'tls'), { hosts });
      tls = { cert: Buffer.from(c.cert), key: Buffer.from(c.key) };
      console.log(`  TLS certificate ${c.certPath} (SHA-256 ${c.fingerprint})`);
    }
    const maxUtd = v['max-utd'] === undefined ? Number(learner.utd ?? 1) : Number(v['max-utd']);
    if (!(maxUtd > 0))
      throw new UsageError(`--max-utd must be a number > 0, got "${v['max-utd']}"`);
    const server = await LearnerServer.start({
      store,
      runId,
      task: task.task,
      obsDim: spec.observation.names.length,
      actionDim: spec.action.names.length,
      config: learner,
      ...(backend ? { backend } : {}),
      resume: v.resume !== undefined,
      host,
      port: intFlag('port', v.port, 50051),
      ...(token ? { token } : {}),
      ...(tls ? { tls } : {}),
      checkpointEveryMs: 1000 * intFlag('checkpoint-every', v['checkpoint-every'], 30, 1),
      freeRun: {
        publishEverySteps: 10,
        publishEveryMs: 500,
        maxUpdatesPerTransition: maxUtd,
        keepCredit: true,
      },
      log: (line) => console.log(`  ${line}`),
    });
    const scheme = tls ? 'grpcs' : 'grpc';
    const shown = host.includes(':') ? `[${host}]` : host;
    console.log(
      `tandem learner: run ${runId} (${task.task}) ${v.resume ? `resumed at learner step ${server.link.steps}` : 'new'}, db ${dbPath}`,
    );
    console.log(`  learner ${showJson(server.link.config)}`);
    console.log(`  ${server.link.backend}`);
    console.log(
      `  at most ${maxUtd} learner steps per online transition; checkpoint every ${v['checkpoint-every'] ?? 30} s; ${token ? 'token required' : 'no token'}; ${tls ? 'TLS' : 'plain (loopback only)'}`,
    );
    console.log(`listening on ${scheme}://${shown}:${server.port}`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    console.log('stopping: saving a checkpoint…');
    await server.close();
    console.log(
      `run ${runId}: ${server.received} transitions received, learner step ${server.link.steps}; continue with: tandem learner serve --resume ${runId} --db ${dbPath}`,
    );
  } finally {
    store.close();
  }
}

export const learner: Command = {
  name: 'learner',
  summary: 'the learner as a gRPC service for actors on this or other machines (learner serve)',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'serve') return serveLearner(rest);
    if (sub === undefined || sub === '--help' || sub === '-h') {
      console.log(usage.trim());
      return;
    }
    throw new UsageError(`unknown learner command "${sub}": tandem learner serve`);
  },
};
