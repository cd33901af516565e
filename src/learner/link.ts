import { Worker } from 'node:worker_threads';
import type { Transition } from '../protocol/index.ts';
import type { LearnerBackend } from './backend.ts';
import type { ActorLoss } from './config.ts';
import {
  FreeRunOptions,
  FromWorker,
  type PolicyWeights,
  type ToWorker,
  type TransitionBatch,
} from './messages.ts';

export interface LearnerLinkOptions {
  obsDim: number;
  actionDim: number;
  /** LearnerConfig input: validated in the worker, the parsed config comes back in `config`. */
  config: Record<string, unknown>;
  backend?: LearnerBackend;
  metricsEvery?: number;
  /** A checkpoint payload to continue from (its config wins over `config`). */
  checkpoint?: Uint8Array;
  onMetrics?: (metrics: Record<string, number>) => void;
  /** Weights published while free-running (`run`). */
  onWeights?: (weights: PolicyWeights) => void;
  /** Free-running, the worker went idle (out of credit: the UTD bound, or no online data). */
  onIdle?: (at: LearnerPace) => void;
}

/** Where the worker stood at a report: its learner step and the transitions it had taken in. */
export interface LearnerPace {
  steps: number;
  /** Transitions taken in, both buffers. */
  received: number;
  /** Online transitions taken in. */
  online: number;
}

/** A learner checkpoint as the worker sends it: store it with `Store.saveCheckpoint`. */
export interface WorkerCheckpoint {
  steps: number;
  meta: Record<string, unknown>;
  payload: Uint8Array;
}

type Reply = Exclude<FromWorker, { type: 'ready' | 'metrics' | 'weights' | 'idle' | 'error' }>;

/**
 * The learner as the control side uses it, local (LearnerLink, a worker thread) or remote
 * (RemoteLearner, over gRPC): sending never blocks, weights and metrics come by callback.
 */
export interface LearnerHandle {
  /** Which backend runs and why the better ones did not. */
  readonly backend: string;
  readonly config: Record<string, unknown>;
  readonly sentOnline: number;
  readonly sentDemo: number;
  readonly backlog: number;
  readonly steps: number;
  readonly updateToData: number;
  feed(transitions: readonly Transition[]): void;
  add(buffer: 'online' | 'demo', batch: TransitionBatch): void;
  train(steps: number): Promise<PolicyWeights>;
  run(options?: Partial<FreeRunOptions>): void;
  pause(): Promise<number>;
  setActorLoss(loss: ActorLoss): void;
  /** The learner's whole state, taken between steps, for `restore` (see checkpoint.ts). */
  snapshot(): Promise<WorkerCheckpoint>;
  /** Rolls the learner back to a checkpoint of its own, keeping its buffers: the actor's weights. */
  restore(payload: Uint8Array): Promise<PolicyWeights>;
  close(): Promise<void>;
}

const ENTRY = new URL('./worker-entry.js', import.meta.url);

/**
 * The control side's handle on the learner worker. Sending never blocks: transitions are packed
 * and transferred. Lock-step: `train` resolves with fresh actor weights once the worker has done
 * its steps. Free-running: `run` lets the worker train continuously and publish weights to
 * `onWeights`; `backlog` is the back-pressure gauge.
 */
export class LearnerLink implements LearnerHandle {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void }
  >();
  #nextId = 0;
  #dims = { obs: 0, action: 0 };
  #sentOnline = 0;
  #sentDemo = 0;
  #failure: Error | undefined;
  #sent = 0;
  #received = 0;
  /** The worker's latest learner step and online transitions taken in (weights, idle, answers). */
  #pace = { steps: 0, online: 0 };
  /** Which backend runs and why the better ones did not (set once ready). */
  backend = '';
  config: Record<string, unknown> = {};
  /** The learner step the worker started from (non-zero when restored from a checkpoint). */
  startSteps = 0;

  private constructor(worker: Worker) {
    this.#worker = worker;
  }

  static async start(opts: LearnerLinkOptions): Promise<LearnerLink> {
    const link = new LearnerLink(new Worker(ENTRY));
    const ready = new Promise<void>((resolve, reject) => {
      link.#worker.on('message', (raw: unknown) => {
        const parsed = FromWorker.safeParse(raw);
        if (!parsed.success)
          return link.#fail(new Error('the learner worker sent a malformed message'));
        const m = parsed.data;
        switch (m.type) {
          case 'ready':
            link.backend = m.backend;
            link.config = m.config;
            link.startSteps = m.steps;
            link.#pace = { steps: m.steps, online: 0 };
            resolve();
            return;
          case 'metrics':
            if (m.metrics.transitions_received !== undefined)
              link.#received = Math.max(link.#received, m.metrics.transitions_received);
            opts.onMetrics?.(m.metrics);
            return;
          case 'weights':
            link.#received = Math.max(link.#received, m.received);
            link.#noteSteps(m.weights.version, m.online);
            opts.onWeights?.(m.weights);
            return;
          case 'idle':
            link.#received = Math.max(link.#received, m.received);
            link.#noteSteps(m.steps, m.online);
            opts.onIdle?.({ steps: m.steps, received: m.received, online: m.online });
            return;
          case 'error': {
            const err = new Error(`learner: ${m.message}`);
            const request = m.id === undefined ? undefined : link.#pending.get(m.id);
            if (request) {
              link.#pending.delete(m.id!);
              request.reject(err);
              return;
            }
            reject(err);
            link.#fail(err);
            return;
          }
          default:
            if (m.type === 'trained' || m.type === 'paused' || m.type === 'restored')
              link.#noteSteps(m.steps, m.online);
            link.#pending.get(m.id)?.resolve(m);
            link.#pending.delete(m.id);
        }
      });
      link.#worker.on('error', (err) => {
        reject(err);
        link.#fail(err);
      });
    });
    link.#dims = { obs: opts.obsDim, action: opts.actionDim };
    const checkpoint = opts.checkpoint ? new Uint8Array(opts.checkpoint) : undefined;
    link.#post(
      {
        type: 'init',
        obsDim: opts.obsDim,
        actionDim: opts.actionDim,
        config: opts.config,
        metricsEvery: opts.metricsEvery ?? 10,
        ...(opts.backend ? { backend: opts.backend } : {}),
        ...(checkpoint ? { checkpoint } : {}),
      },
      checkpoint ? [checkpoint.buffer] : [],
    );
    try {
      await ready;
    } catch (err) {
      await link.#worker.terminate();
      throw err;
    }
    return link;
  }

  #noteSteps(steps: number, online: number): void {
    if (steps >= this.#pace.steps) this.#pace = { steps, online };
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  #post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.#failure) throw this.#failure;
    this.#worker.postMessage(message, transfer);
  }

  /** Sends a request and resolves with the worker's answer to it (of the expected type). */
  #request<T extends Reply['type']>(
    expect: T,
    message: (id: number) => ToWorker,
    transfer: ArrayBuffer[] = [],
  ): Promise<Extract<Reply, { type: T }>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (r) =>
          r.type === expect
            ? resolve(r as Extract<Reply, { type: T }>)
            : reject(new Error(`learner: answered ${r.type} to a ${expect} request`)),
        reject,
      });
      try {
        this.#post(message(id), transfer);
      } catch (err) {
        this.#pending.delete(id);
        reject(err as Error);
      }
    });
  }

  /**
   * Hands a loop's transitions to the learner by their source: every one to the online buffer,
   * and those the operator or the expert drove to the demo buffer too (as HIL-SERL does).
   */
  feed(transitions: readonly Transition[]): void {
    if (transitions.length === 0) return;
    const { obs, action } = this.#dims;
    this.add('online', packTransitions(transitions, obs, action));
    const demos = transitions.filter((t) => t.source !== 'policy');
    if (demos.length > 0) this.add('demo', packTransitions(demos, obs, action));
  }

  /** Transitions sent to the online buffer so far. */
  get sentOnline(): number {
    return this.#sentOnline;
  }

  /** Transitions sent to the demo buffer so far. */
  get sentDemo(): number {
    return this.#sentDemo;
  }

  /** Hands a packed batch to the worker (its buffers are transferred: do not reuse them). */
  add(buffer: 'online' | 'demo', batch: TransitionBatch): void {
    const buffers = [batch.obs, batch.action, batch.reward, batch.nextObs, batch.done].map(
      (a) => a.buffer as ArrayBuffer,
    );
    this.#post({ type: 'add', buffer, batch }, buffers);
    this.#sent += batch.count;
    if (buffer === 'online') this.#sentOnline += batch.count;
    else this.#sentDemo += batch.count;
  }

  /**
   * Transitions sent that the worker had not taken in at its last report: grows when the
   * learner falls behind the control loop (free-running; reports come with weights and metrics).
   */
  get backlog(): number {
    return this.#sent - this.#received;
  }

  /** The worker's learner steps as of its latest report (weights, metrics or idle). */
  get steps(): number {
    return this.#pace.steps;
  }

  /**
   * The effective update-to-data ratio: learner steps this worker took (since its start or
   * restore) ÷ online transitions it took in, as of its latest report; 0 before any.
   */
  get updateToData(): number {
    const { steps, online } = this.#pace;
    return online > 0 ? (steps - this.startSteps) / online : 0;
  }

  /** Runs `steps` learner steps in the worker; resolves with the actor's weights after them. */
  async train(steps: number): Promise<PolicyWeights> {
    const answer = await this.#request('trained', (id) => ({ type: 'train', id, steps }));
    return answer.weights;
  }

  /**
   * Free-running: the worker trains continuously, at most `maxUpdatesPerTransition` (default 20)
   * learner steps per online transition sent from now on, and publishes weights to `onWeights`;
   * out of that credit it idles (no CPU) until more online transitions come.
   */
  run(options: Partial<FreeRunOptions> = {}): void {
    this.#post({ type: 'run', options: FreeRunOptions.parse(options) });
  }

  /** Switches the actor loss from the next learner step on (sac+bc: β's decay starts again). */
  setActorLoss(loss: ActorLoss): void {
    this.#post({ type: 'set-actor-loss', loss });
  }

  /** Stops free-running; resolves with the learner step it stopped at. */
  async pause(): Promise<number> {
    return (await this.#request('paused', (id) => ({ type: 'pause', id }))).steps;
  }

  /** The learner's whole state (networks, optimisers, counters, config), taken between steps. */
  async checkpoint(): Promise<WorkerCheckpoint> {
    const { steps, meta, payload } = await this.#request('checkpoint', (id) => ({
      type: 'checkpoint',
      id,
    }));
    return { steps, meta, payload };
  }

  snapshot(): Promise<WorkerCheckpoint> {
    return this.checkpoint();
  }

  /**
   * Rolls the networks, optimisers and temperature back to `payload` (a checkpoint of this
   * learner), keeping the replay buffers and the step count; resolves with the restored actor's
   * weights (for the caller to act with: they are not published to `onWeights`).
   */
  async restore(payload: Uint8Array): Promise<PolicyWeights> {
    const copy = new Uint8Array(payload);
    const { weights } = await this.#request(
      'restored',
      (id) => ({ type: 'restore', id, payload: copy }),
      [copy.buffer],
    );
    return weights;
  }

  /** After a restore and a refill: rejects unless the buffers are the checkpoint's again. */
  async checkBuffers(): Promise<void> {
    await this.#request('checked', (id) => ({ type: 'check-buffers', id }));
  }

  /**
   * Stops the worker: it disposes of its learner between steps and exits by itself; terminated
   * only if it has not after `graceMs` (terminating it in the middle of a native step would end
   * the whole process: the addon cannot run its JS calls in an environment being torn down).
   */
  async close(graceMs = 10_000): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      this.#worker.once('exit', () => resolve());
    });
    if (!this.#failure) {
      this.#worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), graceMs);
      });
      const how = await Promise.race([exited.then(() => 'exited' as const), late]);
      clearTimeout(timer);
      if (how === 'exited') return;
    }
    await this.#worker.terminate();
  }
}

/** Packs transitions row-major into a TransitionBatch. */
export function packTransitions(
  rows: readonly {
    obs: ArrayLike<number>;
    action: ArrayLike<number>;
    reward: number;
    nextObs: ArrayLike<number>;
    done: boolean;
  }[],
  obsDim: number,
  actionDim: number,
): TransitionBatch {
  const n = rows.length;
  const batch = {
    count: n,
    obs: new Float32Array(n * obsDim),
    action: new Float32Array(n * actionDim),
    reward: new Float32Array(n),
    nextObs: new Float32Array(n * obsDim),
    done: new Float32Array(n),
  };
  rows.forEach((r, i) => {
    batch.obs.set(r.obs, i * obsDim);
    batch.action.set(r.action, i * actionDim);
    batch.nextObs.set(r.nextObs, i * obsDim);
    batch.reward[i] = r.reward;
    batch.done[i] = r.done ? 1 : 0;
  });
  return batch;
}
