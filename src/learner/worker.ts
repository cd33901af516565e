import { type MessagePort, parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { chooseBackend, describeBackend, type LearnerBackend, placeOn } from './backend.ts';
import {
  type CheckpointMeta,
  checkBuffers,
  checkpointOf,
  learnerFrom,
  parseCheckpoint,
  restoreCheckpoint,
} from './checkpoint.ts';
import { LearnerConfig } from './config.ts';
import {
  type FreeRunOptions,
  type FromWorker,
  ToWorker,
  type TransitionBatch,
} from './messages.ts';
import { Sac } from './sac.ts';
import { actorWeights, weightBuffers } from './weights.ts';

// The learner's thread: owns the networks and buffers; the control side sends transitions and
// either asks for learner steps (lock-step) or lets it run free, and gets metrics, actor weights
// and checkpoints back.
if (!parentPort)
  throw new Error('src/learner/worker.ts runs only as a worker thread (use LearnerLink)');
const port: MessagePort = parentPort;

let sac: Sac | undefined;
let metricsEvery = 10;
let lastReport = { at: performance.now(), step: 0 };
/** Transitions taken in (both buffers), and online ones: the control side's back-pressure gauge. */
let received = 0;
let receivedOnline = 0;
/**
 * Free-running state: the options, and the learner steps it may still take (each online
 * transition taken in while free-running adds `maxUpdatesPerTransition`; see FreeRunOptions).
 */
let free: { options: FreeRunOptions; credit: number } | undefined;
let published = { at: 0, step: 0 };
let freeLoop: Promise<void> | undefined;
/** Wakes the idle free-running loop: called once a message has been handled. */
let wake: (() => void) | undefined;
/** The checkpoint the learner was restored from, for `check-buffers`. */
let restoredMeta: CheckpointMeta | undefined;

const send = (message: FromWorker, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

function learner(what: string): Sac {
  if (!sac) throw new Error(`${what} arrived before init`);
  return sac;
}

function addBatch(s: Sac, which: 'online' | 'demo', b: TransitionBatch): void {
  const o = s.obsDim;
  const a = s.taskActionDim;
  for (let i = 0; i < b.count; i++) {
    s.add(which, {
      obs: b.obs.subarray(i * o, (i + 1) * o),
      action: b.action.subarray(i * a, (i + 1) * a),
      reward: b.reward[i]!,
      nextObs: b.nextObs.subarray(i * o, (i + 1) * o),
      done: b.done[i]! > 0,
    });
  }
}

/** One learner step, with a metrics report every `metricsEvery` steps. */
function step(s: Sac): void {
  const metrics = s.update((s.steps + 1) % metricsEvery === 0);
  if (!metrics) return;
  const now = performance.now();
  const updatesPerS =
    ((metrics.step - lastReport.step) * 1000) / Math.max(1e-3, now - lastReport.at);
  lastReport = { at: now, step: metrics.step };
  const extra = {
    updates_per_s: updatesPerS,
    tensors: tf.memory().numTensors,
    transitions_received: received,
  };
  send({ type: 'metrics', metrics: { ...metrics, ...extra } });
}

function publish(s: Sac): void {
  const weights = actorWeights(s);
  published = { at: performance.now(), step: s.steps };
  send({ type: 'weights', weights, received, online: receivedOnline }, weightBuffers(weights));
}

/** Online transitions taken in while free-running add to the steps it may take (the UTD bound). */
function credit(f: NonNullable<typeof free>, transitions: number): void {
  const cap = f.options.maxUpdatesPerTransition;
  // Credit the learner could not spend before the next transition lapses (but for one step, so a
  // fractional bound adds up): a learner slower than the data trains on while data comes, and
  // stops after at most `cap` × the last batch (+ 1) steps once it stops (e.g. paused).
  // Kept instead (`keepCredit`, the remote learner): it catches up to the ratio over all the data,
  // which its data-paced actors wait for.
  f.credit = (f.options.keepCredit ? f.credit : Math.min(f.credit, 1)) + cap * transitions;
}

/** Whether the weights are due: N steps, or T ms with steps not yet published. */
function publishDue(s: Sac, f: NonNullable<typeof free>): boolean {
  const { publishEverySteps, publishEveryMs } = f.options;
  const unpublished = s.steps - published.step;
  return (
    unpublished >= publishEverySteps ||
    (unpublished > 0 && performance.now() - published.at >= publishEveryMs)
  );
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Waits, using no CPU, for the next message to be handled, or (with steps not yet published)
 * until the weights are due by time.
 */
function idle(s: Sac, f: NonNullable<typeof free>): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      clearTimeout(timer);
      wake = undefined;
      resolve();
    };
    if (s.steps > published.step) {
      timer = setTimeout(
        done,
        Math.max(0, published.at + f.options.publishEveryMs - performance.now()),
      );
    }
    wake = done;
  });
}

/**
 * Trains while free-running, one learner step per turn of the event loop so that transitions,
 * checkpoint requests and `pause` are taken in between (messages are handled before each step).
 * Out of credit (the UTD bound, or no online data yet) it goes idle until the next message.
 */
async function runFree(): Promise<void> {
  while (free && sac) {
    const handled = queue;
    await handled; // every message that arrived so far is handled first
    if (handled !== queue) continue; // more came in meanwhile
    const f = free;
    const s = sac;
    if (!f || !s) break;
    if (f.credit >= 1) {
      f.credit -= 1;
      step(s);
      if (publishDue(s, f)) publish(s);
      await nextTurn();
      continue;
    }
    if (publishDue(s, f)) publish(s);
    send({ type: 'idle', steps: s.steps, received, online: receivedOnline });
    await idle(s, f);
  }
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init': {
      const choice = await chooseBackend(message.backend as LearnerBackend | undefined);
      if (message.checkpoint) {
        const parsed = parseCheckpoint(message.checkpoint);
        const { meta } = parsed;
        if (meta.obsDim !== message.obsDim || meta.actionDim !== message.actionDim) {
          throw new Error(
            `the checkpoint is for obs ${meta.obsDim}, action ${meta.actionDim}; this task has obs ${message.obsDim}, action ${message.actionDim}`,
          );
        }
        sac = await learnerFrom(parsed, (config) => placeOn(choice, config));
        restoredMeta = meta;
      } else {
        const parsed = LearnerConfig.safeParse(message.config);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw new Error(
            `invalid learner config: ${issue.path.join('.') || '(root)'}: ${issue.message}`,
          );
        }
        sac = new Sac(message.obsDim, message.actionDim, placeOn(choice, parsed.data));
      }
      metricsEvery = message.metricsEvery;
      lastReport = { at: performance.now(), step: sac.steps };
      send({
        type: 'ready',
        backend: describeBackend(choice, sac.placement),
        config: { ...sac.config },
        steps: sac.steps,
      });
      return;
    }
    case 'add': {
      const s = learner('transitions');
      addBatch(s, message.buffer, message.batch);
      received += message.batch.count;
      if (message.buffer === 'online') {
        receivedOnline += message.batch.count;
        if (free) credit(free, message.batch.count);
      }
      return;
    }
    case 'train': {
      const s = learner('train');
      if (free) throw new Error('train (lock-step) while the learner is free-running: pause first');
      for (let i = 0; i < message.steps; i++) step(s);
      const weights = actorWeights(s);
      send(
        { type: 'trained', id: message.id, steps: s.steps, online: receivedOnline, weights },
        weightBuffers(weights),
      );
      return;
    }
    case 'run': {
      const s = learner('run');
      // Transitions taken in before (lock-step, a refill) give no credit: the bound starts here.
      free = { options: message.options, credit: 0 };
      published = { at: performance.now(), step: s.steps };
      freeLoop ??= runFree().finally(() => (freeLoop = undefined));
      return;
    }
    case 'pause': {
      free = undefined;
      send({ type: 'paused', id: message.id, steps: sac?.steps ?? 0, online: receivedOnline });
      return;
    }
    case 'set-actor-loss':
      learner('set-actor-loss').setActorLoss(message.loss);
      return;
    case 'checkpoint': {
      const s = learner('checkpoint');
      const { meta, payload } = await checkpointOf(s);
      const bytes = new Uint8Array(payload); // its own buffer (a Buffer may share a pool)
      send(
        { type: 'checkpoint', id: message.id, steps: s.steps, meta: { ...meta }, payload: bytes },
        [bytes.buffer],
      );
      return;
    }
    case 'check-buffers': {
      const s = learner('check-buffers');
      if (!restoredMeta) throw new Error('check-buffers: the learner was not restored');
      checkBuffers(s, restoredMeta);
      send({ type: 'checked', id: message.id });
      return;
    }
    case 'restore': {
      const s = learner('restore');
      // The step count stays (weights' versions and the metrics' steps keep rising); β's
      // schedule starts again from here.
      const { steps, actorUpdates } = s;
      await restoreCheckpoint(s, { payload: message.payload });
      s.steps = steps;
      s.actorUpdates = actorUpdates;
      s.bcFrom = actorUpdates;
      const weights = actorWeights(s);
      send(
        { type: 'restored', id: message.id, steps, online: receivedOnline, weights },
        weightBuffers(weights),
      );
      return;
    }
    case 'shutdown':
      // Not awaiting the free-running loop: it waits on this very queue, and it is between
      // steps now (steps are synchronous); it stops at its next turn, seeing no learner.
      free = undefined;
      sac?.dispose();
      sac = undefined;
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
  const message = parsed.data;
  const id = 'id' in message ? message.id : undefined;
  // Messages are handled strictly in order, one at a time; each wakes an idle free-running loop.
  queue = queue
    .then(() =>
      handle(message).catch((err: unknown) =>
        send({
          type: 'error',
          ...(id !== undefined ? { id } : {}),
          message: err instanceof Error ? err.message : String(err),
        }),
      ),
    )
    .then(() => wake?.());
});
