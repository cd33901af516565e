import { randomUUID, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import type { HealthAlert } from '../../protocol/index.ts';
import { isLoopback } from '../../server/addresses.ts';
import { ReceivedLog, type ReceivedRow, type Store } from '../../store/index.ts';
import { LearnerMonitor } from '../../studio/learner-monitor.ts';
import type { LearnerBackend } from '../backend.ts';
import { controlSideConfig } from '../config.ts';
import { LearnerLink, packTransitions } from '../link.ts';
import type { FreeRunOptions, PolicyWeights } from '../messages.ts';
import {
  type DecodedBatch,
  decodeBatch,
  encodeWeights,
  HelloRequest,
  LEARNER_SERVICE,
  MAX_MESSAGE_BYTES,
  type MetricsRecord,
  PollRequest,
  type PollReply,
  SetActorLossRequest,
  WireBatch,
  WireError,
} from './wire.ts';

/** The event that ties a remote learner's checkpoint to its log of received rows. */
export const LEARNER_CHECKPOINT_EVENT = 'learner.checkpoint';
const CHECKPOINTS_KEPT = 2;
/** Metrics records kept for actors that poll late. */
const METRICS_KEPT = 256;
/** A poll waiting on learner steps is answered every this many. */
const STEP_GRAIN = 16;

export interface LearnerServerOptions {
  store: Store;
  runId: number;
  task: string;
  obsDim: number;
  actionDim: number;
  /** LearnerConfig input (a resumed checkpoint's config wins). */
  config: Record<string, unknown>;
  backend?: LearnerBackend;
  /** Continue the run from its latest checkpoint, refilling the buffers from the log. */
  resume?: boolean;
  host: string;
  port: number;
  /** Required of every call when set (`authorization: Bearer <token>`). */
  token?: string;
  /** PEM certificate and key: TLS. */
  tls?: { cert: Buffer; key: Buffer };
  checkpointEveryMs: number;
  freeRun?: Partial<FreeRunOptions>;
  log?: (line: string) => void;
  onAlert?: (alert: HealthAlert) => void;
}

export class LearnerServeError extends Error {
  override name = 'LearnerServeError';
}

const CheckpointEvent = z.object({
  checkpointId: z.number().int().positive(),
  receivedId: z.number().int().nonnegative(),
});

/** gRPC status with a message, as handlers fail. */
const status = (code: grpc.status, details: string) =>
  Object.assign(new Error(details), { code, details });

/**
 * The learner as a service (`tandem learner serve`): the same worker the studio runs, free-running
 * on what its actors push, its state in its own SQLite file. Every acknowledged row is stored
 * first (the log refills the buffers on `--resume`), each actor's rows are numbered so that a
 * resend or a replay changes nothing, and weights and metrics go to every actor that polls.
 */
export class LearnerServer {
  readonly instance = randomUUID();
  readonly port: number;
  readonly link: LearnerLink;
  readonly log: ReceivedLog;
  readonly #opts: LearnerServerOptions;
  readonly #server: grpc.Server;
  readonly #monitor: LearnerMonitor;
  readonly #acked: Map<string, number>;
  #weights: PolicyWeights | undefined;
  #metrics: MetricsRecord[] = [];
  #metricsSeq = 0;
  #waiters = new Set<() => void>();
  #received = 0;
  #online = 0;
  /** The worker went idle (out of data at the UTD bound) and has had no new rows since. */
  #idle = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #checkpointing: Promise<{ id: number; steps: number }> | undefined;

  private constructor(
    opts: LearnerServerOptions,
    server: grpc.Server,
    port: number,
    link: LearnerLink,
    log: ReceivedLog,
    monitor: LearnerMonitor,
  ) {
    this.#opts = opts;
    this.#server = server;
    this.port = port;
    this.link = link;
    this.log = log;
    this.#monitor = monitor;
    this.#acked = log.acked();
  }

  static async start(opts: LearnerServerOptions): Promise<LearnerServer> {
    if (!(opts.host === 'localhost' || isLoopback(opts.host)) && !(opts.tls && opts.token)) {
      throw new LearnerServeError(
        `listening on ${opts.host} needs TLS and a token (--tls, --token): without both the learner listens on loopback only`,
      );
    }
    const log = new ReceivedLog(opts.store, opts.runId);
    const say = opts.log ?? (() => {});
    let from: { payload: Uint8Array; receivedId: number } | undefined;
    if (opts.resume) from = resumeFrom(opts.store, opts.runId);
    const config = controlSideConfig(opts.config);
    let self: LearnerServer | undefined;
    const early: { weights?: PolicyWeights; metrics: Record<string, number>[] } = { metrics: [] };
    const monitor = new LearnerMonitor({
      store: opts.store,
      runId: opts.runId,
      context: { gamma: config.gamma, rewardScale: config.rewardScale, actionDim: opts.actionDim },
      onAlert: (alert) => {
        say(`health: ${alert.pathology} ${alert.state} at step ${alert.step}: ${alert.evidence}`);
        opts.onAlert?.(alert);
      },
      loop: () => ({ envSteps: self ? self.online : 0 }),
    });
    const link = await LearnerLink.start({
      obsDim: opts.obsDim,
      actionDim: opts.actionDim,
      config: opts.config,
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(from ? { checkpoint: from.payload } : {}),
      metricsEvery: 50,
      onMetrics: (m) => (self ? self.#onMetrics(m) : early.metrics.push(m)),
      onWeights: (w) => (self ? self.#publish(w) : (early.weights = w)),
      onIdle: () => {
        if (!self) return;
        self.#idle = true;
        self.#wake();
      },
    });
    try {
      opts.store.setRunBackend(opts.runId, link.backend);
      const server = new grpc.Server({
        'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
        'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
      });
      const credentials = opts.tls
        ? grpc.ServerCredentials.createSsl(null, [
            { cert_chain: opts.tls.cert, private_key: opts.tls.key },
          ])
        : grpc.ServerCredentials.createInsecure();
      const host =
        opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host}:${opts.port}`, credentials, (err, p) =>
          err
            ? reject(new LearnerServeError(`cannot listen on ${host}:${opts.port}: ${err.message}`))
            : resolve(p),
        ),
      );
      self = new LearnerServer(opts, server, port, link, log, monitor);
      const s = self;
      if (from) await s.#refill(from.receivedId);
      else await s.#refill(0);
      s.#weights ??= early.weights;
      early.metrics.forEach((m) => s.#onMetrics(m));
      server.addService(LEARNER_SERVICE, s.#handlers());
      link.run(opts.freeRun ?? {});
      s.#timer = setInterval(() => {
        s.checkpoint().catch((err: unknown) => say(`checkpoint failed: ${String(err)}`));
      }, opts.checkpointEveryMs);
      s.#timer.unref();
      return s;
    } catch (err) {
      await link.close();
      throw err;
    }
  }

  /** Where the learner stands: steps, rows stored, per actor. */
  get received(): number {
    return this.#received;
  }

  /** Online transitions taken in (all but recorded demos). */
  get online(): number {
    return this.#online;
  }

  get acked(): ReadonlyMap<string, number> {
    return this.#acked;
  }

  /**
   * Refills the buffers from the log: the rows the checkpoint had (then checks them against it),
   * then the rows stored after it (acknowledged before a kill, so never to be sent again).
   */
  async #refill(checkpointed: number): Promise<void> {
    const last = this.log.lastId();
    for (const rows of this.log.read(0, checkpointed)) this.#take(rows);
    if (checkpointed > 0) await this.link.checkBuffers();
    for (const rows of this.log.read(checkpointed, last)) this.#take(rows);
    if (last > 0) {
      this.#opts.log?.(
        `buffers refilled from the log: ${last} transitions (${checkpointed} at the checkpoint)`,
      );
    }
  }

  /** Hands stored rows to the worker: all but recorded demos online, all but the policy's as demos. */
  #take(rows: readonly Omit<ReceivedRow, 'id' | 'actor' | 'seq'>[]): void {
    const online = rows.filter((r) => r.source !== 'demo');
    const demo = rows.filter((r) => r.source !== 'policy');
    const { obsDim, actionDim } = this.#opts;
    if (online.length > 0) this.link.add('online', packTransitions(online, obsDim, actionDim));
    if (demo.length > 0) this.link.add('demo', packTransitions(demo, obsDim, actionDim));
    this.#received += rows.length;
    this.#online += online.length;
    this.#idle = false;
  }

  #publish(w: PolicyWeights): void {
    this.#weights = w;
    this.#wake();
  }

  #onMetrics(m: Record<string, number>): void {
    const perActor: Record<string, number> = {};
    for (const { actor, source, n } of this.log.counts()) perActor[`from.${actor}.${source}`] = n;
    this.#monitor.observe({ ...m, ...perActor });
    this.#metrics.push({ seq: ++this.#metricsSeq, values: { ...m } });
    if (this.#metrics.length > METRICS_KEPT) this.#metrics.shift();
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    waiters.forEach((w) => w());
  }

  #authorize(call: grpc.ServerUnaryCall<unknown, unknown>): void {
    const token = this.#opts.token;
    if (!token) return;
    const [given] = call.metadata.get('authorization');
    const want = Buffer.from(`Bearer ${token}`);
    const got = Buffer.from(typeof given === 'string' ? given : '');
    if (got.length !== want.length || !timingSafeEqual(got, want))
      throw status(grpc.status.UNAUTHENTICATED, 'the learner needs its token (--token)');
  }

  #handlers(): grpc.UntypedServiceImplementation {
    const unary =
      <T>(parse: z.ZodType<T>, handle: (req: T) => unknown) =>
      (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        void (async () => {
          try {
            if (this.#closed) throw status(grpc.status.UNAVAILABLE, 'the learner is shutting down');
            this.#authorize(call);
            const req = parse.safeParse(call.request);
            if (!req.success) {
              const issue = req.error.issues[0]!;
              throw status(
                grpc.status.INVALID_ARGUMENT,
                `${issue.path.join('.') || 'message'}: ${issue.message}`,
              );
            }
            callback(null, await handle(req.data));
          } catch (err) {
            const e = err as Partial<grpc.ServiceError>;
            if (err instanceof WireError)
              callback(status(grpc.status.INVALID_ARGUMENT, err.message));
            else if (typeof e.code === 'number') callback(err as grpc.ServiceError);
            else callback(status(grpc.status.INTERNAL, String(err)));
          }
        })();
      };
    return {
      Hello: unary(HelloRequest, (req) => this.#hello(req)),
      Push: unary(WireBatch, (req) => this.#push(req)),
      Poll: unary(PollRequest, (req) => this.#poll(req)),
      SetActorLoss: unary(SetActorLossRequest, (req) => {
        this.link.setActorLoss(req.loss);
        this.#opts.log?.(`actor loss → ${req.loss}`);
        return {};
      }),
      Checkpoint: unary(z.unknown(), () => this.checkpoint()),
    };
  }

  #hello(req: HelloRequest) {
    const o = this.#opts;
    if (req.task !== o.task || req.obsDim !== o.obsDim || req.actionDim !== o.actionDim) {
      throw status(
        grpc.status.FAILED_PRECONDITION,
        `this learner trains ${o.task} (obs ${o.obsDim}, action ${o.actionDim}); actor ${req.actor} runs ${req.task} (obs ${req.obsDim}, action ${req.actionDim})`,
      );
    }
    o.log?.(`actor ${req.actor} connected (its stream at ${this.#acked.get(req.actor) ?? 0})`);
    return {
      run: o.runId,
      instance: this.instance,
      backend: this.link.backend,
      configJson: JSON.stringify(this.link.config, (_, v: unknown) =>
        typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
      ),
      steps: this.link.steps,
      acked: this.#acked.get(req.actor) ?? 0,
    };
  }

  #push(req: WireBatch) {
    const decoded: DecodedBatch = decodeBatch(req, {
      obs: this.#opts.obsDim,
      action: this.#opts.actionDim,
    });
    const acked = this.#acked.get(req.actor) ?? 0;
    if (req.firstSeq > acked + 1) {
      throw status(
        grpc.status.FAILED_PRECONDITION,
        `actor ${req.actor}: rows from ${req.firstSeq}, but its stream stands at ${acked}: send from ${acked + 1}`,
      );
    }
    const skip = acked + 1 - req.firstSeq;
    const { batch, sources } = decoded;
    const { obsDim: o, actionDim: a } = this.#opts;
    const rows: Omit<ReceivedRow, 'id' | 'actor' | 'seq'>[] = [];
    for (let i = Math.max(0, skip); i < batch.count; i++) {
      rows.push({
        source: sources[i]!,
        obs: batch.obs.subarray(i * o, (i + 1) * o),
        action: batch.action.subarray(i * a, (i + 1) * a),
        reward: batch.reward[i]!,
        nextObs: batch.nextObs.subarray(i * o, (i + 1) * o),
        done: batch.done[i] === 1,
      });
    }
    if (rows.length > 0) {
      this.log.append(req.actor, acked + 1, rows);
      this.#acked.set(req.actor, acked + rows.length);
      this.#take(rows);
    }
    return {
      acked: this.#acked.get(req.actor) ?? 0,
      accepted: rows.length,
      duplicates: batch.count - rows.length,
      steps: this.link.steps,
      online: this.#online,
      idle: this.#idle,
    };
  }

  async #poll(req: PollRequest): Promise<PollReply> {
    const fresh = () =>
      (this.#weights !== undefined && this.#weights.version > req.sinceVersion) ||
      (this.#metrics.at(-1)?.seq ?? 0) > req.sinceMetrics ||
      (req.sinceSteps > 0 &&
        (this.link.steps >= req.sinceSteps + STEP_GRAIN || (this.#idle && !req.idle)));
    if (!fresh() && req.waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, req.waitMs);
        this.#waiters.add(done);
      });
    }
    const w = this.#weights;
    return {
      weights: w && w.version > req.sinceVersion ? encodeWeights(w) : null,
      metrics: this.#metrics.filter((m) => m.seq > req.sinceMetrics),
      steps: this.link.steps,
      received: this.#received,
      online: this.#online,
      instance: this.instance,
      idle: this.#idle,
    };
  }

  /** Saves a checkpoint now, tied to the rows the worker had taken in when asked. */
  checkpoint(): Promise<{ id: number; steps: number }> {
    this.#checkpointing ??= (async () => {
      try {
        const receivedId = this.log.lastId();
        const c = await this.link.checkpoint();
        const { store, runId } = this.#opts;
        return store.db.transaction(() => {
          const id = store.saveCheckpoint(runId, c.steps, c.meta, c.payload);
          store.addEvent({
            runId,
            kind: LEARNER_CHECKPOINT_EVENT,
            payload: { checkpointId: id, receivedId, learnerSteps: c.steps },
          });
          store.pruneCheckpoints(runId, CHECKPOINTS_KEPT);
          return { id, steps: c.steps };
        })();
      } finally {
        this.#checkpointing = undefined;
      }
    })();
    return this.#checkpointing;
  }

  /** Stops taking calls, saves a last checkpoint, stops the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#wake();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 2000);
      this.#server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    try {
      await this.#checkpointing;
      await this.checkpoint();
    } finally {
      await this.link.close();
    }
  }
}

/** The run's newest checkpoint with its place in the log. */
function resumeFrom(store: Store, runId: number): { payload: Uint8Array; receivedId: number } {
  const events = store.listEvents(runId).filter((e) => e.kind === LEARNER_CHECKPOINT_EVENT);
  for (const event of events.reverse()) {
    const p = CheckpointEvent.safeParse(event.payload);
    if (!p.success) continue;
    const checkpoint = store.getCheckpoint(p.data.checkpointId);
    if (!checkpoint || checkpoint.runId !== runId) continue; // pruned
    return { payload: checkpoint.payload, receivedId: p.data.receivedId };
  }
  throw new LearnerServeError(`run ${runId} has no learner checkpoint in ${store.path}`);
}
