import type { Episode } from '../../src/protocol/episode.ts';

/** The recorded episodes, newest first, as plain props (no data fetching here). */
export function EpisodeTable({ episodes }: { episodes: Episode[] }) {
  if (episodes.length === 0) {
    return <p>No episodes yet: record some with `tandem record`.</p>;
  }
  return (
    <table style={{ borderCollapse: 'collapse' }}>
      <thead>
        <tr>
          {['id', 'task', 'kind', 'outcome', 'steps', 'return', 'intervened', 'started'].map(
            (h) => (
              <th key={h} style={{ textAlign: 'left', padding: '0.2rem 0.8rem 0.2rem 0' }}>
                {h}
              </th>
            ),
          )}
        </tr>
      </thead>
      <tbody>
        {episodes.map((e) => (
          <tr key={e.id}>
            <td>{e.id}</td>
            <td>{e.task}</td>
            <td>{e.kind}</td>
            <td>{e.outcome ?? 'running'}</td>
            <td>{e.numSteps}</td>
            <td>{e.return.toFixed(2)}</td>
            <td>{e.intervenedSteps}</td>
            <td>{new Date(e.startedAt).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
