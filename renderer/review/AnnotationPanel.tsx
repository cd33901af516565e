import { useState } from 'react';
import type { Episode } from '../../src/protocol/episode.ts';
import type { Annotation } from '../../src/protocol/rpc.ts';
import { errorMessage } from '../api/client.ts';

type Saving =
  | { state: 'idle' }
  | { state: 'saving' }
  | { state: 'saved'; what: string }
  | { state: 'error'; message: string };

/**
 * Label, notes and soft delete of an episode, each one `annotate` call; the episode shown is the
 * studio's answer (passed back through `onUpdated`). Keyed by episode id by its parent, so another
 * episode starts with its own notes.
 */
export function AnnotationPanel({
  episode,
  step,
  annotate,
  onUpdated,
}: {
  episode: Episode;
  /** The replay's current step: where "trim start/end here" cut. */
  step: number;
  annotate: (episodeId: number, annotation: Annotation) => Promise<Episode>;
  onUpdated: (episode: Episode) => void;
}) {
  const [notes, setNotes] = useState(episode.notes ?? '');
  const [saving, setSaving] = useState<Saving>({ state: 'idle' });

  const send = (annotation: Annotation, what: string) => {
    setSaving({ state: 'saving' });
    annotate(episode.id, annotation).then(
      (updated) => {
        onUpdated(updated);
        setSaving({ state: 'saved', what });
      },
      (err: unknown) => setSaving({ state: 'error', message: errorMessage(err) }),
    );
  };

  const busy = saving.state === 'saving';
  const labelButton = (label: 'success' | 'failure' | 'none', text: string) => {
    const current = (episode.label ?? 'none') === label;
    return (
      <button
        type="button"
        data-testid={`label-${label}`}
        aria-pressed={current}
        disabled={busy}
        onClick={() => send({ label }, `label: ${label}`)}
        className={current ? 'active' : undefined}
        style={{ fontWeight: current ? 700 : 400 }}
      >
        {text}
      </button>
    );
  };

  return (
    <section style={{ font: '13px system-ui, sans-serif' }} aria-label="annotations">
      <div style={{ display: 'flex', gap: 6, alignItems: 'center', marginBottom: 6 }}>
        <span>Label</span>
        {labelButton('success', '✓ Success')}
        {labelButton('failure', '✗ Failure')}
        {labelButton('none', 'No label')}
        <span style={{ marginLeft: 'auto' }}>
          {episode.deleted ? (
            <button
              type="button"
              data-testid="restore-episode"
              disabled={busy}
              onClick={() => send({ deleted: false }, 'restored')}
            >
              Restore
            </button>
          ) : (
            <button
              type="button"
              data-testid="delete-episode"
              disabled={busy}
              onClick={() => send({ deleted: true }, 'deleted')}
              style={{ color: 'var(--bad, #b91c1c)' }}
            >
              Delete
            </button>
          )}
        </span>
      </div>
      <textarea
        data-testid="notes"
        aria-label="notes"
        value={notes}
        maxLength={10_000}
        rows={3}
        placeholder="Notes on this episode"
        onChange={(event) => setNotes(event.target.value)}
        style={{ width: '100%', boxSizing: 'border-box', font: 'inherit' }}
      />
      <div style={{ display: 'flex', gap: 8, alignItems: 'center' }}>
        <button
          type="button"
          data-testid="notes-save"
          disabled={busy}
          onClick={() => send({ notes }, 'notes saved')}
        >
          Save notes
        </button>
        <span data-testid="annotate-status" role={saving.state === 'error' ? 'alert' : 'status'}>
          {saving.state === 'saving' && 'saving…'}
          {saving.state === 'saved' && saving.what}
          {saving.state === 'error' && `not saved: ${saving.message}`}
        </span>
        {episode.deleted && (
          <span style={{ color: 'var(--bad, #b91c1c)' }}>deleted (hidden from the list)</span>
        )}
      </div>
      <div style={{ display: 'flex', gap: 6, alignItems: 'center', marginTop: 6 }}>
        <span data-testid="trim">
          Trim:{' '}
          {episode.trim
            ? `steps ${episode.trim.start}–${episode.trim.end - 1} kept for learning`
            : 'all steps kept'}
        </span>
        <button
          type="button"
          data-testid="trim-start"
          disabled={busy || step >= (episode.trim?.end ?? episode.numSteps)}
          onClick={() =>
            send(
              { trim: { start: step, end: episode.trim?.end ?? episode.numSteps } },
              `trimmed: from step ${step}`,
            )
          }
        >
          Start here
        </button>
        <button
          type="button"
          data-testid="trim-end"
          disabled={busy || step <= (episode.trim?.start ?? 0)}
          onClick={() =>
            send(
              { trim: { start: episode.trim?.start ?? 0, end: step } },
              `trimmed: up to step ${step}`,
            )
          }
        >
          End here
        </button>
        {episode.trim && (
          <button
            type="button"
            data-testid="trim-clear"
            disabled={busy}
            onClick={() => send({ trim: null }, 'trim cleared')}
          >
            Keep all
          </button>
        )}
      </div>
    </section>
  );
}
