import { Worker } from 'node:worker_threads';
import type { z } from 'zod';
import { type ReplayAnswer, type Step, StudioAnswer } from '../protocol/index.ts';
import {
  type ReviewInit,
  type ReviewKind,
  ReviewReply,
  type ReviewRequest,
} from './review-messages.ts';

const ENTRY = new URL('./review-worker-entry.js', import.meta.url);
/**
 * Requests waiting on the thread (all clients together) beyond which a new one is refused at
 * once: answering them would take minutes, and each holds its answer's memory until then.
 */
export const MAX_QUEUED = 32;

interface Pending {
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * A session's long reads on a thread of their own (review-worker.ts): replays (an episode
 * re-simulated from its seed, tens to hundreds of milliseconds of MuJoCo) and whole episodes'
 * steps. On the control loop's thread they would hold up its ticks; here they queue, one at a
 * time, and the thread only posts the request and checks the answer. The worker is started on
 * the first request and kept for the next ones (it loads MuJoCo once); if it dies, the requests
 * it held fail and the next request starts a new one. It keeps the process alive only while it
 * has work.
 */
export class ReviewThread {
  readonly #init: ReviewInit;
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  /** `path`: the session's SQLite file (the worker opens it read-only). */
  constructor(path: string) {
    this.#init = { path };
  }

  /** Episode `episodeId` re-simulated: the bodies' poses before the first step and after each. */
  replay(episodeId: number): Promise<ReplayAnswer> {
    return this.#ask('replay', episodeId, StudioAnswer.replay);
  }

  /** Every step of episode `episodeId` written so far (the running one's are written in batches). */
  steps(episodeId: number): Promise<Step[]> {
    return this.#ask('steps', episodeId, StudioAnswer.steps);
  }

  /** Stops the worker; requests not answered yet fail. Later requests are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#drop(new Error('the session is closed'));
    await worker?.terminate();
  }

  async #ask<T>(kind: ReviewKind, episodeId: number, schema: z.ZodType<T>): Promise<T> {
    if (this.#closed) throw new Error('the session is closed');
    if (this.#pending.size >= MAX_QUEUED) {
      throw new Error(
        `${kind} refused: the studio is busy with ${MAX_QUEUED} review requests; ask again shortly`,
      );
    }
    const worker = this.#started();
    const id = this.#nextId++;
    const result = new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    worker.ref();
    worker.postMessage({ id, kind, episodeId } satisfies ReviewRequest);
    const parsed = schema.safeParse(await result);
    if (!parsed.success) throw new Error(`the review thread's ${kind} answer is malformed`);
    return parsed.data;
  }

  #started(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(ENTRY, { workerData: this.#init });
    worker.on('message', (raw: unknown) => this.#answered(worker, raw));
    worker.on('error', (err) => {
      if (this.#worker === worker)
        this.#drop(new Error(`the review thread failed: ${err.message}`));
    });
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#drop(new Error(`the review thread exited (code ${code})`));
    });
    this.#worker = worker;
    return worker;
  }

  #answered(worker: Worker, raw: unknown): void {
    const reply = ReviewReply.safeParse(raw);
    if (!reply.success) {
      this.#drop(new Error('the review thread sent a malformed message'));
      void worker.terminate();
      return;
    }
    const pending = this.#pending.get(reply.data.id);
    this.#pending.delete(reply.data.id);
    if (this.#pending.size === 0) worker.unref(); // idle: not a reason to keep the process up
    if (!pending) return;
    if (reply.data.ok) pending.resolve(reply.data.result);
    else pending.reject(new Error(reply.data.error));
  }

  /** Forgets the worker (a new one starts on the next request); what it held fails with `err`. */
  #drop(err: Error): void {
    this.#worker = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }
}
