import type { SessionStatus } from '../../src/protocol/studio.ts';
import { ms } from './format.ts';

type Level = 'ok' | 'warn' | 'bad' | 'idle';

/** ok below `warn`, warn below `bad`, bad above. */
function level(value: number, warn: number, bad: number): Level {
  return value < warn ? 'ok' : value < bad ? 'warn' : 'bad';
}

/**
 * Timing badges of the live control loop, each judged against the control period: jitter (p99 of
 * the period error), policy inference (p99) and weight-swap latency (median, publication → use).
 */
export function Badges({ status }: { status: SessionStatus }) {
  const { loop } = status;
  const period = 1000 / status.rateHz;
  const live = status.running && loop.ticks > 0;
  return (
    <div className="badges">
      <Badge
        id="jitter"
        label="control jitter p99"
        value={loop.periodErrorP99}
        level={live ? level(loop.periodErrorP99, 0.05 * period, 0.2 * period) : 'idle'}
        title={`period ${ms(period)}; ${loop.missed} missed deadlines; lateness p99 ${ms(loop.latenessP99)}`}
      />
      <Badge
        id="inference"
        label="policy inference p99"
        value={loop.inferenceP99}
        level={live ? level(loop.inferenceP99, 0.1 * period, 0.5 * period) : 'idle'}
        title={`tick work p99 ${ms(loop.workP99)}`}
      />
      <Badge
        id="swap"
        label="weight swap p50"
        value={loop.swapLatencyP50}
        level={
          live && loop.swapLatencyP50 > 0
            ? level(loop.swapLatencyP50, 2 * period, 10 * period)
            : 'idle'
        }
        title="from the learner's publication to the policy's first use at a tick"
      />
    </div>
  );
}

function Badge(props: { id: string; label: string; value: number; level: Level; title: string }) {
  return (
    <div
      className={`badge badge-${props.level}`}
      data-testid={`badge-${props.id}`}
      data-level={props.level}
      title={props.title}
    >
      <span className="badge__label">{props.label}</span>
      <span className="badge__value">{props.level === 'idle' ? '–' : ms(props.value)}</span>
    </div>
  );
}
