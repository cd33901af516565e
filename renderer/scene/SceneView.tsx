import { type CSSProperties, memo, useEffect, useMemo, useRef, useState } from 'react';
import type { SceneDescription } from '../../src/protocol/scene.ts';
import type { Telemetry } from '../../src/protocol/studio.ts';
import { useStudioClient } from '../api/studio-context.tsx';
import { errorMessage } from '../api/client.ts';
import { fetchScene, type SceneClient } from './fetch-scene.ts';
import { COLORS, type Overlays, POSE_STRIDE, SceneRenderer, toolPoint } from './scene.ts';

export interface SceneViewProps {
  /** Live: poses, action arrows and the trail from each tick. */
  telemetry?: Telemetry | undefined;
  /** The scene to draw; fetched once with the `scene` call when not given. */
  scene?: SceneDescription | undefined;
  /** Replay: these poses instead of the telemetry's. */
  replayPoses?: readonly number[] | undefined;
  /** Replay: the arrows to show (instead of the telemetry's). */
  overlays?: Overlays | undefined;
  /** Replay: the trail's points (instead of the one built from the telemetry). */
  trail?: readonly (readonly number[])[] | undefined;
  /** The view's height (CSS); it takes its container's width. */
  height?: CSSProperties['height'];
}

type Fetched =
  | { state: 'loading' }
  | { state: 'ready'; scene: SceneDescription | null }
  | { state: 'error'; message: string };

/**
 * The 3D view of the robot. The three.js scene (scene.ts) owns its objects; this component only
 * mounts it on a canvas and passes the props on.
 */
export function SceneView(props: SceneViewProps) {
  const client = useStudioClient();
  return <SceneCanvas {...props} client={client} />;
}

const SceneCanvas = memo(function SceneCanvas({
  telemetry,
  scene,
  replayPoses,
  overlays,
  trail,
  height = 420,
  client,
}: SceneViewProps & { client: SceneClient }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const viewRef = useRef<SceneRenderer | null>(null);
  const [mounted, setMounted] = useState(0);
  const [glError, setGlError] = useState<string | null>(null);
  const [fetched, setFetched] = useState<Fetched>({ state: 'loading' });

  // The canvas is made here, not by React: each mount gets its own WebGL context, and the one of
  // an unmounted view is released (StrictMode mounts twice).
  useEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    const canvas = document.createElement('canvas');
    canvas.setAttribute('data-testid', 'scene-canvas');
    canvas.style.cssText = 'display:block;width:100%;height:100%;outline:none;touch-action:none';
    host.prepend(canvas);
    const view = new SceneRenderer();
    try {
      view.mount(canvas);
    } catch (err) {
      canvas.remove();
      setGlError(errorMessage(err));
      return;
    }
    viewRef.current = view;
    setMounted((n) => n + 1);
    return () => {
      viewRef.current = null;
      view.dispose();
      canvas.remove();
    };
  }, []);

  useEffect(() => {
    if (scene) return;
    let live = true;
    fetchScene(client).then(
      (s) => live && setFetched({ state: 'ready', scene: s }),
      (err: unknown) => live && setFetched({ state: 'error', message: errorMessage(err) }),
    );
    return () => {
      live = false;
    };
  }, [client, scene]);

  const description = scene ?? (fetched.state === 'ready' ? fetched.scene : null);
  useEffect(() => {
    if (description) viewRef.current?.setScene(description);
  }, [description, mounted]);

  const poses = replayPoses ?? telemetry?.poses;
  useEffect(() => {
    if (poses) viewRef.current?.setPoses(poses);
  }, [poses, description, mounted]);

  const toolObs = description?.toolObs;
  const liveOverlays = useMemo<Overlays>(
    () => ({
      action: telemetry?.action,
      proposed: telemetry?.proposed,
      toolPos: toolPoint(telemetry?.obs, toolObs),
    }),
    [telemetry, toolObs],
  );
  const shown = overlays ?? liveOverlays;
  useEffect(() => {
    viewRef.current?.setOverlays(shown);
  }, [shown, mounted]);

  // The trail: given (replay), or the tool points of the live episode's ticks.
  const lastTick = useRef<{ episode: number | undefined; tick: number } | null>(null);
  useEffect(() => {
    const view = viewRef.current;
    if (!view) return;
    if (trail) {
      view.setTrail(trail);
      lastTick.current = null;
      return;
    }
    if (!telemetry) return;
    const last = lastTick.current;
    if (!last || last.episode !== telemetry.episodeId || telemetry.tick < last.tick)
      view.setTrail([]);
    if (last && last.tick === telemetry.tick && last.episode === telemetry.episodeId) return;
    lastTick.current = { episode: telemetry.episodeId, tick: telemetry.tick };
    if (liveOverlays.toolPos) view.pushTrail(liveOverlays.toolPos);
  }, [trail, telemetry, liveOverlays, mounted]);

  let message: string | null = null;
  if (glError) message = `No 3D view: WebGL is unavailable (${glError})`;
  else if (!description && fetched.state === 'error') message = `No scene: ${fetched.message}`;
  else if (!description && fetched.state === 'ready')
    message = 'This robot cannot describe its scene.';
  else if (description && poses && poses.length !== POSE_STRIDE * description.bodies.length) {
    message = `These poses (${poses.length / POSE_STRIDE} bodies) are not of this scene (${description.bodies.length} bodies)`;
  }

  return (
    <div
      ref={hostRef}
      data-testid="scene-view"
      style={{
        position: 'relative',
        width: '100%',
        height,
        background: '#e8ecf1',
        borderRadius: 6,
        overflow: 'hidden',
      }}
    >
      <div style={legendStyle}>
        <Swatch color={COLORS.executed} label="executed" />
        <Swatch color={COLORS.proposed} label="proposed" />
        <Swatch color={COLORS.trail} label="trail" />
        <Swatch color={COLORS.workspace} label="workspace" />
      </div>
      {message && (
        <p role="status" style={messageStyle}>
          {message}
        </p>
      )}
    </div>
  );
});

function Swatch({ color, label }: { color: number; label: string }) {
  return (
    <span style={{ marginRight: 10, whiteSpace: 'nowrap' }}>
      <span
        style={{
          display: 'inline-block',
          width: 10,
          height: 3,
          marginRight: 4,
          verticalAlign: 'middle',
          background: `#${color.toString(16).padStart(6, '0')}`,
        }}
      />
      {label}
    </span>
  );
}

const legendStyle: CSSProperties = {
  position: 'absolute',
  top: 6,
  left: 8,
  font: '11px system-ui, sans-serif',
  color: '#334',
  pointerEvents: 'none',
};

const messageStyle: CSSProperties = {
  position: 'absolute',
  inset: 0,
  margin: 0,
  display: 'flex',
  alignItems: 'center',
  justifyContent: 'center',
  font: '14px system-ui, sans-serif',
  color: '#556',
};
