import { type CSSProperties, memo, useCallback, useEffect, useRef, useState } from 'react';
import { type Episode, EpisodeKind, EpisodeOutcome } from '../../src/protocol/episode.ts';
import type { EpisodeQuery } from '../../src/protocol/rpc.ts';
import { errorMessage, type StudioClient } from '../api/client.ts';
import { useStudioClient } from '../api/studio-context.tsx';
import { EpisodeReplay, type ReplayClient } from './EpisodeReplay.tsx';
import { EpisodeTable } from './EpisodeTable.tsx';
import {
  DEFAULT_FILTER,
  EPISODE_LIMIT,
  type FilterForm,
  replaceEpisode,
  toEpisodeFilter,
} from './review-math.ts';

/** What the review screen needs of the studio client (`on`: a finished episode refreshes the list). */
export type ReviewClient = ReplayClient &
  Pick<StudioClient, 'episodes'> &
  Partial<Pick<StudioClient, 'on'>>;

type Listed = { state: 'loading' } | { state: 'ready' } | { state: 'error'; message: string };

/** A finished episode refreshes the list at most this often (ms). */
const REFRESH_MS = 2000;

/**
 * The episode browser: filters and sort, the table, and the open episode's replay with its
 * timeline, plots and annotations. `client` defaults to the studio's.
 */
export function ReviewScreen({ client }: { client?: ReviewClient }) {
  const studio = useStudioClient();
  return <Review client={client ?? studio} />;
}

// Memoised: the studio context changes with every status poll; the review does not need to.
const Review = memo(function Review({ client }: { client: ReviewClient }) {
  const [form, setForm] = useState<FilterForm>(DEFAULT_FILTER);
  const [episodes, setEpisodes] = useState<Episode[]>([]);
  const [listed, setListed] = useState<Listed>({ state: 'loading' });
  const [runs, setRuns] = useState<number[]>([]);
  const [open, setOpen] = useState<Episode | null>(null);
  const [generation, setGeneration] = useState(0);

  const filterKey = JSON.stringify(toEpisodeFilter(form));
  useEffect(() => {
    let live = true;
    setListed((l) => (l.state === 'ready' ? l : { state: 'loading' }));
    client.episodes(JSON.parse(filterKey) as EpisodeQuery).then(
      (list) => {
        if (!live) return;
        setEpisodes(list);
        setListed({ state: 'ready' });
        setRuns((known) => mergeRuns(known, list));
      },
      (err: unknown) => live && setListed({ state: 'error', message: errorMessage(err) }),
    );
    return () => {
      live = false;
    };
  }, [client, filterKey, generation]);

  // A finished episode (live session) refreshes the list, throttled.
  const lastRefresh = useRef(0);
  useEffect(() => {
    if (!client.on) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = client.on((event) => {
      if (event.event !== 'episode' || timer) return;
      const wait = Math.max(0, lastRefresh.current + REFRESH_MS - Date.now());
      timer = setTimeout(() => {
        timer = undefined;
        lastRefresh.current = Date.now();
        setGeneration((g) => g + 1);
      }, wait);
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [client]);

  const onUpdated = useCallback((updated: Episode) => {
    setEpisodes((list) => replaceEpisode(list, updated));
    setOpen((current) => (current?.id === updated.id ? updated : current));
  }, []);

  const set = <K extends keyof FilterForm>(key: K, value: FilterForm[K]) =>
    setForm((f) => ({ ...f, [key]: value }));

  return (
    <section data-testid="review-screen" style={{ font: '13px system-ui, sans-serif' }}>
      <div
        style={{
          display: 'flex',
          gap: 12,
          flexWrap: 'wrap',
          alignItems: 'center',
          marginBottom: 8,
        }}
      >
        <Choice
          label="run"
          testId="filter-run"
          value={form.runId}
          options={runs.map(String)}
          onChange={(v) => set('runId', v)}
        />
        <Choice
          label="outcome"
          testId="filter-outcome"
          value={form.outcome}
          options={EpisodeOutcome.options}
          onChange={(v) => set('outcome', v)}
        />
        <Choice
          label="kind"
          testId="filter-kind"
          value={form.kind}
          options={EpisodeKind.options}
          onChange={(v) => set('kind', v)}
        />
        <Choice
          label="intervened"
          testId="filter-intervened"
          value={form.intervened}
          options={INTERVENED}
          onChange={(v) => set('intervened', v)}
        />
        <Choice
          label="sort"
          testId="sort"
          value={form.order}
          options={ORDERS}
          text={(o) => ORDER_TEXT[o]}
          any={false}
          onChange={(v) => set('order', v as FilterForm['order'])}
        />
        <label>
          since{' '}
          <input
            type="date"
            data-testid="filter-since"
            value={form.since}
            onChange={(e) => set('since', e.target.value)}
          />
        </label>
        <label>
          <input
            type="checkbox"
            data-testid="filter-deleted"
            checked={form.includeDeleted}
            onChange={(e) => set('includeDeleted', e.target.checked)}
          />{' '}
          show deleted
        </label>
        <button type="button" data-testid="refresh" onClick={() => setGeneration((g) => g + 1)}>
          Refresh
        </button>
        <span style={{ color: 'var(--muted, #667)' }} data-testid="episode-count">
          {listed.state === 'ready' &&
            `${episodes.length}${episodes.length >= EPISODE_LIMIT ? '+' : ''} episodes`}
        </span>
      </div>
      {listed.state === 'loading' && <p>Loading the episodes…</p>}
      {listed.state === 'error' && <p role="alert">Cannot list the episodes: {listed.message}</p>}
      {listed.state === 'ready' && (
        <div style={tableBoxStyle}>
          <EpisodeTable episodes={episodes} selectedId={open?.id} onOpen={setOpen} />
        </div>
      )}
      {open ? (
        <EpisodeReplay episode={open} client={client} onUpdated={onUpdated} />
      ) : (
        listed.state === 'ready' &&
        episodes.length > 0 && (
          <p style={{ color: 'var(--muted, #667)' }}>Open an episode to replay it.</p>
        )
      )}
    </section>
  );
});

const INTERVENED = ['yes', 'no'] as const;
const ORDER_TEXT: Record<FilterForm['order'], string> = {
  newest: 'newest first',
  oldest: 'oldest first',
  return: 'highest return',
};
const ORDERS = Object.keys(ORDER_TEXT) as FilterForm['order'][];

/** A labelled select of the filter bar: `options` (shown as `text` makes them), after "any" (''). */
function Choice<V extends string>({
  label,
  testId,
  value,
  options,
  text = (o) => o,
  any = true,
  onChange,
}: {
  label: string;
  testId: string;
  value: V | '';
  options: readonly V[];
  text?: (option: V) => string;
  any?: boolean;
  onChange: (value: V | '') => void;
}) {
  return (
    <label>
      {label}{' '}
      <select
        data-testid={testId}
        value={value}
        onChange={(e) => onChange(e.target.value as V | '')}
      >
        {any && <option value="">any</option>}
        {options.map((o) => (
          <option key={o} value={o}>
            {text(o)}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The run ids seen so far, newest (highest) first. */
function mergeRuns(known: readonly number[], list: readonly Episode[]): number[] {
  const all = new Set(known);
  for (const e of list) all.add(e.runId);
  return [...all].sort((a, b) => b - a);
}

const tableBoxStyle: CSSProperties = {
  maxHeight: '32vh',
  overflow: 'auto',
  border: '1px solid var(--line, #e3e6ea)',
  borderRadius: 4,
};
