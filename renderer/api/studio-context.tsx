import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import type { SessionStatus, Telemetry } from '../../src/protocol/studio.ts';
import { type ConnectionState, errorMessage, type StudioClient } from './client.ts';

/** What every screen shares: the one client, its connection, the studio's latest status. */
export interface StudioState {
  client: StudioClient;
  connection: ConnectionState;
  /** The latest answer to `status` (polled, and refreshed on mode, episode and policy events). */
  status: SessionStatus | undefined;
  /** Why the latest `status` call failed (cleared by the next answer). */
  statusError: string | undefined;
  /** Asks for a fresh status now (coalesced with one in flight). */
  refreshStatus: () => void;
}

const StudioContext = createContext<StudioState | null>(null);
// Telemetry arrives at the control rate: a context of its own, so status readers are not
// re-rendered with it.
const TelemetryContext = createContext<Telemetry | undefined>(undefined);

/**
 * Provides the client to the app, polls `status` every `pollMs` while connected, and keeps the
 * latest telemetry event. The client's lifetime is the caller's: the provider only listens.
 */
export function StudioProvider({
  client,
  pollMs = 500,
  children,
}: {
  client: StudioClient;
  pollMs?: number;
  children: ReactNode;
}) {
  const [connection, setConnection] = useState<ConnectionState>(client.state);
  const [status, setStatus] = useState<SessionStatus>();
  const [statusError, setStatusError] = useState<string>();
  const [telemetry, setTelemetry] = useState<Telemetry>();
  const polling = useRef({ inFlight: false, again: false, live: true });

  const refreshStatus: () => void = useCallback(() => {
    const p = polling.current;
    if (client.state !== 'open') return;
    if (p.inFlight) {
      p.again = true;
      return;
    }
    p.inFlight = true;
    p.again = false;
    client
      .status()
      .then(
        (s) => {
          if (!p.live) return;
          setStatus(s);
          setStatusError(undefined);
        },
        (err: unknown) => p.live && setStatusError(errorMessage(err)),
      )
      .finally(() => {
        p.inFlight = false;
        if (p.again && p.live) refreshStatus();
      });
  }, [client]);

  useEffect(() => {
    const p = polling.current;
    p.live = true;
    setConnection(client.state);
    const offState = client.onState((state) => {
      setConnection(state);
      if (state === 'open') refreshStatus();
    });
    const offEvents = client.on((event) => {
      if (event.event === 'telemetry') setTelemetry(event.data);
      else if (event.event !== 'alarm') refreshStatus();
    });
    refreshStatus();
    const timer = setInterval(refreshStatus, pollMs);
    return () => {
      p.live = false;
      offState();
      offEvents();
      clearInterval(timer);
    };
  }, [client, pollMs, refreshStatus]);

  const value = useMemo(
    () => ({ client, connection, status, statusError, refreshStatus }),
    [client, connection, status, statusError, refreshStatus],
  );
  return (
    <StudioContext.Provider value={value}>
      <TelemetryContext.Provider value={telemetry}>{children}</TelemetryContext.Provider>
    </StudioContext.Provider>
  );
}

/** The client, connection and status only: no re-render per telemetry event (see useTelemetry). */
export function useStudioStatus(): StudioState {
  const state = useContext(StudioContext);
  if (!state) throw new Error('useStudioStatus() needs a <StudioProvider> above it');
  return state;
}

/** The one client (for calls and `on` listeners). */
export function useStudioClient(): StudioClient {
  return useStudioStatus().client;
}

/** The latest telemetry event (undefined until the control loop runs). */
export function useTelemetry(): Telemetry | undefined {
  return useContext(TelemetryContext);
}
