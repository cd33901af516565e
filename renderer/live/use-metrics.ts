import { useEffect, useState } from 'react';
import type { MetricSeries } from '../../src/protocol/studio.ts';
import { useStudioStatus } from '../api/studio-context.tsx';
import { errorMessage } from '../api/client.ts';

export interface Series {
  steps: number[];
  values: (number | null)[];
}

/** How often the dashboard asks for new learner metrics (ms). */
export const METRICS_POLL_MS = 2000;

/** New records appended to their series; the map and the changed series are new objects. */
export function appendSeries(
  current: ReadonlyMap<string, Series>,
  fresh: readonly MetricSeries[],
): Map<string, Series> {
  const next = new Map(current);
  for (const s of fresh) {
    const old = next.get(s.name);
    next.set(
      s.name,
      old
        ? { steps: old.steps.concat(s.steps), values: old.values.concat(s.values) }
        : { steps: [...s.steps], values: [...s.values] },
    );
  }
  return next;
}

/** The newest learner step among the series (-1 with none). */
export function lastStep(series: readonly MetricSeries[], after: number): number {
  let last = after;
  for (const s of series) for (const step of s.steps) if (step > last) last = step;
  return last;
}

/**
 * Every learner metric of the session's run, polled every `pollMs` with `afterStep` so that only
 * new records travel. Starts over on each (re)connection: a restarted studio is a new run.
 */
export function useMetrics(pollMs = METRICS_POLL_MS) {
  const { client, connection } = useStudioStatus();
  const [series, setSeries] = useState<ReadonlyMap<string, Series>>(() => new Map());
  const [error, setError] = useState<string>();

  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    let busy = false;
    let after = -1;
    let first = true;
    const poll = async () => {
      if (busy) return;
      busy = true;
      try {
        const fresh = await client.metrics(undefined, after);
        if (!live) return;
        setError(undefined);
        if (first || fresh.length > 0) {
          const restart = first;
          first = false;
          setSeries((current) => appendSeries(restart ? new Map() : current, fresh));
        }
        after = lastStep(fresh, after);
      } catch (err) {
        if (live) setError(errorMessage(err));
      } finally {
        busy = false;
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), pollMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [client, connection, pollMs]);

  return { series, error };
}
