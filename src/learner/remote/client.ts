import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Transition } from '../../protocol/index.ts';
import type { LearnerHandle, WorkerCheckpoint } from '../link.ts';
import { packTransitions } from '../link.ts';
import type { ActorLoss } from '../config.ts';
import type { PolicyWeights, TransitionBatch } from '../messages.ts';
import {
  CheckpointReply,
  decodeWeights,
  encodeBatch,
  HelloReply,
  LearnerGrpc,
  MAX_MESSAGE_BYTES,
  parseLearnerAddress,
  PollReply,
  PushReply,
  tokenMetadata,
  type WireSource,
} from './wire.ts';

export interface RemoteLearnerOptions {
  /** grpc://host:port, or grpcs://host:port for TLS. */
  url: string;
  /** This actor's id: stable across restarts, so that its stream resumes where it stood. */
  actor: string;
  token?: string;
  /** PEM of the certificate (or its CA) to trust for grpcs:// (a self-signed learner's). */
  caPath?: string;
  task: string;
  obsDim: number;
  actionDim: number;
  onWeights?: (weights: PolicyWeights) => void;
  onMetrics?: (metrics: Record<string, number>) => void;
  /** The link to the learner went down (with why) or came back. */
  onConnection?: (up: boolean, reason: string) => void;
  /** Every call's deadline beyond its own wait (ms). */
  deadlineMs?: number;
  /** How long the learner may hold a poll open when it has nothing new (ms). */
  pollWaitMs?: number;
  /** Also poll for the learner's steps as they go (a data-paced actor keeps step with them). */
  followSteps?: boolean;
  /** The most rows one Push carries. */
  batchRows?: number;
  /** Unsent rows kept for a learner that is away; beyond it the oldest go (and are counted). */
  maxQueue?: number;
  /** How long `connect` keeps trying before it gives up (ms). */
  connectTimeoutMs?: number;
  log?: (line: string) => void;
}

interface Row {
  seq: number;
  obs: ArrayLike<number>;
  action: ArrayLike<number>;
  reward: number;
  nextObs: ArrayLike<number>;
  done: boolean;
  source: WireSource;
}

/** Backoff between reconnection attempts: 0.2 s doubling to 5 s. */
const backoff = (attempt: number) => Math.min(5000, 200 * 2 ** Math.min(attempt, 5));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const REMOTE_NO_ROLLBACK =
  'rolling back to the hand-over checkpoint needs the local learner: a remote learner keeps its checkpoints in its own file (tandem learner serve --resume)';

/**
 * The studio's side of a remote learner: what the control loop feeds is numbered and queued and
 * never waits on the network; a background pump sends it in batches (each call with a deadline),
 * a poll brings the learner's weights and metrics. When the learner goes away the pump retries
 * with backoff; a restarted learner says where this actor's stream stands and the queue resends
 * from there, none lost, none twice.
 */
export class RemoteLearner implements LearnerHandle {
  readonly #opts: Required<
    Pick<RemoteLearnerOptions, 'deadlineMs' | 'pollWaitMs' | 'batchRows' | 'maxQueue'>
  > &
    RemoteLearnerOptions;
  readonly #client: grpc.Client;
  readonly #metadata: grpc.Metadata;
  #queue: Row[] = [];
  #nextSeq = 1;
  /** The learner's last stored row of this actor. */
  #acked = 0;
  #instance = '';
  #up = false;
  #closed = false;
  #kick: (() => void) | undefined;
  #version = 0;
  #metricsSeq = 0;
  #sentOnline = 0;
  #sentDemo = 0;
  #remote = { steps: 0, received: 0, online: 0, idle: false };
  #loops: Promise<void>[] = [];
  /** Rows dropped from a full queue (the learner away too long). */
  dropped = 0;
  backend = '';
  config: Record<string, unknown> = {};
  startSteps = 0;
  runId = 0;

  private constructor(opts: RemoteLearnerOptions) {
    this.#opts = {
      deadlineMs: 5000,
      pollWaitMs: 2000,
      batchRows: 512,
      maxQueue: 1_000_000,
      ...opts,
    };
    const address = parseLearnerAddress(opts.url);
    const credentials = address.tls
      ? grpc.credentials.createSsl(opts.caPath ? readFileSync(opts.caPath) : null)
      : grpc.credentials.createInsecure();
    this.#client = new LearnerGrpc(address.target, credentials, {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 5000,
    });
    this.#metadata = tokenMetadata(opts.token);
  }

  /**
   * Connects (retrying until `connectTimeoutMs`, default 15 s) and starts the pump and the poll.
   * Throws with the learner's reason when it refuses this actor (token, dims, task).
   */
  static async connect(opts: RemoteLearnerOptions): Promise<RemoteLearner> {
    const link = new RemoteLearner(opts);
    const until = Date.now() + (opts.connectTimeoutMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      try {
        await link.#hello();
        break;
      } catch (err) {
        const e = err as grpc.ServiceError;
        const refused = [
          grpc.status.UNAUTHENTICATED,
          grpc.status.FAILED_PRECONDITION,
          grpc.status.INVALID_ARGUMENT,
          grpc.status.PERMISSION_DENIED,
        ].includes(e.code);
        if (refused || Date.now() + backoff(attempt) > until) {
          link.#client.close();
          throw new Error(
            `the learner at ${opts.url} ${refused ? 'refused this actor' : 'cannot be reached'}: ${e.details || e.message}`,
            { cause: err },
          );
        }
        await sleep(backoff(attempt));
      }
    }
    link.#loops = [link.#pump(), link.#poll()];
    return link;
  }

  #call<Res>(method: string, request: unknown, waitMs = 0): Promise<Res> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + waitMs + this.#opts.deadlineMs;
      const fn = (this.#client as unknown as Record<string, (...args: unknown[]) => void>)[method]!;
      fn.call(
        this.#client,
        request,
        this.#metadata,
        { deadline },
        (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)),
      );
    });
  }

  async #hello(): Promise<void> {
    const reply = HelloReply.parse(
      await this.#call('Hello', {
        actor: this.#opts.actor,
        task: this.#opts.task,
        obsDim: this.#opts.obsDim,
        actionDim: this.#opts.actionDim,
      }),
    );
    const restarted = this.#instance !== '' && reply.instance !== this.#instance;
    if (this.#instance === '') {
      this.startSteps = reply.steps;
      // A restarted actor continues its stream after what the learner has.
      this.#nextSeq = reply.acked + 1;
    }
    if (restarted || this.#instance === '') {
      this.#metricsSeq = 0;
      this.#version = restarted ? 0 : this.#version;
    }
    this.#instance = reply.instance;
    this.#acked = reply.acked;
    this.#dropAcked();
    this.backend = `remote ${this.#opts.url} (${reply.backend})`;
    this.config = JSON.parse(reply.configJson) as Record<string, unknown>;
    this.runId = reply.run;
    // A restarted learner may stand behind what the old one reported (it resumed a checkpoint).
    this.#remote = restarted
      ? { steps: reply.steps, received: 0, online: 0, idle: false }
      : { ...this.#remote, steps: Math.max(this.#remote.steps, reply.steps) };
    this.#setUp(
      true,
      restarted ? 'the learner restarted; resending from its last stored row' : 'connected',
    );
  }

  #setUp(up: boolean, reason: string): void {
    if (up === this.#up) return;
    this.#up = up;
    // An idle pump wakes to say hello again.
    if (!up) this.#wakePump();
    this.#opts.log?.(`learner ${up ? 'up' : 'down'}: ${reason}`);
    this.#opts.onConnection?.(up, reason);
  }

  #dropAcked(): void {
    let k = 0;
    while (k < this.#queue.length && this.#queue[k]!.seq <= this.#acked) k++;
    if (k > 0) this.#queue = this.#queue.slice(k);
  }

  /** Sends the queue in order; on failure, waits, says hello again and resends from the learner's place. */
  async #pump(): Promise<void> {
    for (let attempt = 0; !this.#closed;) {
      if (this.#queue.length === 0 || !this.#up) {
        if (this.#up) await new Promise<void>((r) => (this.#kick = r));
        else {
          await sleep(backoff(attempt++));
          if (this.#closed) return;
          try {
            await this.#hello();
            attempt = 0;
          } catch (err) {
            this.#down(err);
          }
        }
        continue;
      }
      const rows = this.#queue.slice(0, this.#opts.batchRows);
      const batch = packTransitions(rows, this.#opts.obsDim, this.#opts.actionDim);
      try {
        const reply = PushReply.parse(
          await this.#call(
            'Push',
            encodeBatch(
              this.#opts.actor,
              rows[0]!.seq,
              batch,
              rows.map((r) => r.source),
            ),
          ),
        );
        this.#acked = Math.max(this.#acked, reply.acked);
        this.#dropAcked();
        this.#remote.steps = Math.max(this.#remote.steps, reply.steps);
        this.#remote.online = Math.max(this.#remote.online, reply.online);
        this.#remote.idle = reply.idle;
      } catch (err) {
        this.#down(err);
      }
    }
  }

  #down(err: unknown): void {
    const e = err as Partial<grpc.ServiceError>;
    this.#setUp(false, e.details || e.message || String(err));
  }

  async #poll(): Promise<void> {
    for (let attempt = 0; !this.#closed;) {
      try {
        const reply = PollReply.parse(
          await this.#call(
            'Poll',
            {
              actor: this.#opts.actor,
              sinceVersion: this.#version,
              sinceMetrics: this.#metricsSeq,
              waitMs: this.#opts.pollWaitMs,
              sinceSteps: this.#opts.followSteps ? Math.max(1, this.#remote.steps) : 0,
              idle: this.#remote.idle,
            },
            this.#opts.pollWaitMs,
          ),
        );
        attempt = 0;
        if (reply.instance !== this.#instance) {
          // A restarted learner: its records count from 1 again; the pump's hello catches up.
          this.#metricsSeq = 0;
          this.#version = 0;
          this.#setUp(false, 'the learner restarted');
          await sleep(backoff(attempt++));
          continue;
        }
        const r = this.#remote;
        this.#remote = {
          steps: Math.max(r.steps, reply.steps),
          received: Math.max(r.received, reply.received),
          online: Math.max(r.online, reply.online),
          idle: reply.idle,
        };
        for (const m of reply.metrics) {
          this.#metricsSeq = Math.max(this.#metricsSeq, m.seq);
          this.#opts.onMetrics?.(m.values);
        }
        if (reply.weights) {
          const w = decodeWeights(reply.weights);
          this.#version = w.version;
          this.#opts.onWeights?.(w);
        }
      } catch (err) {
        this.#down(err);
        await sleep(backoff(attempt++));
      }
    }
  }

  /** Whether the learner answered the last call. */
  get connected(): boolean {
    return this.#up;
  }

  /** This actor's rows the learner has stored (acknowledged). */
  get acked(): number {
    return this.#acked;
  }

  /** Queues a loop's transitions (all online; those a human or the expert drove as demos too). */
  feed(transitions: readonly Transition[]): void {
    for (const t of transitions) {
      this.#enqueue(t, t.source);
      this.#sentOnline++;
      if (t.source !== 'policy') this.#sentDemo++;
    }
  }

  /** Queues packed rows: 'demo' as recorded demonstrations (the demo buffer only). */
  add(buffer: 'online' | 'demo', batch: TransitionBatch): void {
    const { obsDim: o, actionDim: a } = this.#opts;
    for (let i = 0; i < batch.count; i++) {
      this.#enqueue(
        {
          obs: batch.obs.subarray(i * o, (i + 1) * o),
          action: batch.action.subarray(i * a, (i + 1) * a),
          reward: batch.reward[i]!,
          nextObs: batch.nextObs.subarray(i * o, (i + 1) * o),
          done: batch.done[i] === 1,
        },
        buffer === 'demo' ? 'demo' : 'policy',
      );
    }
    if (buffer === 'demo') this.#sentDemo += batch.count;
    else this.#sentOnline += batch.count;
  }

  #enqueue(t: Omit<Row, 'seq' | 'source'>, source: WireSource): void {
    this.#queue.push({
      seq: this.#nextSeq++,
      obs: t.obs,
      action: t.action,
      reward: t.reward,
      nextObs: t.nextObs,
      done: t.done,
      source,
    });
    if (this.#queue.length > this.#opts.maxQueue) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#wakePump();
  }

  #wakePump(): void {
    const kick = this.#kick;
    this.#kick = undefined;
    kick?.();
  }

  get sentOnline(): number {
    return this.#sentOnline;
  }

  get sentDemo(): number {
    return this.#sentDemo;
  }

  /** Rows queued that the learner has not stored yet. */
  get backlog(): number {
    return this.#queue.length;
  }

  get steps(): number {
    return this.#remote.steps;
  }

  /** The learner has trained all its data allows and waits for more (as of its latest answer). */
  get learnerIdle(): boolean {
    return this.#remote.idle;
  }

  /** Online rows the learner holds, from every actor (as of its latest answer). */
  get remoteOnline(): number {
    return this.#remote.online;
  }

  /** The learner's steps since this actor connected ÷ the online rows it holds (all actors'). */
  get updateToData(): number {
    const { steps, online } = this.#remote;
    return online > 0 ? (steps - this.startSteps) / online : 0;
  }

  /** The learner trains on its own (free-running): nothing to start. */
  run(): void {}

  async pause(): Promise<number> {
    return this.#remote.steps;
  }

  train(): Promise<PolicyWeights> {
    return Promise.reject(
      new Error('lock-step training needs the local learner: a remote learner trains on its own'),
    );
  }

  setActorLoss(loss: ActorLoss): void {
    this.#call('SetActorLoss', { loss }).catch((err: unknown) => this.#down(err));
  }

  /** Rolling back lives beside the learner's state: not over the wire (yet). */
  snapshot(): Promise<WorkerCheckpoint> {
    return Promise.reject(new Error(REMOTE_NO_ROLLBACK));
  }

  restore(): Promise<PolicyWeights> {
    return Promise.reject(new Error(REMOTE_NO_ROLLBACK));
  }

  /** Asks the learner to save a checkpoint in its own file now. */
  async checkpoint(): Promise<CheckpointReply> {
    return CheckpointReply.parse(await this.#call('Checkpoint', {}));
  }

  /** Waits (up to `timeoutMs`) for the learner to store every queued row. */
  async flush(timeoutMs = 30_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.#queue.length > 0 && Date.now() < until) await sleep(20);
    return this.#queue.length === 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wakePump();
    this.#client.close();
    await Promise.allSettled(this.#loops);
  }
}
