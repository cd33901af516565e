import type { MouseEvent } from 'react';
import { indexAt, indexX, linePath, type Span, valueRange } from './review-math.ts';

export interface Series {
  label: string;
  values: readonly (number | null | undefined)[];
  color: string;
  dashed?: boolean;
}

const WIDTH = 1000;

/**
 * A small SVG plot over step indices [0, domain], synced with the timeline: the cursor at the
 * current step, intervention spans tinted, a click seeks.
 */
export function Plot({
  title,
  series,
  domain,
  cursor,
  spans = [],
  height = 56,
  onSeek,
  testId,
}: {
  title: string;
  series: readonly Series[];
  domain: number;
  cursor: number;
  spans?: readonly Span[];
  height?: number;
  onSeek?: (index: number) => void;
  testId?: string;
}) {
  const range = valueRange(series.map((s) => s.values));
  const zeroY =
    range.min < 0 && range.max > 0
      ? height - (-range.min / (range.max - range.min)) * height
      : null;
  const cursorX = indexX(cursor, domain, WIDTH);
  const seek =
    onSeek &&
    ((event: MouseEvent<SVGSVGElement>) => {
      const rect = event.currentTarget.getBoundingClientRect();
      if (rect.width > 0) onSeek(indexAt((event.clientX - rect.left) / rect.width, domain));
    });
  return (
    <figure style={{ margin: '0 0 6px' }} data-testid={testId}>
      <figcaption style={{ font: '11px system-ui, sans-serif', color: 'var(--muted, #445)' }}>
        {title}{' '}
        {series.map((s) => (
          <span key={s.label} style={{ color: s.color, marginLeft: 6 }}>
            {s.dashed ? '┄' : '—'} {s.label}
          </span>
        ))}
        <span style={{ float: 'right', color: 'var(--muted, #889)' }}>
          {range.min.toPrecision(2)} … {range.max.toPrecision(2)}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${height}`}
        preserveAspectRatio="none"
        width="100%"
        height={height}
        onClick={seek}
        style={{
          display: 'block',
          background: 'var(--panel, #fafbfc)',
          border: '1px solid var(--line, #e3e6ea)',
          cursor: 'pointer',
        }}
      >
        {spans.map((s) => (
          <rect
            key={s.start}
            x={indexX(s.start, domain, WIDTH)}
            width={Math.max(1, indexX(s.end, domain, WIDTH) - indexX(s.start, domain, WIDTH))}
            y={0}
            height={height}
            fill="rgba(249, 115, 22, 0.15)"
          />
        ))}
        {zeroY !== null && (
          <line
            x1={0}
            x2={WIDTH}
            y1={zeroY}
            y2={zeroY}
            style={{ stroke: 'var(--line, #ccd)' }}
            vectorEffect="non-scaling-stroke"
          />
        )}
        {series.map((s) => (
          <path
            key={s.label}
            d={linePath(s.values, domain, WIDTH, height, range)}
            fill="none"
            stroke={s.color}
            strokeWidth={1.5}
            strokeDasharray={s.dashed ? '4 3' : undefined}
            vectorEffect="non-scaling-stroke"
          />
        ))}
        <line
          x1={cursorX}
          x2={cursorX}
          y1={0}
          y2={height}
          style={{ stroke: 'var(--text, #111)' }}
          strokeWidth={1}
          vectorEffect="non-scaling-stroke"
          data-testid="plot-cursor"
        />
      </svg>
    </figure>
  );
}
