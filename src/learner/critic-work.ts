import * as tf from '@tensorflow/tfjs';
import type { Grad } from './adam.ts';
import { read } from './heap.ts';
import type { Critic, CriticLayerTape } from './networks.ts';

/*
 * One critic's share of an update, as plain arrays in and out, run the same way by the learner
 * and by its helper thread (critic-helper.ts) so that where a critic ran never changes a bit.
 */

/*
 * Call these inside tf.tidy, and do not return their arrays from it: tidy walks a returned object
 * element by element looking for tensors.
 */

/** Q̄(s', a') of one target critic, [n]. */
export function targetQ(target: Critic, nextSa: tf.Tensor2D): Float32Array {
  return read(target.forward(nextSa)).slice();
}

/**
 * Q(s, a) and the gradients of mean((Q − y)²) for one critic; the gradients in its variables'
 * order, each as values times a scale (Adam applies the scale).
 */
export function criticGradients(
  critic: Critic,
  sa: tf.Tensor2D,
  y: Float64Array,
): { q: Float32Array; grads: Grad[] } {
  const n = y.length;
  const tape: CriticLayerTape[] = [];
  const q = read(critic.forward(sa, tape)).slice();
  // dL/dQ = 2(Q − y)/n
  const dq = new Float32Array(n);
  for (let r = 0; r < n; r++) dq[r] = (2 * (q[r]! - y[r]!)) / n;
  const { grads } = critic.backward(tape, tf.tensor2d(dq, [n, 1]), { params: true });
  return { q, grads };
}

/** Q(s, a) and dL/d(input columns from `from` on) for one critic, with dL/dQ = `dq` everywhere. */
export function inputGradient(
  critic: Critic,
  sa: tf.Tensor2D,
  dq: number,
  from: number,
): { q: Float32Array; dInput: Float32Array } {
  const n = sa.shape[0];
  const tape: CriticLayerTape[] = [];
  const q = read(critic.forward(sa, tape)).slice();
  const dInput = critic.backward(tape, tf.fill([n, 1], dq) as tf.Tensor2D, {
    inputFrom: from,
  }).dInput!;
  return { q, dInput: read(dInput).slice() };
}

/** A gradient's values as a standalone array (for sending to another thread). */
export function gradValues(g: Grad): Float32Array {
  return 'values' in g ? g.values : read(g.tensor).slice();
}
