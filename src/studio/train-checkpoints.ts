import type { LearnerLink } from '../learner/link.ts';
import type { Transition } from '../protocol/index.ts';
import type { StoredCheckpoint, Store } from '../store/index.ts';
import { LoopState, onlineEpisodeSpans } from './train.ts';

/** The event that ties a learner checkpoint to the training loop's state at that moment. */
export const TRAIN_CHECKPOINT_EVENT = 'train.checkpoint';
/** Checkpoints kept per run (older ones are deleted as new ones land; each is MBs). */
export const CHECKPOINTS_KEPT = 2;

/**
 * Takes the learner's checkpoint from the worker and stores it with the loop's state, in one
 * transaction (a crash leaves the previous pair intact), keeping the newest CHECKPOINTS_KEPT.
 */
export async function saveTrainCheckpoint(
  store: Store,
  link: LearnerLink,
  runId: number,
  state: LoopState,
): Promise<number> {
  const checkpoint = await link.checkpoint();
  return store.db.transaction(() => {
    const id = store.saveCheckpoint(runId, checkpoint.steps, checkpoint.meta, checkpoint.payload);
    store.addEvent({
      runId,
      kind: TRAIN_CHECKPOINT_EVENT,
      payload: { checkpointId: id, learnerSteps: checkpoint.steps, ...state },
    });
    store.pruneCheckpoints(runId, CHECKPOINTS_KEPT);
    return id;
  })();
}

export class ResumeError extends Error {
  override name = 'ResumeError';
}

/** The newest stored checkpoint of the run with the loop state saved beside it. */
export function resumePoint(
  store: Store,
  runId: number,
): { checkpoint: StoredCheckpoint; state: LoopState } {
  const events = store.listEvents(runId).filter((e) => e.kind === TRAIN_CHECKPOINT_EVENT);
  for (const event of events.reverse()) {
    const payload = event.payload as { checkpointId?: unknown };
    const checkpoint =
      typeof payload.checkpointId === 'number'
        ? store.getCheckpoint(payload.checkpointId)
        : undefined;
    if (!checkpoint || checkpoint.runId !== runId) continue; // pruned
    const state = LoopState.safeParse(event.payload);
    if (!state.success) {
      throw new ResumeError(
        `run ${runId}: event ${event.id} (${TRAIN_CHECKPOINT_EVENT}) is malformed: ${state.error.issues[0]?.message}`,
      );
    }
    return { checkpoint, state: state.data };
  }
  throw new ResumeError(`run ${runId} has no training checkpoint in ${store.path}`);
}

/**
 * The online buffer's contents at a checkpoint: the run's training episodes in the state's spans
 * (see LoopState.onlineEpisodes), oldest first, each step as recorded (deleted episodes too: they
 * were trained on). Episodes outside the spans, cut by a kill after the checkpoint the run was
 * resumed from, are left out: the learner that resumed never had them.
 */
export function onlineTransitions(
  store: Store,
  runId: number,
  state: Pick<LoopState, 'lastEpisodeId' | 'onlineEpisodes'>,
): Transition[] {
  const spans = onlineEpisodeSpans(state);
  return store
    .listEpisodes({ runId, kind: 'train', order: 'oldest', includeDeleted: true, limit: 1e9 })
    .filter((e) => spans.some(([first, last]) => e.id >= first && e.id <= last))
    .sort((a, b) => a.id - b.id)
    .flatMap((e) => store.readTransitions(e.id, { all: true })); // as trained on, trim or not
}
