import { useTelemetry } from '../api/studio-context.tsx';
import { SceneView } from '../scene/SceneView.tsx';
import { ModeBar } from './ModeBar.tsx';
import { OperatorPanel } from './OperatorPanel.tsx';

/**
 * The live screen: the mode bar over the 3D view of the robot, and the latest tick in words. Only
 * the parts that show the telemetry read it: the rest is not re-rendered at the control rate.
 */
export function LiveScreen() {
  return (
    <div className="live">
      <ModeBar />
      <div className="live__view">
        <LiveScene />
      </div>
      <TickLine />
      <OperatorPanel />
    </div>
  );
}

function LiveScene() {
  return <SceneView telemetry={useTelemetry()} />;
}

function TickLine() {
  const t = useTelemetry();
  if (!t) {
    return (
      <p className="tick-line muted" data-testid="telemetry">
        No ticks yet: the control loop is not running.
      </p>
    );
  }
  const safety = t.safety;
  return (
    <p className="tick-line" data-testid="telemetry">
      <span>tick {t.tick}</span>
      <span>
        {t.episodeId !== undefined ? `episode #${t.episodeId}, step ${t.step}` : 'no episode'}
      </span>
      <span>driver {t.driver}</span>
      {t.reward !== undefined && <span>reward {t.reward.toFixed(3)}</span>}
      <span>policy v{t.policyVersion}</span>
      {safety && (
        <span className={`verdict verdict-${safety.verdict}`}>
          safety {safety.verdict}
          {safety.reasons.length > 0 && `: ${safety.reasons.join(', ')}`}
        </span>
      )}
    </p>
  );
}
