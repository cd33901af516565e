import {
  receiveMessageOnPort,
  MessageChannel,
  type MessagePort,
  Worker,
} from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs';
import { read } from './heap.ts';

/*
 * A second thread for part of an update (the learner's thread is single-threaded tfjs-wasm): the
 * critics' share of each phase, the actor's forward pass on next obs, and a hidden layer's weight
 * gradient of the actor. The learner keeps every variable, optimizer and generator; a helper only
 * computes: given a network's weights (sent when they changed since the last request for that
 * network) and the inputs, it runs the same code the learner would (critic-work.ts,
 * Actor.heads, weightGradient) on its own tfjs-wasm instance, so a result is the same bit for bit
 * wherever it was computed. Requests go
 * out by message; the learner then waits for the answer synchronously (update() is synchronous):
 * the helper bumps a shared counter after each answer, the learner sleeps on it with Atomics.wait
 * and takes the answer with receiveMessageOnPort. Each request has a claim in shared memory that
 * the helper takes when it starts on it: the learner, done with its own share, takes back (steals)
 * the requests not started yet, so a helper slowed by a busy core costs little. A helper that
 * fails, or does not answer within a minute, is dropped and its share computed locally from then
 * on.
 */

const ENTRY = new URL('./critic-helper-entry.js', import.meta.url);
const ANSWER_TIMEOUT_MS = 60_000;
/** Claims are kept for the last CLAIMS request ids (a ring; far more than are ever pending). */
export const CLAIMS = 256;
/** A claim: nobody yet, the helper, the learner. */
export const OPEN = 0;
export const HELPER = 1;
const LEARNER = 2;

export type HelperKind = 'target' | 'critic' | 'input' | 'heads' | 'product';

/**
 * A request for one kind of work on several networks (slots 'critic<i>', 'target<i>', 'actor'),
 * all on the same input; 'product' (xᵀ·dy, x the input, dy `other`) uses no network.
 */
export interface HelperRequest {
  id: number;
  kind: HelperKind;
  /** Per critic: its slot name, and its weights when they changed since last sent. */
  items: { slot: string; weights?: Float32Array[] }[];
  /** The input rows [rows, cols], row-major. */
  input: Float32Array;
  rows: number;
  cols: number;
  /** 'critic': the TD targets. */
  y?: Float64Array;
  /** 'input': dL/dQ (the same for every row) and the first input column wanted. */
  dq?: number;
  from?: number;
  /** 'product': dy [rows, otherCols]. */
  other?: Float32Array;
  otherCols?: number;
}

/** 'target', 'critic', 'input': q and what goes with it; 'heads', 'product': values. */
export interface HelperResult {
  q?: Float32Array;
  grads?: { values: Float32Array; scale: number }[];
  dInput?: Float32Array;
  values?: Float32Array;
}

export type HelperMessage =
  | { ready: true }
  | { failed: string }
  | { id: number; results: HelperResult[] }
  | { id: number; error: string };

export interface HelperInit {
  /** The learner's tfjs backend (the same kernels give the same bits). */
  backend: string;
  obsDim: number;
  actionDim: number;
  hidden: number[];
  /** The critics' LayerNorm (LearnerConfig.criticLayerNorm). */
  criticLayerNorm: boolean;
  logStd: [number, number];
  port: MessagePort;
  signal: SharedArrayBuffer;
  claims: SharedArrayBuffer;
}

export class CriticHelper {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #signal: Int32Array;
  readonly #claims: Int32Array;
  #state: 'starting' | 'ready' | 'dead' = 'starting';
  #nextId = 1;
  /** Per slot, the variables' data as last sent (a variable's dataId changes on every assign). */
  readonly #sent = new Map<string, unknown[]>();
  /** Answers received while waiting for another. */
  readonly #answers = new Map<number, Extract<HelperMessage, { id: number }>>();
  #answeredCount = 0;

  constructor(nets: Omit<HelperInit, 'port' | 'signal' | 'claims'>) {
    const { port1, port2 } = new MessageChannel();
    this.#signal = new Int32Array(new SharedArrayBuffer(4));
    this.#claims = new Int32Array(new SharedArrayBuffer(4 * CLAIMS));
    const init: HelperInit = {
      ...nets,
      port: port2,
      signal: this.#signal.buffer as SharedArrayBuffer,
      claims: this.#claims.buffer as SharedArrayBuffer,
    };
    this.#worker = new Worker(ENTRY, { workerData: init, transferList: [port2] });
    this.#worker.unref();
    this.#worker.on('error', () => (this.#state = 'dead'));
    this.#worker.on('exit', () => (this.#state = 'dead'));
    this.#port = port1;
  }

  /** Whether requests can be sent: the helper has started and not failed (never blocks). */
  get ready(): boolean {
    if (this.#state === 'starting') {
      const m = receiveMessageOnPort(this.#port)?.message as HelperMessage | undefined;
      if (m && 'ready' in m) this.#state = 'ready';
      else if (m) this.#state = 'dead';
    }
    return this.#state === 'ready';
  }

  /**
   * Sends a request for `nets` (named by slot); returns its id for `wait`. Arrays of `body` are
   * copied, or moved when listed in `transfer` (then unusable here).
   */
  post(
    kind: HelperKind,
    nets: [slot: string, net: { variables: tf.Variable[] }][],
    body: Omit<HelperRequest, 'id' | 'kind' | 'items'>,
    transfer: ArrayBuffer[] = [],
  ): number {
    const id = this.#nextId++;
    const items = nets.map(([slot, net]) => {
      const vars = net.variables;
      const key = vars.map((v) => v.dataId);
      const last = this.#sent.get(slot);
      if (last && key.every((k, i) => k === last[i])) return { slot };
      this.#sent.set(slot, key);
      const weights = vars.map((v) => read(v).slice());
      transfer.push(...weights.map((w) => w.buffer as ArrayBuffer));
      return { slot, weights };
    });
    const request: HelperRequest = { id, kind, items, ...body };
    Atomics.store(this.#claims, id % CLAIMS, OPEN);
    this.#port.postMessage(request, transfer);
    return id;
  }

  /**
   * Takes request `id` back if the helper has not started on it: true means it will not answer
   * and the caller computes the work itself (the helper still takes the weights it brought).
   */
  steal(id: number): boolean {
    return Atomics.compareExchange(this.#claims, id % CLAIMS, OPEN, LEARNER) === OPEN;
  }

  /** The answer to request `id`, or undefined if the helper failed (then it is dropped). */
  wait(id: number): HelperResult[] | undefined {
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (this.#state !== 'dead') {
      const early = this.#answers.get(id);
      if (early) {
        this.#answers.delete(id);
        if ('results' in early) {
          this.#answeredCount++;
          return early.results;
        }
        break;
      }
      const seen = Atomics.load(this.#signal, 0);
      const m = receiveMessageOnPort(this.#port)?.message as HelperMessage | undefined;
      if (m && 'id' in m) {
        this.#answers.set(m.id, m); // answers come in request order, not in waiting order
        continue;
      }
      if (Date.now() > deadline) break;
      Atomics.wait(this.#signal, 0, seen, 1000);
    }
    this.#drop();
    return undefined;
  }

  /** Requests answered so far (counted by `wait`); for tests and benches. */
  get answered(): number {
    return this.#answeredCount;
  }

  #drop(): void {
    this.#state = 'dead';
    this.#sent.clear();
    this.#answers.clear();
    void this.#worker.terminate();
  }

  terminate(): void {
    this.#drop();
    this.#port.close();
  }
}
