import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binomialCdf, HandoverWatch } from '../../src/studio/handover.ts';

const alone = (success: boolean) => ({
  kind: 'train',
  outcome: success ? 'success' : 'failure',
  intervenedSteps: 0,
});

describe('the hand-over watch', () => {
  it('binomialCdf matches the closed forms', () => {
    assert.ok(Math.abs(binomialCdf(0, 10, 0.3) - 0.7 ** 10) < 1e-12);
    assert.ok(Math.abs(binomialCdf(1, 10, 0.3) - (0.7 ** 10 + 10 * 0.3 * 0.7 ** 9)) < 1e-12);
    assert.equal(binomialCdf(10, 10, 0.3), 1);
    assert.equal(binomialCdf(0, 5, 0), 1);
    assert.equal(binomialCdf(4, 5, 1), 0);
  });

  it('raises when an evaluation falls well below the warm-up policy’s, with the figures; a good one clears it', () => {
    const latest = { q_policy_action: 0.2, q_demo_action: 0.2, entropy: 1.1 };
    const watch = new HandoverWatch(() => latest);
    assert.equal(watch.evaluated(0.6, 20, 1000), undefined); // the warm-up policy
    watch.begin(1000);
    const raised = watch.evaluated(0.1, 20, 1500);
    assert.equal(raised?.pathology, 'handover_regression');
    assert.equal(raised.step, 1500);
    assert.match(
      raised.evidence,
      /at learner step 1000, an evaluation on 20 episodes succeeded 10 % against 60 % before/,
    );
    assert.match(raised.evidence, /Q of its own actions 0\.200 vs the demos' 0\.200/);
    assert.equal(watch.active, raised);
    // Episodes with sampled actions are their own track: they neither raise nor clear it here.
    for (let i = 0; i < 25; i++) assert.equal(watch.episode(alone(true), 1600), undefined);
    assert.equal(watch.evaluated(0.55, 20, 2000)?.state, 'cleared');
    assert.equal(watch.active, undefined);
  });

  it('stays silent on chance dips and on episodes it did not drive alone', () => {
    const watch = new HandoverWatch(() => ({}));
    watch.begin(0);
    for (let i = 0; i < 10; i++) watch.episode(alone(i < 3), i); // the reference: 30 %
    // 1 success in 10 against 30 %: 20 points below, but p = 0.15 (chance)
    for (let i = 0; i < 10; i++) assert.equal(watch.episode(alone(i === 0), i), undefined);
    // Failures with the expert's help or in BC-warmup are not the policy's own
    for (let i = 0; i < 20; i++) {
      assert.equal(
        watch.episode({ kind: 'train', outcome: 'failure', intervenedSteps: 5 }, i),
        undefined,
      );
      assert.equal(
        watch.episode({ kind: 'demo', outcome: 'failure', intervenedSteps: 0 }, i),
        undefined,
      );
    }
    assert.equal(watch.active, undefined);
  });

  it('judges the episodes alone against its first ones after the hand-over; a rollback clears', () => {
    const watch = new HandoverWatch(() => ({}));
    watch.begin(0);
    for (let i = 0; i < 10; i++) assert.equal(watch.episode(alone(i < 8), i), undefined);
    let raised;
    for (let i = 0; i < 10; i++) raised ??= watch.episode(alone(false), 10 + i);
    assert.match(
      raised!.evidence,
      /its last 10 episodes alone succeeded 0 % against 80 % before \(its first 10 episodes alone after the hand-over/,
    );
    const cleared = watch.rolledBack(50);
    assert.equal(cleared?.state, 'cleared');
    assert.match(cleared!.evidence, /rolled back/);
    assert.equal(watch.active, undefined);
  });
});
