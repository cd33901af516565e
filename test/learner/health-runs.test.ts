import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { chooseBackend } from '../../src/learner/backend.ts';
import { LearnerConfig } from '../../src/learner/config.ts';
import { HealthMonitor, type LearnerMetrics } from '../../src/learner/health.ts';
import { Sac } from '../../src/learner/sac.ts';
import type { HealthAlert } from '../../src/protocol/index.ts';
import { Probe } from '../../src/robots/probe/probe.ts';
import { Random } from '../../src/util/random.ts';

const ACTION_DIM = 2;

/**
 * Real learner runs on probe data (2-D target action 0.5), made healthy or provoked by one setting,
 * watched by the health monitor as the studio does (a metrics record every 50 learner steps).
 */
function watch(overrides: Record<string, unknown>, steps: number): HealthAlert[] {
  const config = LearnerConfig.parse({
    hidden: [32, 32],
    batchSize: 64,
    initTemperature: 0.05,
    lr: 1e-3,
    gamma: 0.9,
    seed: 3,
    ...overrides,
  });
  const sac = new Sac(4, ACTION_DIM, config);
  try {
    const env = new Probe({ actionDim: ACTION_DIM, target: 0.5 });
    const rng = new Random(5);
    let obs = env.reset(0);
    for (let i = 0; i < 1000; i++) {
      const action = Float32Array.from({ length: ACTION_DIM }, () => rng.uniform(-1, 1));
      const r = env.step(action);
      sac.online.add({
        obs: Float32Array.from(obs),
        action,
        reward: r.reward,
        nextObs: Float32Array.from(r.obs),
        done: false,
      });
      obs = r.obs;
    }
    const monitor = new HealthMonitor({
      gamma: config.gamma,
      rewardScale: config.rewardScale,
      actionDim: ACTION_DIM,
    });
    const alerts: HealthAlert[] = [];
    for (let s = 1; s <= steps; s++) {
      const m = sac.update(s % 50 === 0);
      if (m)
        alerts.push(
          ...monitor.observe({ ...m, envSteps: 1000, updates_per_s: 0 } as LearnerMetrics),
        );
    }
    return alerts.filter((a) => a.state === 'raised');
  } finally {
    sac.dispose();
  }
}

describe('health monitor on real learner runs', () => {
  before(async () => {
    await chooseBackend();
  });

  it('raises nothing on a healthy run', () => {
    assert.deepEqual(
      watch({}, 2000).map((a) => a.pathology),
      [],
    );
  });

  it('flags temperature runaway when the target entropy is unreachable', () => {
    const alerts = watch({ targetEntropy: 10, lr: 3e-3 }, 2000);
    const runaway = alerts.find((a) => a.pathology === 'temperature_runaway');
    assert.ok(runaway, `raised: ${alerts.map((a) => a.pathology).join(', ') || 'nothing'}`);
    assert.match(runaway.evidence, /below the target 10/);
  });

  it('flags a reward scale of 1000 as a reward-design trap', () => {
    const alerts = watch({ rewardScale: 1000 }, 1200);
    const trap = alerts.find((a) => a.pathology === 'reward_design_trap');
    assert.ok(trap, `raised: ${alerts.map((a) => a.pathology).join(', ') || 'nothing'}`);
    assert.match(trap.evidence, /after scaling by 1000/);
  });
});
