import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureCertificate } from '../../server/certificate.ts';
import { rendererBuilt, startStudioServer } from '../../server/http.ts';
import { PairingManager } from '../../server/pairing.ts';
import { isLoopback, lanAddresses } from '../../server/addresses.ts';
import { attachRpc, RPC_PATH } from '../../server/rpc.ts';
import { type SessionConfigInput, TaskConfig } from '../../protocol/index.ts';
import { LEARNER_BACKENDS } from '../../learner/backend.ts';
import { ActorId, parseLearnerAddress } from '../../learner/remote/wire.ts';
import type { RemoteLearnerSettings } from '../../studio/learner-side.ts';
import { Session } from '../../studio/session.ts';
import { tokenFrom } from './learner.ts';
import { type Command, intFlag, parse, UsageError } from '../args.ts';
import { backendFlag, codeVersion, openStore } from '../common.ts';
import { taskFlag, taskOptionFlags, taskOptionsFrom } from '../task-options.ts';

const usage = `
Usage: tandem serve [options]

Runs the studio headless: a live session (control loop, safety layer, learner worker, recorder)
on the task, its UI on http://HOST:PORT and its RPC and event stream on ws://HOST:PORT${RPC_PATH}.
It starts paused. Stop it with Ctrl-C (the running episode is kept, marked interrupted).

The headset page is at /xr. Beyond localhost (--host 0.0.0.0 or a LAN address) the studio serves
HTTPS with a self-signed certificate made on first use (kept in the data folder, beside the
database), as WebXR requires; a headset pairs with the 6-digit code printed here and shown in the
UI before it can drive.

Options:
  --task TASK          sim/panda-lift (default) | probe | ros2
  --operator WHO       human (teleop packets; default) | scripted (the task's expert corrects
                       the policy by itself, and drives BC-warmup)
  --intervention S     hold (default: intervene while the button is held) | toggle
  --seed N             (default 0)
  --port N             (default 7420)
  --host ADDR          (default 127.0.0.1; any other address serves HTTPS)
  --headset-fault F    pause (default: a stale or lost headset stream holds, alarms, pauses)
                       | hold (hold and alarm only)
  --realtime R         auto (default: the control thread on the real-time scheduler when the
                       system allows it) | off | required
  --backend NAME       force where the learner runs: ${LEARNER_BACKENDS.join(' | ')}
                       (default: the first that loads, in that order)
  --learner URL        train on a remote learner (tandem learner serve) at grpc://HOST:PORT or
                       grpcs://HOST:PORT instead of the local worker; transitions are queued and
                       resent after a lost connection, its weights are swapped in between ticks
  --learner-ca PATH    the remote learner's certificate to trust (grpcs://, self-signed)
  --token TOKEN        the remote learner's shared token (or --token-file PATH)
  --token-file PATH
  --actor-id NAME      this studio's id at the learner (default: the host name; keep it)
  --learner-lost L     keep (default: act on with the last policy) | pause, when the remote
                       learner cannot be reached (an alarm either way)
  --db PATH            database file (default: the data folder)
${taskOptionFlags}
`;

export const serveOptions = {
  port: { type: 'string' },
  host: { type: 'string' },
  db: { type: 'string' },
  task: { type: 'string' },
  operator: { type: 'string' },
  intervention: { type: 'string' },
  'headset-fault': { type: 'string' },
  realtime: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  learner: { type: 'string' },
  'learner-ca': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'actor-id': { type: 'string' },
  'learner-lost': { type: 'string' },
  ...taskOptionsFrom.options,
} as const;

type ServeValues = Partial<Record<keyof typeof serveOptions, string>>;

/** The session's config from the flags (the defaults are printed at start). */
function sessionConfig(values: ServeValues): SessionConfigInput {
  const operator = values.operator ?? 'human';
  if (operator !== 'human' && operator !== 'scripted') {
    throw new UsageError(`--operator must be human or scripted, got "${operator}"`);
  }
  const style = values.intervention ?? 'hold';
  if (style !== 'hold' && style !== 'toggle') {
    throw new UsageError(`--intervention must be hold or toggle, got "${style}"`);
  }
  const fault = values['headset-fault'] ?? 'pause';
  if (fault !== 'pause' && fault !== 'hold') {
    throw new UsageError(`--headset-fault must be pause or hold, got "${fault}"`);
  }
  const learnerLost = values['learner-lost'] ?? 'keep';
  if (learnerLost !== 'keep' && learnerLost !== 'pause') {
    throw new UsageError(`--learner-lost must be keep or pause, got "${learnerLost}"`);
  }
  const realtime = values.realtime ?? 'auto';
  if (realtime !== 'auto' && realtime !== 'off' && realtime !== 'required') {
    throw new UsageError(`--realtime must be auto, off or required, got "${realtime}"`);
  }
  const task = TaskConfig.parse({
    task: taskFlag(values.task ?? 'sim/panda-lift'),
    options: taskOptionsFrom.parse(values),
  });
  return {
    task,
    operator,
    interventionStyle: style,
    operatorFault: fault,
    learnerLost,
    realtime,
    seed: intFlag('seed', values.seed, 0),
    // One learner thread live: the other core keeps the control loop on time (docs/BENCHMARKS.md, "loop").
    learner: { threads: 1 },
  };
}

/** --learner and its companions: where the remote learner is, or undefined for the local one. */
function remoteLearnerFrom(values: ServeValues): RemoteLearnerSettings | undefined {
  const token = tokenFrom(values);
  if (!values.learner) {
    const stray = (['learner-ca', 'token', 'token-file', 'actor-id'] as const).filter(
      (k) => values[k],
    );
    if (stray.length > 0) throw new UsageError(`--${stray[0]} goes with --learner URL`);
    return undefined;
  }
  if (values.backend)
    throw new UsageError('--backend is the remote learner’s: give it to tandem learner serve');
  const actor = ActorId.safeParse(
    values['actor-id'] ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-'),
  );
  if (!actor.success) throw new UsageError(`--actor-id: ${actor.error.issues[0]!.message}`);
  parseLearnerAddress(values.learner);
  return {
    url: values.learner,
    actor: actor.data,
    ...(token ? { token } : {}),
    ...(values['learner-ca'] ? { caPath: values['learner-ca'] } : {}),
  };
}

/** Starts the browser host with a live session; runs until SIGINT/SIGTERM. Shared with `start`. */
export async function serveStudio(values: ServeValues): Promise<void> {
  if (!rendererBuilt()) {
    throw new Error('the UI is not built: run `npm run build` (npm start does it for you)');
  }
  const config = sessionConfig(values);
  const backend = backendFlag(values.backend);
  const remoteLearner = remoteLearnerFrom(values);
  const store = openStore(values.db);
  let session: Session | undefined;
  try {
    session = await Session.open(store, config, {
      codeVersion: codeVersion(),
      ...(backend ? { backend } : {}),
      ...(remoteLearner ? { remoteLearner } : {}),
    });
    const host = values.host ?? '127.0.0.1';
    const folder = dirname(store.path);
    // WebXR needs a secure origin: localhost is one, any other address needs HTTPS.
    const lan = !isLoopback(host) && host !== 'localhost';
    const addresses = lan ? lanAddresses() : [];
    const certificate = lan
      ? await ensureCertificate(join(folder, 'tls'), { hosts: addresses })
      : undefined;
    const server = await startStudioServer({
      store,
      version: codeVersion(),
      host,
      port: intFlag('port', values.port, 7420),
      ...(certificate ? { tls: { key: certificate.key, cert: certificate.cert } } : {}),
    });
    const { port } = server.address() as AddressInfo;
    const scheme = lan ? 'https' : 'http';
    const shownHost = lan && (host === '0.0.0.0' || host === '::') ? (addresses[0] ?? host) : host;
    const headsetUrl = `${scheme}://${shownHost}:${port}/xr`;
    const pairing = new PairingManager({
      file: join(folder, 'tandem-pairing.json'),
      onRotate: (code) => console.log(`  headset pairing code is now ${code}`),
    });
    if (pairing.loadError) console.warn(`tandem: ${pairing.loadError}`);
    const rpc = attachRpc(server, session, { pairing, headsetUrl });
    session.startLive();
    const c = session.config;
    console.log(
      `tandem studio: ${scheme}://${shownHost}:${port}/  (db ${store.path}; Ctrl-C to stop)`,
    );
    console.log(`  headset: open ${headsetUrl} and enter the pairing code ${pairing.code}`);
    if (certificate) {
      console.log(
        `  HTTPS certificate ${certificate.created ? 'made' : 'reused'}: ${certificate.certPath} (SHA-256 ${certificate.fingerprint}); the headset's browser asks to accept it once`,
      );
    }
    console.log(
      `  run ${session.runId}: ${c.task.task} ${JSON.stringify(c.task.options)} at ${session.rateHz} Hz, operator ${c.operator}, intervention ${c.interventionStyle}, safety ${JSON.stringify(session.robot.safety.settings)}`,
    );
    console.log(
      `  learner: at most ${c.maxUpdatesPerTransition} updates per online transition (the UTD bound), publishing every ${c.publishEverySteps} steps or ${c.publishEveryMs} ms`,
    );
    const status = session.status();
    console.log(
      `  ${status.learner.backend}; RPC ${lan ? 'wss' : 'ws'}://${shownHost}:${port}${RPC_PATH}`,
    );
    console.log(`  control thread: ${status.loop.scheduling}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await rpc.close();
    await new Promise((resolve) => server.close(resolve));
  } finally {
    await session?.close();
    store.close();
  }
}

export const serve: Command = {
  name: 'serve',
  summary: 'run the studio (live session, UI, WebSocket RPC) on this machine',
  usage,
  async run(argv) {
    const args = parse(argv, serveOptions, usage);
    if (args) await serveStudio(args.values as ServeValues);
  },
};
