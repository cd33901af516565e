import { workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../util/random.ts';
import { type BackendName, chooseBackend } from './backend.ts';
import {
  CLAIMS,
  HELPER,
  type HelperInit,
  type HelperMessage,
  type HelperRequest,
  type HelperResult,
  OPEN,
} from './critic-helper.ts';
import { criticGradients, gradValues, inputGradient, targetQ } from './critic-work.ts';
import { read } from './heap.ts';
import { Actor, Critic, weightGradient } from './networks.ts';

// The helper thread of critic-helper.ts: answers requests in order, one at a time.
const { backend, obsDim, actionDim, hidden, criticLayerNorm, logStd, port, signal, claims } =
  workerData as HelperInit;
const counter = new Int32Array(signal);
const claim = new Int32Array(claims);
const nets = new Map<string, Critic | Actor>();

function send(message: HelperMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

/** The network of a slot, with the weights of the request when it brings them. */
function net(slot: string, weights: Float32Array[] | undefined): Critic | Actor {
  let c = nets.get(slot);
  if (!c) {
    c =
      slot === 'actor'
        ? new Actor(obsDim, actionDim, hidden, new Random(1), logStd)
        : new Critic(obsDim + actionDim, hidden, new Random(1), criticLayerNorm);
    nets.set(slot, c);
  }
  if (weights) {
    const vars = c.variables;
    tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(weights[i]!, v.shape, 'float32'))));
  }
  return c;
}

function answer(request: HelperRequest): HelperResult[] {
  let results: HelperResult[] = [];
  // Not returned from tidy: it would walk the arrays element by element.
  tf.tidy(() => {
    const input = tf.tensor2d(request.input, [request.rows, request.cols]);
    if (request.kind === 'product') {
      const dy = tf.tensor2d(request.other!, [request.rows, request.otherCols!]);
      results = [{ values: read(weightGradient(input, dy)).slice() }];
      return;
    }
    results = request.items.map(({ slot }): HelperResult => {
      const c = net(slot, undefined);
      if (c instanceof Actor) return { values: read(c.heads(input)).slice() };
      switch (request.kind) {
        case 'target':
          return { q: targetQ(c, input) };
        case 'critic': {
          const { q, grads } = criticGradients(c, input, request.y!);
          return { q, grads: grads.map((g) => ({ values: gradValues(g), scale: g.scale })) };
        }
        case 'input':
          return inputGradient(c, input, request.dq!, request.from!);
        default:
          throw new Error(`a critic cannot answer a ${request.kind} request`);
      }
    });
  });
  return results;
}

try {
  await chooseBackend(backend as BackendName);
  port.on('message', (request: HelperRequest) => {
    try {
      // The weights first, even for a request the learner took back: it counts them as sent.
      for (const { slot, weights } of request.items) if (weights) net(slot, weights);
      if (Atomics.compareExchange(claim, request.id % CLAIMS, OPEN, HELPER) !== OPEN) return;
      const results = answer(request);
      const transfer = results.flatMap((r) => [
        ...(r.q ? [r.q.buffer as ArrayBuffer] : []),
        ...(r.values ? [r.values.buffer as ArrayBuffer] : []),
        ...(r.grads ?? []).map((g) => g.values.buffer as ArrayBuffer),
        ...(r.dInput ? [r.dInput.buffer as ArrayBuffer] : []),
      ]);
      send({ id: request.id, results }, transfer);
    } catch (err) {
      send({ id: request.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
  send({ ready: true });
} catch (err) {
  send({ failed: err instanceof Error ? err.message : String(err) });
}
