import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { metricInfo } from '../../src/protocol/metrics.ts';
import type { Series } from './use-metrics.ts';

const HEIGHT = 160;
const AXIS = '#9aa3b2';
const GRID = '#2a3040';
const PALETTE = ['#4fc3f7', '#ffb74d', '#81c784', '#ba68c8', '#f06292', '#4db6ac', '#fff176'];

/** A stable colour per metric name. */
export function metricColor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

function widthOf(el: HTMLElement): number {
  return Math.max(240, Math.floor(el.clientWidth));
}

/**
 * One metric against the learner step, drawn by uPlot under its title and unit (METRIC_INFO). The
 * chart is made once per name and given new data as the series grows; it follows its
 * container's width.
 */
export function MetricPlot({ name, series }: { name: string; series: Series }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(series);
  latest.current = series;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const grid = { stroke: GRID, width: 1 };
    const opts: uPlot.Options = {
      width: widthOf(el),
      height: HEIGHT,
      scales: { x: { time: false } },
      cursor: { drag: { x: true, y: false } },
      axes: [
        { stroke: AXIS, grid, ticks: grid, label: 'learner step' },
        { stroke: AXIS, grid, ticks: grid, size: 64, label: metricInfo(name).unit },
      ],
      series: [
        { label: 'step' },
        { label: name, stroke: metricColor(name), width: 1.5, spanGaps: false },
      ],
    };
    const chart = new uPlot(opts, toData(latest.current), el);
    plot.current = chart;
    const observer = new ResizeObserver(() => {
      const width = widthOf(el);
      if (width !== chart.width) chart.setSize({ width, height: HEIGHT });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [name]);

  useEffect(() => {
    plot.current?.setData(toData(series));
  }, [series]);

  const { title, unit } = metricInfo(name);
  return (
    <figure className="metric-figure">
      <figcaption data-testid={`metric-title-${name}`}>
        {title} {unit && <small>({unit})</small>} <code>{name}</code>
      </figcaption>
      <div
        className="metric-plot"
        ref={host}
        data-metric={name}
        data-points={series.steps.length}
      />
    </figure>
  );
}

function toData(series: Series): uPlot.AlignedData {
  return [series.steps, series.values];
}
