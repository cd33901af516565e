import { parentPort, workerData } from 'node:worker_threads';
import type { Step } from '../protocol/index.ts';
import { Store } from '../store/index.ts';
import { ReviewInit, type ReviewReply, ReviewRequest } from './review-messages.ts';
import { replayPoses } from './review.ts';

// The review thread of review-thread.ts: a session's long reads (an episode re-simulated, a whole
// episode's steps) on a read-only connection of its own, so they never hold up the control loop's
// thread. WAL lets it read while the session writes; it sees what the session has committed.
if (!parentPort) {
  throw new Error('src/studio/review-worker.ts runs only as a worker thread (use ReviewThread)');
}
const port = parentPort;
const { path } = ReviewInit.parse(workerData);
let store: Store | undefined;

/** Opened on the first request: the session has created the file (and its schema) by then. */
function opened(): Store {
  store ??= Store.open(path, { readonly: true });
  return store;
}

function readSteps(episodeId: number): Step[] {
  const db = opened();
  if (!db.getEpisode(episodeId)) throw new Error(`there is no episode ${episodeId}`);
  return db.readSteps(episodeId);
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function answer(request: ReviewRequest): Promise<ReviewReply> {
  const { id, kind, episodeId } = request;
  try {
    const result =
      kind === 'replay' ? await replayPoses(opened(), episodeId) : readSteps(episodeId);
    return { id, ok: true, result };
  } catch (err) {
    return { id, ok: false, error: messageOf(err) };
  }
}

/** Posts the reply; one that cannot be sent still answers its request, with why. */
function send(reply: ReviewReply): void {
  try {
    port.postMessage(reply);
  } catch (err) {
    const error = `the review thread could not send its answer (${messageOf(err)})`;
    port.postMessage({ id: reply.id, ok: false, error } satisfies ReviewReply);
  }
}

// One request at a time, in order: a flood queues here instead of running side by side.
let queue = Promise.resolve();
port.on('message', (raw: unknown) => {
  const parsed = ReviewRequest.safeParse(raw);
  if (!parsed.success) {
    const id = (raw as { id?: unknown } | null)?.id;
    if (typeof id === 'number')
      send({ id, ok: false, error: 'the review thread got a malformed request' });
    return;
  }
  queue = queue.then(async () => send(await answer(parsed.data)));
});
