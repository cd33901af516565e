/*
 * Pure helpers of the episode review: filters, the timeline and the plots. No React, no DOM, so
 * they are tested in Node.
 */

import type { Episode, EpisodeKind, EpisodeOutcome } from '../../src/protocol/episode.ts';
import type { EpisodeQuery } from '../../src/protocol/rpc.ts';

/** The review screen's filter form; '' means any. */
export interface FilterForm {
  runId: string;
  outcome: '' | EpisodeOutcome;
  kind: '' | EpisodeKind;
  intervened: '' | 'yes' | 'no';
  order: 'newest' | 'oldest' | 'return';
  includeDeleted: boolean;
  /** Started on or after this local date (YYYY-MM-DD, a date input's value). */
  since: string;
}

export const DEFAULT_FILTER: FilterForm = {
  runId: '',
  outcome: '',
  kind: '',
  intervened: '',
  order: 'newest',
  includeDeleted: false,
  since: '',
};

/** How many episodes the browser asks for at most. */
export const EPISODE_LIMIT = 500;

/** The `episodes` call's filter (the store's EpisodeFilter) for a form. */
export function toEpisodeFilter(form: FilterForm): EpisodeQuery {
  const filter: EpisodeQuery = { order: form.order, limit: EPISODE_LIMIT };
  const run = Number(form.runId);
  if (form.runId !== '' && Number.isInteger(run) && run > 0) filter.runId = run;
  if (form.outcome) filter.outcome = form.outcome;
  if (form.kind) filter.kind = form.kind;
  if (form.intervened) filter.intervened = form.intervened === 'yes';
  if (form.includeDeleted) filter.includeDeleted = true;
  const since = localMidnight(form.since);
  if (since !== null) filter.since = since;
  return filter;
}

/** Epoch ms of a local date's midnight (YYYY-MM-DD), or null when it is not one. */
export function localMidnight(date: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
  return Number.isFinite(t) ? t : null;
}

/** Replaces an episode in a list by id (the annotate call's answer), keeping the order. */
export function replaceEpisode(list: readonly Episode[], updated: Episode): Episode[] {
  return list.map((e) => (e.id === updated.id ? updated : e));
}

/** A half-open range of step indices [start, end). */
export interface Span {
  start: number;
  end: number;
}

/** The runs of true flags as half-open spans: [F, T, T, F, T] → [1, 3), [4, 5). */
export function flagSpans(flags: readonly boolean[]): Span[] {
  const spans: Span[] = [];
  let start = -1;
  flags.forEach((flag, i) => {
    if (flag && start < 0) start = i;
    if (!flag && start >= 0) {
      spans.push({ start, end: i });
      start = -1;
    }
  });
  if (start >= 0) spans.push({ start, end: flags.length });
  return spans;
}

/** The control period of recorded steps (seconds): the median gap of their times; 0.05 if unknown. */
export function stepPeriod(times: readonly number[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]!;
    if (Number.isFinite(gap) && gap > 0) gaps.push(gap);
  }
  if (gaps.length === 0) return 0.05;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/**
 * Playback: where the cursor is after `elapsedMs` of wall time at `speed`, from `index` and the
 * time already carried over (`carryMs`, episode time not yet worth a step). Stops at `last`.
 */
export function advance(
  index: number,
  carryMs: number,
  elapsedMs: number,
  periodMs: number,
  speed: number,
  last: number,
): { index: number; carryMs: number; ended: boolean } {
  const total = carryMs + Math.max(0, elapsedMs) * speed;
  const steps = periodMs > 0 ? Math.floor(total / periodMs) : 0;
  const next = Math.min(last, index + steps);
  const ended = next >= last;
  return { index: next, carryMs: ended ? 0 : total - steps * periodMs, ended };
}

/** The playback speeds offered. */
export const SPEEDS = [0.25, 0.5, 1, 2, 4] as const;

/** A value range covering every finite value of the series, padded; never empty. */
export function valueRange(series: readonly (readonly (number | null | undefined)[])[]): {
  min: number;
  max: number;
} {
  let min = Infinity;
  let max = -Infinity;
  for (const values of series) {
    for (const v of values) {
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  if (min > max) return { min: -1, max: 1 };
  if (min === max) return { min: min - 1, max: max + 1 };
  const pad = (max - min) * 0.05;
  return { min: min - pad, max: max + pad };
}

/**
 * An SVG path through the values: x from the index over [0, domain] onto [0, width], y from
 * [min, max] onto [height, 0]. A missing or non-finite value breaks the line.
 */
export function linePath(
  values: readonly (number | null | undefined)[],
  domain: number,
  width: number,
  height: number,
  range: { min: number; max: number },
): string {
  const parts: string[] = [];
  let pen = false;
  const span = range.max - range.min || 1;
  values.forEach((v, i) => {
    if (v === null || v === undefined || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = domain > 0 ? (i / domain) * width : 0;
    const y = height - ((v - range.min) / span) * height;
    parts.push(`${pen ? 'L' : 'M'}${round2(x)} ${round2(y)}`);
    pen = true;
  });
  return parts.join(' ');
}

/** The x of an index over [0, domain] on [0, width]. */
export function indexX(index: number, domain: number, width: number): number {
  return domain > 0 ? (Math.min(Math.max(index, 0), domain) / domain) * width : 0;
}

/** The index under a fraction (0..1) of the width, rounded to the nearest. */
export function indexAt(fraction: number, domain: number): number {
  return Math.round(Math.min(Math.max(fraction, 0), 1) * domain);
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
