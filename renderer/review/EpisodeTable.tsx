import type { CSSProperties } from 'react';
import type { Episode } from '../../src/protocol/episode.ts';

const HEADERS = [
  'id',
  'run',
  'task',
  'kind',
  'outcome',
  'label',
  'steps',
  'return',
  'intervened',
  'started',
  'notes',
];

/**
 * The recorded episodes as given (no data fetching here). With `onOpen`, a row opens on a click or
 * Enter; `selectedId` marks the open one.
 */
export function EpisodeTable({
  episodes,
  selectedId,
  onOpen,
}: {
  episodes: readonly Episode[];
  selectedId?: number | undefined;
  onOpen?: ((episode: Episode) => void) | undefined;
}) {
  if (episodes.length === 0) {
    return <p data-testid="no-episodes">No episodes match: record some with `tandem record`.</p>;
  }
  return (
    <table style={{ borderCollapse: 'collapse', width: '100%', fontSize: 13 }}>
      <thead>
        <tr>
          {HEADERS.map((h) => (
            <th key={h} style={headStyle}>
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {episodes.map((e) => {
          const selected = e.id === selectedId;
          return (
            <tr
              key={e.id}
              data-testid="episode-row"
              data-episode-id={e.id}
              aria-selected={selected}
              tabIndex={onOpen ? 0 : undefined}
              onClick={onOpen && (() => onOpen(e))}
              onKeyDown={
                onOpen &&
                ((event) => {
                  if (event.key === 'Enter') onOpen(e);
                })
              }
              style={{
                cursor: onOpen ? 'pointer' : undefined,
                background: selected ? 'var(--selected, #1d3a4d)' : undefined,
                boxShadow: selected ? 'inset 3px 0 0 var(--accent, #4fc3f7)' : undefined,
                color: e.deleted ? 'var(--muted, #999)' : undefined,
                textDecoration: e.deleted ? 'line-through' : undefined,
              }}
            >
              <td style={cellStyle}>{e.id}</td>
              <td style={cellStyle}>{e.runId}</td>
              <td style={cellStyle}>{e.task}</td>
              <td style={cellStyle}>{e.kind}</td>
              <td style={cellStyle}>{e.outcome ?? 'running'}</td>
              <td style={cellStyle} data-testid="episode-label">
                {e.label ?? ''}
              </td>
              <td style={cellStyle}>{e.numSteps}</td>
              <td style={cellStyle}>{e.return.toFixed(2)}</td>
              <td style={cellStyle}>{e.intervenedSteps}</td>
              <td style={cellStyle}>{new Date(e.startedAt).toLocaleString()}</td>
              <td
                style={{
                  ...cellStyle,
                  maxWidth: 220,
                  overflow: 'hidden',
                  textOverflow: 'ellipsis',
                }}
              >
                {e.deleted ? '(deleted) ' : ''}
                {e.notes ?? ''}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const headStyle: CSSProperties = {
  textAlign: 'left',
  padding: '0.25rem 0.8rem 0.25rem 0.3rem',
  position: 'sticky',
  top: 0,
  background: 'var(--panel-2, #f4f6f8)',
  borderBottom: '1px solid var(--line, #ccd)',
};

const cellStyle: CSSProperties = {
  padding: '0.2rem 0.8rem 0.2rem 0.3rem',
  borderBottom: '1px solid var(--line, #eef)',
  whiteSpace: 'nowrap',
};
