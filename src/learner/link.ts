import { Worker } from 'node:worker_threads';
import type { BackendName } from './backend.ts';
import { FromWorker, type PolicyWeights, type ToWorker, type TransitionBatch } from './messages.ts';

export interface LearnerLinkOptions {
  obsDim: number;
  actionDim: number;
  /** LearnerConfig input: validated in the worker, the parsed config comes back in `config`. */
  config: Record<string, unknown>;
  backend?: BackendName;
  metricsEvery?: number;
  onMetrics?: (metrics: Record<string, number>) => void;
}

const ENTRY = new URL('./worker-entry.js', import.meta.url);

/**
 * The control side's handle on the learner worker. Sending never blocks: transitions are packed
 * and transferred; `train` resolves with fresh actor weights once the worker has done its steps.
 */
export class LearnerLink {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (w: PolicyWeights) => void; reject: (e: Error) => void }
  >();
  #nextId = 0;
  #failure: Error | undefined;
  /** Which backend runs and why the better ones did not (set once ready). */
  backend = '';
  config: Record<string, unknown> = {};

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
        if (m.type === 'ready') {
          link.backend = m.backend;
          link.config = m.config;
          resolve();
        } else if (m.type === 'metrics') opts.onMetrics?.(m.metrics);
        else if (m.type === 'trained') {
          link.#pending.get(m.id)?.resolve(m.weights);
          link.#pending.delete(m.id);
        } else {
          const err = new Error(`learner: ${m.message}`);
          reject(err);
          link.#fail(err);
        }
      });
      link.#worker.on('error', (err) => {
        reject(err);
        link.#fail(err);
      });
    });
    link.#post({
      type: 'init',
      obsDim: opts.obsDim,
      actionDim: opts.actionDim,
      config: opts.config,
      metricsEvery: opts.metricsEvery ?? 10,
      ...(opts.backend ? { backend: opts.backend } : {}),
    });
    try {
      await ready;
    } catch (err) {
      await link.#worker.terminate();
      throw err;
    }
    return link;
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

  /** Hands a packed batch to the worker (its buffers are transferred: do not reuse them). */
  add(buffer: 'online' | 'demo', batch: TransitionBatch): void {
    const buffers = [batch.obs, batch.action, batch.reward, batch.nextObs, batch.done].map(
      (a) => a.buffer as ArrayBuffer,
    );
    this.#post({ type: 'add', buffer, batch }, buffers);
  }

  /** Runs `steps` learner steps in the worker; resolves with the actor's weights after them. */
  train(steps: number): Promise<PolicyWeights> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        this.#post({ type: 'train', id, steps });
      } catch (err) {
        this.#pending.delete(id);
        reject(err as Error);
      }
    });
  }

  async close(): Promise<void> {
    if (!this.#failure) this.#worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
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
