import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Episode, Step } from '../../src/protocol/episode.ts';
import type { SceneDescription } from '../../src/protocol/scene.ts';
import { errorMessage, type StudioClient } from '../api/client.ts';
import { fetchScene } from '../scene/fetch-scene.ts';
import { SceneView } from '../scene/SceneView.tsx';
import { type Overlays, toolPoint, TRAIL_LENGTH } from '../scene/scene.ts';
import { AnnotationPanel } from './AnnotationPanel.tsx';
import { Plot } from './Plot.tsx';
import { advance, flagSpans, stepPeriod } from './review-math.ts';
import { Timeline } from './Timeline.tsx';

/** What the replay needs of the studio client. */
export type ReplayClient = Pick<StudioClient, 'scene' | 'steps' | 'replay' | 'annotate'>;

type Loaded<T> =
  { state: 'loading' } | { state: 'ready'; data: T } | { state: 'error'; message: string };

const AXES = ['Δx', 'Δy', 'Δz'];
const EXECUTED = '#d97706';
const PROPOSED = '#2563eb';

/** One episode: the 3D replay, its timeline, synced plots and the annotations. */
export function EpisodeReplay({
  episode,
  client,
  onUpdated,
}: {
  episode: Episode;
  client: ReplayClient;
  onUpdated: (episode: Episode) => void;
}) {
  const id = episode.id;
  const [steps, setSteps] = useState<Loaded<Step[]>>({ state: 'loading' });
  const [poses, setPoses] = useState<Loaded<number[][]>>({ state: 'loading' });
  const [scene, setScene] = useState<SceneDescription | null>(null);
  const [index, setIndexState] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const indexRef = useRef(0);
  const setIndex = useCallback((i: number) => {
    indexRef.current = i;
    setIndexState(i);
  }, []);

  useEffect(() => {
    let live = true;
    setSteps({ state: 'loading' });
    setPoses({ state: 'loading' });
    setIndex(0);
    setPlaying(false);
    const fail = (err: unknown) => ({ state: 'error' as const, message: errorMessage(err) });
    client.steps(id).then(
      (data) => live && setSteps({ state: 'ready', data }),
      (err: unknown) => live && setSteps(fail(err)),
    );
    client.replay(id).then(
      (data) => live && setPoses({ state: 'ready', data: data.poses }),
      (err: unknown) => live && setPoses(fail(err)),
    );
    return () => {
      live = false;
    };
  }, [client, id, setIndex]);

  useEffect(() => {
    let live = true;
    fetchScene(client).then(
      (s) => live && setScene(s),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client]);

  const list = steps.state === 'ready' ? steps.data : [];
  // Index n (= steps) is the state after the last step, when the replay has it.
  const last = list.length;
  const periodMs = useMemo(() => 1000 * stepPeriod(list.map((s) => s.t)), [list]);
  const spans = useMemo(() => flagSpans(list.map((s) => s.intervened)), [list]);

  // Playback at the recorded control rate × speed, one animation frame at a time.
  useEffect(() => {
    if (!playing) return;
    let frame = 0;
    let prev = performance.now();
    let carry = 0;
    const tick = (now: number) => {
      const result = advance(indexRef.current, carry, now - prev, periodMs, speed, last);
      prev = now;
      carry = result.carryMs;
      if (result.index !== indexRef.current) setIndex(result.index);
      if (result.ended) {
        setPlaying(false);
        return;
      }
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [playing, speed, periodMs, last, setIndex]);

  const onPlaying = (play: boolean) => {
    if (play && indexRef.current >= last) setIndex(0);
    setPlaying(play && last > 0);
  };
  const seek = useCallback(
    (i: number) => {
      setIndex(Math.min(last, Math.max(0, Math.round(i))));
    },
    [last, setIndex],
  );

  const step: Step | undefined = list[index];
  const toolObs = scene?.toolObs;
  const overlays = useMemo<Overlays>(
    () => ({
      action: step?.action,
      proposed: step?.proposed ?? undefined,
      toolPos: toolPoint(step?.obs, toolObs),
    }),
    [step, toolObs],
  );
  const trail = useMemo(() => {
    const points: number[][] = [];
    for (let i = Math.max(0, index - TRAIL_LENGTH + 1); i <= index && i < list.length; i++) {
      const p = toolPoint(list[i]!.obs, toolObs);
      if (p) points.push([...p]);
    }
    return points;
  }, [list, index, toolObs]);

  const allPoses = poses.state === 'ready' ? poses.data : null;
  const replayPoses = allPoses ? allPoses[Math.min(index, allPoses.length - 1)] : undefined;

  const dims = list[0]?.action.length ?? 0;
  const actionPlots = useMemo(
    () =>
      Array.from({ length: dims }, (_, d) => ({
        title: d < 3 ? `action ${AXES[d]}` : `action[${d}]`,
        series: [
          { label: 'executed', values: list.map((s) => s.action[d]), color: EXECUTED },
          {
            label: 'proposed',
            values: list.map((s) => s.proposed?.[d] ?? null),
            color: PROPOSED,
            dashed: true,
          },
        ],
      })),
    [list, dims],
  );
  const rewards = useMemo(() => list.map((s) => s.reward), [list]);

  return (
    <section data-testid="episode-replay" data-episode-id={id} style={{ marginTop: 12 }}>
      <h2 style={{ font: '600 15px system-ui, sans-serif', margin: '0 0 6px' }}>
        Episode {id} · {episode.kind} · {episode.outcome ?? 'running'} · {episode.numSteps} steps ·
        return {episode.return.toFixed(2)}
        {episode.intervenedSteps > 0 && ` · ${episode.intervenedSteps} intervened`}
      </h2>
      <div
        style={{
          display: 'grid',
          gridTemplateColumns: 'minmax(0, 3fr) minmax(280px, 2fr)',
          gap: 14,
          alignItems: 'start',
        }}
      >
        <div>
          <SceneView
            replayPoses={replayPoses}
            overlays={overlays}
            trail={trail}
            scene={scene ?? undefined}
            height={380}
          />
          {poses.state === 'loading' && <p style={noteStyle}>Re-simulating the episode…</p>}
          {poses.state === 'error' && (
            <p role="alert" style={noteStyle}>
              No 3D replay: {poses.message}
            </p>
          )}
          {steps.state === 'error' && (
            <p role="alert" style={noteStyle}>
              Cannot read the steps: {steps.message}
            </p>
          )}
          <Timeline
            index={index}
            last={last}
            playing={playing}
            speed={speed}
            spans={spans}
            onSeek={seek}
            onPlaying={onPlaying}
            onSpeed={setSpeed}
          />
        </div>
        <div>
          <AnnotationPanel
            key={id}
            episode={episode}
            step={Math.min(index, list.length)}
            annotate={(episodeId, annotation) => client.annotate(episodeId, annotation)}
            onUpdated={onUpdated}
          />
          <div style={{ marginTop: 10 }} data-testid="plots">
            {steps.state === 'loading' && <p style={noteStyle}>Loading the steps…</p>}
            {list.length > 0 && (
              <>
                <Plot
                  title="reward"
                  testId="plot-reward"
                  series={[{ label: 'reward', values: rewards, color: '#059669' }]}
                  domain={last}
                  cursor={index}
                  spans={spans}
                  onSeek={seek}
                />
                {actionPlots.map((p, d) => (
                  <Plot
                    key={d}
                    title={p.title}
                    testId={`plot-action-${d}`}
                    series={p.series}
                    domain={last}
                    cursor={index}
                    spans={spans}
                    height={44}
                    onSeek={seek}
                  />
                ))}
              </>
            )}
          </div>
        </div>
      </div>
    </section>
  );
}

const noteStyle = {
  font: '12px system-ui, sans-serif',
  color: 'var(--muted, #556)',
  margin: '4px 0',
};
