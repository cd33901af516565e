import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { chooseBackend } from '../../src/learner/backend.ts';
import { LearnerConfig } from '../../src/learner/config.ts';
import { HealthMonitor, type LearnerMetrics } from '../../src/learner/health.ts';
import { Sac } from '../../src/learner/sac.ts';
import type { HealthAlert, HealthPathology } from '../../src/protocol/index.ts';
import { Probe } from '../../src/robots/probe/probe.ts';
import { Random } from '../../src/util/random.ts';

const ACTION_DIM = 2;

interface Watch {
  /**
   * 'random': 1000 transitions of uniformly random actions in the online buffer (the default).
   * 'demos': demo-only data, 1000 transitions of a demonstrator that holds the action at 0
   * (± 0.05) while the target is 0.5: a narrow set of actions away from the best one, which the
   * critic must extrapolate from. Its rewards are about −0.25 (times the reward scale).
   */
  data?: 'random' | 'demos';
  /** Stop as soon as this pathology is raised (the run's step count is then a limit). */
  until?: HealthPathology;
}

/**
 * Real learner runs on probe data (2-D target action 0.5), made healthy or provoked by one setting,
 * watched by the health monitor as the studio does (a metrics record every 50 learner steps).
 * Returns the alerts raised.
 */
function watch(
  overrides: Record<string, unknown>,
  steps: number,
  { data = 'random', until }: Watch = {},
): HealthAlert[] {
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
    const buffer = data === 'random' ? sac.online : sac.demo;
    let obs = env.reset(0);
    for (let i = 0; i < 1000; i++) {
      const action = Float32Array.from({ length: ACTION_DIM }, () =>
        data === 'random' ? rng.uniform(-1, 1) : 0.05 * rng.normal(),
      );
      const r = env.step(action);
      buffer.add({
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
      if (!m) continue;
      const events = monitor.observe({ ...m, envSteps: 1000, updates_per_s: 0 } as LearnerMetrics);
      alerts.push(...events.filter((a) => a.state === 'raised'));
      if (events.some((a) => a.state === 'raised' && a.pathology === until)) break;
    }
    return alerts;
  } finally {
    sac.dispose();
  }
}

/** The alert of `pathology` among those raised; fails, naming what was raised, if absent. */
function raised(alerts: HealthAlert[], pathology: HealthPathology): HealthAlert {
  const alert = alerts.find((a) => a.pathology === pathology);
  assert.ok(alert, `raised: ${alerts.map((a) => a.pathology).join(', ') || 'nothing'}`);
  return alert;
}

/**
 * The demos' rewards (about −0.25 per unit of reward scale) shifted to about 0: the data's best
 * reward is then about +0.1, and the bound r_max/(1−γ) about +1, so that Q is inside it at its
 * start (0) and whatever takes it out is the critic's own doing.
 */
const CENTRED = (rewardScale: number) => ({ rewardScale, rewardShift: 0.25 * rewardScale });

/**
 * Critics without LayerNorm (ReLU nets extrapolate linearly, and bootstrapping from the actor's
 * out-of-distribution actions then feeds on itself) and target updates 10× faster than the
 * default (τ 0.05: the divergence compounds within the run).
 */
const DIVERGENT = { criticLayerNorm: false, tau: 0.05 };

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
    const runaway = raised(watch({ targetEntropy: 10, lr: 3e-3 }, 2000), 'temperature_runaway');
    assert.match(runaway.evidence, /below the target 10/);
  });

  it('flags a reward scale of 1000 as a reward-design trap', () => {
    const trap = raised(watch({ rewardScale: 1000 }, 1200), 'reward_design_trap');
    assert.match(trap.evidence, /after scaling by 1000/);
  });

  it('flags Q divergence when critics without LayerNorm bootstrap from out-of-distribution actions', () => {
    const alerts = watch({ ...DIVERGENT, ...CENTRED(1) }, 2000, {
      data: 'demos',
      until: 'q_divergence',
    });
    const divergence = raised(alerts, 'q_divergence');
    assert.match(divergence.evidence, /^mean Q \S+ above the bound \(?r_max/);
    const { q_mean: q, q_bound_upper: upper } = divergence.metrics;
    assert.ok(q! > upper! + 1, `Q ${q} against the bound ${upper}`);
  });

  it('flags a critic blow-up with a reward scale of 1000 and no gradient clipping', () => {
    const alerts = watch({ ...DIVERGENT, ...CENTRED(1000) }, 1500, {
      data: 'demos',
      until: 'critic_blowup',
    });
    const blowup = raised(alerts, 'critic_blowup');
    assert.match(blowup.evidence, /critic (loss|grad norm) \S+ is \S+× its recent median/);
    const jumps = ['critic_loss', 'critic_grad_norm'].filter((f) => {
      const { [f]: value, [`${f}_median`]: median } = blowup.metrics;
      return value !== undefined && median !== undefined && value >= 100 * median;
    });
    assert.ok(jumps.length > 0, JSON.stringify(blowup.metrics));
    // The same run with the gradient norm clipped near its usual size (1000) does not blow up.
    const clipped = watch({ ...DIVERGENT, ...CENTRED(1000), gradClip: 1000 }, 1500, {
      data: 'demos',
    });
    assert.ok(!clipped.some((a) => a.pathology === 'critic_blowup'), 'blew up with clipping');
  });

  it('flags entropy collapse when α starts far too low to hold the entropy up', () => {
    const alerts = watch({ initTemperature: 1e-4 }, 2000, { until: 'entropy_collapse' });
    const collapse = raised(alerts, 'entropy_collapse');
    assert.match(collapse.evidence, /^entropy fell from \S+ to \S+ .* below the target -1/);
    const { entropy_before: before, entropy } = collapse.metrics;
    assert.ok(before! - entropy! >= 2, `entropy ${before} → ${entropy}`);
  });

  it('flags a swamped BC term: sac+bc without the Q normalisation on demo-only data', () => {
    const alerts = watch(
      { actorLoss: 'sac+bc', normalizeQ: false, ...DIVERGENT, ...CENTRED(100) },
      2000,
      { data: 'demos', until: 'bc_swamped' },
    );
    const swamped = raised(alerts, 'bc_swamped');
    assert.match(
      swamped.evidence,
      /^mean \|Q\| \S+ is \S+× the largest \|Q\| .* against a BC term β·bc_loss = \S+: the Q term is \S+× the BC term/,
    );
    const { q_abs_mean: absQ, q_bound: bound } = swamped.metrics;
    assert.ok(absQ! > 2 * bound!, `mean |Q| ${absQ} against the bound ${bound}`);
    // The same run with the Q term normalised (the default) does not swamp the BC term.
    const normalised = watch({ actorLoss: 'sac+bc', ...DIVERGENT, ...CENTRED(100) }, 2000, {
      data: 'demos',
    }).map((a) => a.pathology);
    assert.ok(!normalised.includes('bc_swamped'), `raised: ${normalised.join(', ')}`);
  });

  it('flags degenerate advantage weights: ≈ uniform with a huge temperature, outliers with a tiny one', () => {
    const uniform = raised(
      watch({ actorLoss: 'awr', awrTemperature: 1000 }, 1500, {
        until: 'adv_weights_degenerate',
      }),
      'adv_weights_degenerate',
    );
    assert.match(uniform.evidence, /^advantage weights ≈ uniform/);
    const outliers = raised(
      watch({ actorLoss: 'awr', awrTemperature: 0.05, awrMaxWeight: 1e6 }, 1500, {
        until: 'adv_weights_degenerate',
      }),
      'adv_weights_degenerate',
    );
    assert.match(outliers.evidence, /^the largest advantage weight is \S+× the mean/);
    assert.ok(outliers.metrics.ratio! >= 20, JSON.stringify(outliers.metrics));
  });
});
