import { type MessagePort, parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { type BackendName, chooseBackend, describeBackend } from './backend.ts';
import { LearnerConfig } from './config.ts';
import { type FromWorker, ToWorker, type TransitionBatch } from './messages.ts';
import { Sac } from './sac.ts';
import { actorWeights } from './weights.ts';
import type { ReplayBuffer } from './buffer.ts';

// The learner's thread: owns the networks and buffers; the control side only sends transitions
// and asks for learner steps, and gets metrics and actor weights back.
if (!parentPort)
  throw new Error('src/learner/worker.ts runs only as a worker thread (use LearnerLink)');
const port: MessagePort = parentPort;

let sac: Sac | undefined;
let metricsEvery = 10;
let lastReport = { at: performance.now(), step: 0 };
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

function addBatch(buffer: ReplayBuffer, b: TransitionBatch): void {
  const { obsDim: o, actionDim: a } = buffer;
  for (let i = 0; i < b.count; i++) {
    buffer.add({
      obs: b.obs.subarray(i * o, (i + 1) * o),
      action: b.action.subarray(i * a, (i + 1) * a),
      reward: b.reward[i]!,
      nextObs: b.nextObs.subarray(i * o, (i + 1) * o),
      done: b.done[i]! > 0,
    });
  }
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init': {
      const choice = await chooseBackend(message.backend as BackendName | undefined);
      const parsed = LearnerConfig.safeParse(message.config);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new Error(
          `invalid learner config: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
        );
      }
      const config = parsed.data;
      sac = new Sac(message.obsDim, message.actionDim, config);
      metricsEvery = message.metricsEvery;
      send({ type: 'ready', backend: describeBackend(choice), config: { ...config } });
      return;
    }
    case 'add':
      if (!sac) throw new Error('transitions arrived before init');
      addBatch(message.buffer === 'online' ? sac.online : sac.demo, message.batch);
      return;
    case 'train': {
      if (!sac) throw new Error('train arrived before init');
      for (let i = 0; i < message.steps; i++) {
        const metrics = sac.update((sac.steps + 1) % metricsEvery === 0);
        if (!metrics) continue;
        const now = performance.now();
        const updatesPerS =
          ((metrics.step - lastReport.step) * 1000) / Math.max(1e-3, now - lastReport.at);
        lastReport = { at: now, step: metrics.step };
        const extra = { updates_per_s: updatesPerS, tensors: tf.memory().numTensors };
        send({ type: 'metrics', metrics: { ...metrics, ...extra } });
      }
      const weights = actorWeights(sac);
      send(
        { type: 'trained', id: message.id, steps: sac.steps, weights },
        weights.tensors.map((t) => t.data.buffer as ArrayBuffer),
      );
      return;
    }
    case 'shutdown':
      sac?.dispose();
      port.close();
      return;
  }
}

let queue = Promise.resolve();
port.on('message', (raw: unknown) => {
  const parsed = ToWorker.safeParse(raw);
  if (!parsed.success) {
    send({
      type: 'error',
      message: `learner worker got a malformed message: ${parsed.error.issues[0]?.message}`,
    });
    return;
  }
  // Messages are handled strictly in order, one at a time.
  queue = queue.then(() =>
    handle(parsed.data).catch((err: unknown) =>
      send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    ),
  );
});
