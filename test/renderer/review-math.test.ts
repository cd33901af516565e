import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  advance,
  DEFAULT_FILTER,
  EPISODE_LIMIT,
  flagSpans,
  indexAt,
  indexX,
  linePath,
  replaceEpisode,
  stepPeriod,
  toEpisodeFilter,
  valueRange,
} from '../../renderer/review/review-math.ts';
import type { Episode } from '../../src/protocol/episode.ts';
import { EpisodeFilter } from '../../src/store/index.ts';

describe('review: filters', () => {
  it('the default form asks for the newest episodes, not deleted ones', () => {
    assert.deepEqual(toEpisodeFilter(DEFAULT_FILTER), { order: 'newest', limit: EPISODE_LIMIT });
  });

  it('every field maps onto the store’s EpisodeFilter (which accepts it)', () => {
    const filter = toEpisodeFilter({
      runId: '3',
      outcome: 'success',
      kind: 'demo',
      intervened: 'no',
      order: 'return',
      includeDeleted: true,
      since: '2026-03-04',
    });
    assert.deepEqual(filter, {
      order: 'return',
      limit: EPISODE_LIMIT,
      runId: 3,
      outcome: 'success',
      kind: 'demo',
      intervened: false,
      includeDeleted: true,
      since: new Date(2026, 2, 4).getTime(),
    });
    assert.ok(EpisodeFilter.safeParse(filter).success);
    assert.equal(toEpisodeFilter({ ...DEFAULT_FILTER, intervened: 'yes' }).intervened, true);
    assert.equal(toEpisodeFilter({ ...DEFAULT_FILTER, runId: 'x' }).runId, undefined);
    assert.equal(toEpisodeFilter({ ...DEFAULT_FILTER, since: '2026-3-4' }).since, undefined);
  });

  it('an annotate answer replaces its row in place', () => {
    const e = (id: number, label?: 'success'): Episode => ({
      id,
      runId: 1,
      task: 't',
      kind: 'demo',
      seed: 0,
      startedAt: id,
      numSteps: 1,
      return: 0,
      intervenedSteps: 0,
      deleted: false,
      ...(label ? { label } : {}),
    });
    const list = [e(3), e(2), e(1)];
    const updated = replaceEpisode(list, e(2, 'success'));
    assert.deepEqual(
      updated.map((x) => [x.id, x.label]),
      [
        [3, undefined],
        [2, 'success'],
        [1, undefined],
      ],
    );
  });
});

describe('review: timeline', () => {
  it('intervention spans are the runs of intervened steps, end excluded', () => {
    assert.deepEqual(flagSpans([false, true, true, false, true]), [
      { start: 1, end: 3 },
      { start: 4, end: 5 },
    ]);
    assert.deepEqual(flagSpans([]), []);
    assert.deepEqual(flagSpans([true, true]), [{ start: 0, end: 2 }]);
  });

  it('the control period is the median gap of the step times', () => {
    assert.equal(stepPeriod([0, 0.05, 0.1, 0.4, 0.45]), 0.05);
    assert.equal(stepPeriod([0]), 0.05);
  });

  it('playback advances by elapsed time × speed, carries the remainder, stops at the end', () => {
    let r = advance(0, 0, 120, 50, 1, 10);
    assert.deepEqual(r, { index: 2, carryMs: 20, ended: false });
    r = advance(r.index, r.carryMs, 30, 50, 1, 10);
    assert.deepEqual(r, { index: 3, carryMs: 0, ended: false });
    assert.equal(advance(0, 0, 100, 50, 4, 10).index, 8);
    assert.equal(advance(0, 0, 100, 50, 0.25, 10).index, 0);
    assert.deepEqual(advance(9, 0, 1000, 50, 1, 10), { index: 10, carryMs: 0, ended: true });
  });
});

describe('review: plots', () => {
  it('the value range covers the finite values, padded; never empty', () => {
    assert.deepEqual(
      valueRange([
        [0, 10],
        [null, 5],
      ]),
      { min: -0.5, max: 10.5 },
    );
    assert.deepEqual(valueRange([[2, 2]]), { min: 1, max: 3 });
    assert.deepEqual(valueRange([[null, Number.NaN]]), { min: -1, max: 1 });
  });

  it('a line path maps index and value onto the box and breaks at missing values', () => {
    const range = { min: 0, max: 1 };
    assert.equal(linePath([0, 1, 0.5], 2, 100, 10, range), 'M0 10 L50 0 L100 5');
    assert.equal(linePath([0, null, 1, 1], 3, 30, 10, range), 'M0 10 M20 0 L30 0');
    assert.equal(linePath([], 0, 30, 10, range), '');
  });

  it('cursor x and click → index are inverse on the step grid', () => {
    assert.equal(indexX(5, 10, 1000), 500);
    assert.equal(indexX(20, 10, 1000), 1000);
    assert.equal(indexAt(0.5, 10), 5);
    assert.equal(indexAt(0.54, 10), 5);
    assert.equal(indexAt(-1, 10), 0);
    assert.equal(indexAt(2, 10), 10);
  });
});
