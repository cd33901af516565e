import { useState } from 'react';
import type { SessionStatus } from '../../src/protocol/studio.ts';
import { useStudioStatus } from '../api/studio-context.tsx';
import { Badges } from './Badges.tsx';
import { count } from './format.ts';
import { HealthAlerts } from './HealthAlerts.tsx';
import { metricColor, MetricPlot } from './MetricPlot.tsx';
import { useMetrics } from './use-metrics.ts';

/**
 * Shown until the operator picks others: first how the policy does on its own (the learning
 * curves, once episodes end), then the learner's internals.
 */
export const DEFAULT_METRICS = [
  'alone_success',
  'intervention_rate',
  'eval_success',
  'update_to_data',
  'critic_loss',
  'q_mean',
  'entropy',
  'temperature',
];

/** The live training dashboard: loop badges, the learner's pace and buffers, health, metrics. */
export function Dashboard() {
  const { status } = useStudioStatus();
  const { series, error } = useMetrics();
  const [selected, setSelected] = useState<string[]>(DEFAULT_METRICS);
  const names = [...series.keys()].sort();
  const shown = selected.filter((name) => series.has(name));
  const first = shown[0] === undefined ? undefined : series.get(shown[0]);

  const toggle = (name: string) =>
    setSelected((s) => (s.includes(name) ? s.filter((n) => n !== name) : [...s, name]));

  return (
    <div className="dashboard">
      {status && (
        <div className="dashboard__top">
          <Badges status={status} />
          <LearnerPanel status={status} />
        </div>
      )}
      <section className="panel">
        <h2>Health</h2>
        <HealthAlerts alerts={status?.health ?? []} />
        {status && status.alarms.length > 0 && (
          <ul className="alarms" data-testid="safety-alarms">
            {status.alarms.map((a, i) => (
              <li key={i}>{a}</li>
            ))}
          </ul>
        )}
      </section>
      <section className="panel">
        <h2>Learning curves and learner metrics</h2>
        <fieldset className="metric-picker" data-testid="metric-picker">
          <legend>Show</legend>
          {names.length === 0 && (
            <span className="muted">
              No metrics yet: the learner reports every few steps once it trains.
            </span>
          )}
          {names.map((name) => (
            <label
              key={name}
              className={`chip ${selected.includes(name) ? 'on' : ''}`}
              style={{ borderColor: metricColor(name) }}
            >
              <input
                type="checkbox"
                data-testid={`metric-option-${name}`}
                checked={selected.includes(name)}
                onChange={() => toggle(name)}
              />
              {name}
            </label>
          ))}
        </fieldset>
        {error && (
          <p className="notice" role="alert">
            {error}
          </p>
        )}
        <div
          className="metric-chart"
          data-testid="metric-chart"
          data-points={first?.steps.length ?? 0}
        >
          {shown.map((name) => (
            <MetricPlot key={name} name={name} series={series.get(name)!} />
          ))}
        </div>
      </section>
    </div>
  );
}

/** The learner's backend, pace (updates/s, per online transition) and what its buffers were sent. */
function LearnerPanel({ status }: { status: SessionStatus }) {
  const { learner } = status;
  // The backend comes with why better ones were skipped: the name here, the reasons on hover.
  const backend = learner.backend.replace(/^learner backend /, '').split(' (')[0] ?? '';
  const rows: [string, string, string, string?][] = [
    ['learner-backend', 'backend', backend, learner.backend],
    ['learner-steps', 'learner steps', count(learner.steps)],
    ['learner-updates', 'updates/s', learner.updatesPerS.toFixed(1)],
    [
      'learner-utd',
      'updates/transition',
      learner.updateToData.toFixed(1),
      'learner steps per online transition taken in: the effective update-to-data ratio (the session caps it: maxUpdatesPerTransition, 20 by default)',
    ],
    ['buffer-online', 'online transitions', count(learner.online)],
    ['buffer-demo', 'demo transitions', count(learner.demo)],
    ['learner-backlog', 'backlog', count(learner.backlog)],
    ['policy-version', 'policy', `v${status.policyVersion}`],
  ];
  return (
    <dl className="learner-panel">
      {rows.map(([id, label, value, title]) => (
        <div key={id} title={title}>
          <dt>{label}</dt>
          <dd data-testid={id}>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
