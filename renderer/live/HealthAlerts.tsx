import type { HealthAlert } from '../../src/protocol/health.ts';

/** The learner's active health alerts as cards: what was seen, the probable cause, what to try. */
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
        </article>
      ))}
    </div>
  );
}
