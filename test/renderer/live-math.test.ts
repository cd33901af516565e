import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { count, ms, percent } from '../../renderer/live/format.ts';
import { appendSeries, lastStep } from '../../renderer/live/use-metrics.ts';

describe('dashboard series', () => {
  it('appends new records to their series without touching the old objects', () => {
    const first = appendSeries(new Map(), [
      { name: 'q_mean', steps: [9, 19], values: [0.1, 0.2] },
      { name: 'critic_loss', steps: [9], values: [null] },
    ]);
    const q = first.get('q_mean')!;
    const next = appendSeries(first, [{ name: 'q_mean', steps: [29], values: [0.3] }]);
    assert.deepEqual(next.get('q_mean'), { steps: [9, 19, 29], values: [0.1, 0.2, 0.3] });
    assert.deepEqual(q, { steps: [9, 19], values: [0.1, 0.2] }, 'the old series is unchanged');
    assert.equal(next.get('critic_loss'), first.get('critic_loss'));
    assert.notEqual(next, first);
  });

  it('asks next for the records after the newest step seen', () => {
    assert.equal(lastStep([], -1), -1);
    assert.equal(lastStep([], 40), 40);
    assert.equal(
      lastStep(
        [
          { name: 'a', steps: [9, 19], values: [1, 2] },
          { name: 'b', steps: [29], values: [3] },
        ],
        -1,
      ),
      29,
    );
  });

  it('formats rates and times', () => {
    assert.equal(percent(1, 4), '25.0%');
    assert.equal(percent(0, 4), '0%');
    assert.equal(percent(4, 4), '100%');
    assert.equal(percent(1, 0), '–');
    assert.equal(ms(0.1234), '0.12 ms');
    assert.equal(ms(12.34), '12.3 ms');
    assert.equal(ms(1234), '1234 ms');
    assert.equal(count(12345), '12\u2009345');
  });
});
