import { useCallback, useEffect, useState } from 'react';
import type { PairingStatus } from '../../src/protocol/xr.ts';
import { useStudioClient, useTelemetry } from '../api/studio-context.tsx';
import { errorMessage } from '../api/client.ts';
import { ms } from './format.ts';
import { useGamepadOperator, useKeyboardOperator } from './operators.ts';

/** How often the pairing code and the paired headsets are asked for (ms). */
const PAIRING_POLL_MS = 2000;

/**
 * The operator's inputs: the headset pairing code and address, the paired headsets (revocable),
 * the keyboard and gamepad operators, and how fresh the operator's input was at the last tick.
 */
export function OperatorPanel() {
  const client = useStudioClient();
  const { gripperClosed } = useKeyboardOperator();
  const { connected: padConnected } = useGamepadOperator();
  const [pairing, setPairing] = useState<PairingStatus>();
  const [error, setError] = useState<string>();

  const refresh = useCallback(() => {
    client.pairing().then(
      (p) => {
        setPairing(p);
        setError(undefined);
      },
      (err: unknown) => setError(errorMessage(err)),
    );
  }, [client]);
  useEffect(() => {
    refresh();
    const timer = setInterval(refresh, PAIRING_POLL_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  const revoke = (id: string) =>
    client.revoke(id).then(refresh, (e: unknown) => setError(errorMessage(e)));
  return (
    <section className="operator-panel" aria-label="Operator inputs">
      <div className="operator-panel__pairing" data-testid="pairing">
        <span>Headset: open</span>
        <code data-testid="headset-url">{pairing?.headsetUrl ?? '…/xr'}</code>
        <span>code</span>
        <strong className="pairing-code" data-testid="pairing-code">
          {pairing?.code ?? '······'}
        </strong>
        {pairing?.paired.map((p) => (
          <span key={p.id} className="paired" data-testid="paired">
            {p.clientId}
            {pairing.controlHolder === p.clientId ? ' (in control)' : ''}
            <button type="button" onClick={() => void revoke(p.id)} title="Forget this headset">
              revoke
            </button>
          </span>
        ))}
        {error && <span className="muted">{error}</span>}
      </div>
      <div className="operator-panel__inputs">
        <span title="Arrows: forward/back/left/right; PageUp/E, PageDown/Q: up/down; G: gripper">
          keyboard: arrows, E/Q, G (gripper {gripperClosed ? 'closed' : 'open'})
        </span>
        <span data-testid="gamepad">
          gamepad: {padConnected ? 'connected (A hold = intervene, B = e-stop)' : 'none'}
        </span>
        <OperatorTiming />
      </div>
    </section>
  );
}

/** How fresh the operator's input was at the last tick (the one part read per telemetry event). */
function OperatorTiming() {
  const op = useTelemetry()?.operator;
  return (
    <span data-testid="operator-timing" className={op && op.ageMs > 150 ? 'verdict-held' : ''}>
      {op
        ? `input ${op.device}: ${ms(op.ageMs)} old${op.latencyMs !== undefined ? `, ${ms(op.latencyMs)} stamp → robot` : ''}`
        : 'no operator input at the last tick'}
    </span>
  );
}
