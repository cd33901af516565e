import type { CSSProperties } from 'react';
import { indexX, SPEEDS, type Span } from './review-math.ts';

/** Half the width of Chromium's range thumb: where index 0 and the last index sit on the track. */
const THUMB_HALF = 8;

/**
 * Play / pause, speed, single steps and the scrubber (value = step index; `last`, the number of
 * recorded steps, is the state after the last step), with the intervention spans tinted under the
 * track. `onSeek` gets indices within [0, last].
 */
export function Timeline({
  index,
  last,
  playing,
  speed,
  spans,
  onSeek,
  onPlaying,
  onSpeed,
}: {
  index: number;
  last: number;
  playing: boolean;
  speed: number;
  spans: readonly Span[];
  onSeek: (index: number) => void;
  onPlaying: (playing: boolean) => void;
  onSpeed: (speed: number) => void;
}) {
  return (
    <div style={{ font: '13px system-ui, sans-serif', margin: '6px 0' }}>
      <div style={{ display: 'flex', gap: 6, alignItems: 'center', flexWrap: 'wrap' }}>
        <button
          type="button"
          data-testid="play"
          aria-pressed={playing}
          onClick={() => onPlaying(!playing)}
          style={{ minWidth: 64 }}
        >
          {playing ? '❚❚ Pause' : '▶ Play'}
        </button>
        <button
          type="button"
          data-testid="step-back"
          title="One step back"
          disabled={index <= 0}
          onClick={() => onSeek(index - 1)}
        >
          ◀ step
        </button>
        <button
          type="button"
          data-testid="step-forward"
          title="One step forward"
          disabled={index >= last}
          onClick={() => onSeek(index + 1)}
        >
          step ▶
        </button>
        <label>
          speed{' '}
          <select
            data-testid="speed"
            value={speed}
            onChange={(event) => onSpeed(Number(event.target.value))}
          >
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
        </label>
        <span
          data-testid="step-label"
          style={{ marginLeft: 'auto', fontVariantNumeric: 'tabular-nums' }}
        >
          {index < last ? `step ${index} / ${last}` : `end (after ${last} steps)`}
        </span>
      </div>
      <div style={{ position: 'relative', height: 24, marginTop: 4 }}>
        <div style={trackStyle}>
          {spans.map((s) => (
            <div
              key={s.start}
              data-testid="intervention-span"
              title={`intervention: steps ${s.start}–${s.end - 1}`}
              style={{
                position: 'absolute',
                top: 0,
                bottom: 0,
                left: `${indexX(s.start, last, 100)}%`,
                width: `${Math.max(0.3, indexX(s.end, last, 100) - indexX(s.start, last, 100))}%`,
                background: 'rgba(249, 115, 22, 0.55)',
              }}
            />
          ))}
        </div>
        <input
          type="range"
          data-testid="timeline"
          aria-label="step"
          min={0}
          max={last}
          step={1}
          value={index}
          onChange={(event) => onSeek(Number(event.target.value))}
          style={{
            position: 'absolute',
            inset: 0,
            width: '100%',
            margin: 0,
            background: 'transparent',
          }}
        />
      </div>
    </div>
  );
}

const trackStyle: CSSProperties = {
  position: 'absolute',
  left: THUMB_HALF,
  right: THUMB_HALF,
  top: 7,
  height: 10,
  background: 'var(--panel-2, #e5e7eb)',
  borderRadius: 2,
  overflow: 'hidden',
};
