import { useEffect, useState } from 'react';
import type { StudioInfo } from '../src/protocol/rpc.ts';
import type { StudioClient } from './api/client.ts';
import { useStudioStatus } from './api/studio-context.tsx';
import { useCommands } from './live/commands.ts';
import { Dashboard } from './live/Dashboard.tsx';
import { useEstopKey } from './live/keys.ts';
import { LiveScreen } from './live/LiveScreen.tsx';
import { ReviewScreen } from './review/ReviewScreen.tsx';

const TABS = [
  ['live', 'Live'],
  ['dashboard', 'Dashboard'],
  ['review', 'Review'],
] as const;
type Tab = (typeof TABS)[number][0];

function tabFromHash(): Tab {
  const hash = location.hash.slice(1);
  return TABS.find(([t]) => t === hash)?.[0] ?? 'live';
}

/**
 * The studio shell: the header (tabs, connection, and on screens without the mode bar the mode and
 * an e-stop) over one screen at a time. The tab follows the URL's hash (#live, #dashboard,
 * #review). The studio's `about` adds the version and database path to the header.
 */
export function App() {
  const [tab, setTab] = useState<Tab>(tabFromHash);
  useEffect(() => {
    const follow = () => setTab(tabFromHash());
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  const choose = (next: Tab) => {
    setTab(next);
    history.replaceState(null, '', `#${next}`);
  };

  return (
    <div className="app">
      <Header tab={tab} onTab={choose} />
      <main className="app__main">
        {tab === 'live' && <LiveScreen />}
        {tab === 'dashboard' && <Dashboard />}
        {tab === 'review' && <ReviewScreen />}
      </main>
    </div>
  );
}

function Header({ tab, onTab }: { tab: Tab; onTab: (tab: Tab) => void }) {
  const { client, status, connection } = useStudioStatus();
  const { mode: send, notice } = useCommands();
  useEstopKey(() => send({ type: 'e-stop', origin: 'keyboard' }));
  const about = useAbout(client);
  const mode = connection === 'open' ? status?.mode : undefined;

  return (
    <header className="app__header">
      <h1>Tandem</h1>
      <nav className="tabs" role="tablist">
        {TABS.map(([id, label]) => (
          <button
            key={id}
            role="tab"
            aria-selected={tab === id}
            className={tab === id ? 'tab active' : 'tab'}
            data-testid={`tab-${id}`}
            onClick={() => onTab(id)}
          >
            {label}
          </button>
        ))}
      </nav>
      <div className="app__header-right">
        {tab !== 'live' && (
          <>
            <span className={`mode-pill mode-${mode ?? 'unknown'}`} data-testid="header-mode">
              {mode ?? 'disconnected'}
            </span>
            <button
              className="estop small"
              data-testid="header-estop"
              onClick={() => send({ type: 'e-stop', origin: 'ui' })}
            >
              E-STOP
            </button>
          </>
        )}
        {notice && tab !== 'live' && (
          <span className="notice" role="alert">
            {notice}
          </span>
        )}
        <span
          className={`connection connection-${connection}`}
          data-testid="connection"
          title={about ? `Tandem ${about.version} · ${about.dbPath}` : undefined}
        >
          {connection === 'open'
            ? status
              ? `${status.task} · run ${status.runId} · ${status.operator} operator`
              : 'connected'
            : connection}
        </span>
      </div>
    </header>
  );
}

/** The studio's version and database; undefined until known, or where it is not served. */
function useAbout(client: StudioClient): StudioInfo | undefined {
  const [about, setAbout] = useState<StudioInfo>();
  useEffect(() => {
    let live = true;
    client.about().then(
      (s) => live && setAbout(s),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client]);
  return about;
}
