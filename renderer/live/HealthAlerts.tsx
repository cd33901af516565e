import { useState } from 'react';
import type { HealthAlert } from '../../src/protocol/health.ts';
import { errorMessage } from '../api/client.ts';
import { useStudioStatus } from '../api/studio-context.tsx';

/**
 * The learner's active health alerts as cards: what was seen, the probable cause, what to try.
 * A hand-over regression's card has the one-click rollback to the policy from before it.
 */
export function HealthAlerts({ alerts }: { alerts: readonly HealthAlert[] }) {
  if (alerts.length === 0) {
    return (
      <p className="muted" data-testid="health-ok">
        No health alerts: the learner's signals are within their thresholds.
      </p>
    );
  }
  return (
    <div className="alerts">
      {alerts.map((a) => (
        <article
          key={`${a.pathology}-${a.step}`}
          className="alert-card"
          data-testid="health-alert"
          data-pathology={a.pathology}
        >
          <h3>
            {a.pathology.replace(/_/g, ' ')} <small>since learner step {a.step}</small>
          </h3>
          <p>
            <b>Evidence.</b> {a.evidence}
          </p>
          <p>
            <b>Probable cause.</b> {a.probableCause}
          </p>
          {a.whatToTry.length > 0 && (
            <>
              <b>What to try</b>
              <ul>
                {a.whatToTry.map((t) => (
                  <li key={t}>{t}</li>
                ))}
              </ul>
            </>
          )}
          {a.pathology === 'handover_regression' && <RollbackButton />}
        </article>
      ))}
    </div>
  );
}

/** Rolls back to the hand-over checkpoint; says what it restored, or why it could not. */
function RollbackButton() {
  const { client, refreshStatus } = useStudioStatus();
  const [answer, setAnswer] = useState<string>();
  const [busy, setBusy] = useState(false);
  const rollBack = () => {
    setBusy(true);
    client
      .rollback()
      .then(
        (r) =>
          setAnswer(
            `Rolled back to learner step ${r.learnerSteps} (checkpoint ${r.checkpointId}); paused.`,
          ),
        (err: unknown) => setAnswer(`Rollback failed: ${errorMessage(err)}`),
      )
      .finally(() => {
        setBusy(false);
        refreshStatus();
      });
  };
  return (
    <p>
      <button type="button" data-testid="rollback" disabled={busy} onClick={rollBack}>
        Roll back to the policy from before the hand-over
      </button>{' '}
      {answer && <span data-testid="rollback-answer">{answer}</span>}
    </p>
  );
}
