import { useEffect, useState } from 'react';
import type { Episode } from '../src/protocol/episode.ts';
import type { StudioClient, StudioStatus } from './api/client.ts';
import { EpisodeTable } from './review/EpisodeTable.tsx';

type Loaded =
  | { state: 'loading' }
  | { state: 'error'; message: string }
  | { state: 'ready'; status: StudioStatus; episodes: Episode[] };

/** The studio shell: what the studio is connected to, and the episodes recorded so far. */
export function App({ client }: { client: StudioClient }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });

  useEffect(() => {
    let live = true;
    Promise.all([client.status(), client.listEpisodes()])
      .then(([status, episodes]) => live && setLoaded({ state: 'ready', status, episodes }))
      .catch((err: unknown) => live && setLoaded({ state: 'error', message: String(err) }));
    return () => {
      live = false;
    };
  }, [client]);

  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', margin: '1.5rem' }}>
      <h1 style={{ margin: 0 }}>Tandem</h1>
      {loaded.state === 'loading' && <p>Connecting to the studio…</p>}
      {loaded.state === 'error' && <p role="alert">Cannot reach the studio: {loaded.message}</p>}
      {loaded.state === 'ready' && (
        <>
          <p>
            Tandem {loaded.status.version} · {loaded.status.dbPath} · {loaded.status.episodes}{' '}
            episodes
          </p>
          <EpisodeTable episodes={loaded.episodes} />
        </>
      )}
    </main>
  );
}
