import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HealthMonitor,
  type HealthContext,
  type HealthOptions,
  type LearnerMetrics,
} from '../../src/learner/health.ts';
import { HealthAlert, type HealthPathology } from '../../src/protocol/index.ts';
import { Random } from '../../src/util/random.ts';

const STEPS_PER_RECORD = 100;
/** A dense task paying up to 1 per step: a bounded critic's Q stays within ±1/(1−γ) = ±100. */
const DENSE: HealthContext = { gamma: 0.99, rewardScale: 1, actionDim: 6, rMax: 1 };
/** Records after which the healthy run has settled; pathologies start here. */
const SETTLED = 400;

/**
 * Record i of a healthy SAC run: Q converges to 60 (bound 100) as the reward improves, entropy
 * settles at the target −3 and α at 0.05, losses and gradient norms are noisy with rare
 * single-record spikes.
 */
function healthy(i: number, rng: Random): LearnerMetrics {
  const progress = 1 - Math.exp(-i / 60);
  const noise = (sd: number) => sd * rng.normal();
  const lognormal = (median: number) => median * Math.exp(0.3 * rng.normal());
  const spike = () => (rng.next() < 0.01 ? 30 : 1);
  const q = 60 * progress + noise(1.5);
  const qStd = 0.05 * Math.abs(q) + 0.5 + 1.5 * Math.exp(-i / 50) + Math.abs(noise(0.2));
  const entropy = -3 + 6 * Math.exp(-i / 50) + noise(0.3);
  const temperature = (0.05 + 0.95 * Math.exp(-i / 40)) * (1 + noise(0.02));
  const rewardMean = -0.3 + 0.9 * progress + noise(0.03);
  return {
    step: i * STEPS_PER_RECORD,
    envSteps: i * STEPS_PER_RECORD,
    critic_loss: lognormal(0.5 + Math.exp(-i / 100)) * spike(),
    q_mean: q,
    q_std: qStd,
    q_max: q + 2 * qStd,
    q_abs_mean: Math.abs(q) + 0.2 * qStd,
    td_target_mean: q + noise(1),
    actor_loss: -temperature * entropy - q,
    entropy,
    temperature,
    target_entropy: -3,
    critic_grad_norm: lognormal(5) * spike(),
    actor_grad_norm: lognormal(1),
    reward_mean: rewardMean,
    reward_min: Math.max(-1, rewardMean - 0.6 - Math.abs(noise(0.1))),
    reward_max: Math.min(1, rewardMean + 0.4 + Math.abs(noise(0.1))),
    random_reward_mean: -0.3,
    updates_per_s: 50,
    online_size: i * STEPS_PER_RECORD,
    demo_size: 5000,
  };
}

/** The healthy record i with the critic's figures moved to a mean Q of q (std 5% of it). */
function withQ(m: LearnerMetrics, q: number): LearnerMetrics {
  const qStd = 0.05 * Math.abs(q) + 0.5;
  return {
    ...m,
    q_mean: q,
    q_std: qStd,
    q_max: q + 2 * qStd,
    q_abs_mean: Math.abs(q) + 0.2 * qStd,
  };
}

interface Event {
  record: number;
  alert: HealthAlert;
}

/** Feeds `records` records of `stream` to a fresh monitor; every event, tagged with its record. */
function run(
  records: number,
  stream: (i: number, rng: Random) => LearnerMetrics,
  context: HealthContext = DENSE,
  options: Partial<HealthOptions> = {},
  seed = 1,
) {
  const monitor = new HealthMonitor(context, options);
  const rng = new Random(seed);
  const events: Event[] = [];
  const summaries: string[] = [];
  for (let i = 0; i < records; i++) {
    for (const alert of monitor.observe(stream(i, rng))) events.push({ record: i, alert });
    summaries.push(monitor.summary());
  }
  return { monitor, events, summaries };
}

const raised = (events: Event[]) => events.filter((e) => e.alert.state === 'raised');
const cleared = (events: Event[]) => events.filter((e) => e.alert.state === 'cleared');
const names = (events: Event[]) => events.map((e) => e.alert.pathology);

/**
 * The stream raised exactly `expected` (each once) inside [from, to), and cleared each after
 * `recoverAt` and before the end. Returns the raise events, in `expected`'s order.
 */
function assertEpisode(
  events: Event[],
  expected: HealthPathology[],
  window: { from: number; to: number; recoverAt?: number },
): Map<HealthPathology, Event> {
  for (const e of events) HealthAlert.parse(e.alert);
  assert.deepEqual(names(raised(events)).sort(), [...expected].sort(), 'the alerts raised');
  const byName = new Map(raised(events).map((e) => [e.alert.pathology, e]));
  for (const e of byName.values()) {
    assert.ok(
      e.record >= window.from && e.record < window.to,
      `${e.alert.pathology} raised at record ${e.record}, outside [${window.from}, ${window.to})`,
    );
    assert.ok(e.alert.evidence.length > 0 && e.alert.whatToTry.length > 0);
    assert.equal(e.alert.step, e.record * STEPS_PER_RECORD);
  }
  if (window.recoverAt !== undefined) {
    assert.deepEqual(names(cleared(events)).sort(), [...expected].sort(), 'the alerts cleared');
    for (const e of cleared(events)) {
      assert.ok(e.record >= window.recoverAt, `${e.alert.pathology} cleared before recovery`);
      assert.match(e.alert.evidence, /for 10 records$/);
    }
  }
  return byName;
}

test('a healthy SAC run raises nothing over thousands of records, spikes and all', () => {
  const spikeAt = 1500;
  const { events, summaries } = run(3000, (i, rng) => {
    const m = healthy(i, rng);
    // one bad batch: two decades for a single record is noise, not a blow-up
    return i === spikeAt ? { ...m, critic_loss: m.critic_loss * 1000 } : m;
  });
  assert.deepEqual(events, []);
  assert.equal(summaries.at(-1), 'healthy');
});

test('healthy variants raise nothing: sac+bc with a decaying β, AWR weights, a sparse reward', () => {
  const sacBc = run(3000, (i, rng) => {
    const m = healthy(i, rng);
    const bc = { bc_weight: Math.max(0, 1 - i / 2000), bc_loss: 0.05 + 0.5 * Math.exp(-i / 500) };
    return { ...m, ...bc, q_term_scale: 1 / m.q_abs_mean };
  });
  assert.deepEqual(sacBc.events, []);

  const awr = run(3000, (i, rng) => {
    const mean = 1 + 0.02 * rng.normal();
    return { ...healthy(i, rng), adv_weight_mean: mean, adv_weight_max: mean * (4 + rng.normal()) };
  });
  assert.deepEqual(awr.events, []);

  // success pays 1 and ends the episode: Q climbs well past r̄/(1−γ) while successes get frequent
  const sparse = run(3000, (i, rng) => {
    const success = 1 - Math.exp(-i / 200);
    const m = withQ(healthy(i, rng), 70 * success + 1.5 * rng.normal());
    const rewardMean = Math.max(0, 0.02 * success + 0.003 * rng.normal());
    return {
      ...m,
      reward_mean: rewardMean,
      reward_min: 0,
      reward_max: rewardMean > 0 ? 1 : 0,
      random_reward_mean: 0.005, // random actions succeed now and then: not a reward that pays for anything
    };
  });
  assert.deepEqual(sparse.events, []);
});

test('α regulating a passing entropy deficit (rising under 3× in 30 records) raises nothing', () => {
  const { events } = run(800, (i, rng) => {
    const m = healthy(i, rng);
    if (i < SETTLED || i >= 460) return m;
    return { ...m, entropy: -8 + 0.3 * rng.normal(), temperature: 0.05 * 1.03 ** (i - SETTLED) };
  });
  assert.deepEqual(events, []);
});

test('Q settling far above r_max/(1−γ) raises q_divergence once, with the figures, and clears', () => {
  const { events, summaries } = run(900, (i, rng) => {
    const m = healthy(i, rng);
    return i >= SETTLED && i < 600 ? withQ(m, 412 + 5 * rng.normal()) : m;
  });
  const alerts = assertEpisode(events, ['q_divergence'], {
    from: SETTLED,
    to: 440,
    recoverAt: 600,
  });
  const evidence = alerts.get('q_divergence')!.alert.evidence;
  assert.match(evidence, /mean Q 4\d\d above the bound r_max\/\(1−γ\) = 100 for 20 records/);
  assert.equal(summaries[550], '1 alert: q_divergence');
  assert.equal(summaries.at(-1), 'healthy');
});

test('Q climbing steadily while the reward does not raises q_divergence (seed 001)', () => {
  // bound r_max/(1−γ) = 1000: the climb never reaches it, the rise is the only signal
  const context = { ...DENSE, rMax: 10 };
  const { events } = run(
    1000,
    (i, rng) => {
      const m = healthy(i, rng);
      if (i < SETTLED) return m;
      const q = 60 + 1.2 * (Math.min(i, 700) - SETTLED) + 8 * rng.normal();
      return withQ(m, q); // from 700 on it plateaus: the climb stopped
    },
    context,
  );
  const alerts = assertEpisode(events, ['q_divergence'], {
    from: SETTLED,
    to: 520,
    recoverAt: 700,
  });
  const evidence = alerts.get('q_divergence')!.alert.evidence;
  assert.match(
    evidence,
    /mean Q rose steadily from [56]\d[.\d]* to 1\d\d[.\d]* over 100 records \(9\.9k steps\)/,
  );
  assert.match(
    evidence,
    /the mean reward did not rise \(0\.\d+ → 0\.\d+; it supports Q ≈ [67]\d[.\d]* at most\)/,
  );
});

test('the ensemble spreading apart raises q_divergence with the growth factor', () => {
  const { events } = run(800, (i, rng) => {
    const m = healthy(i, rng);
    if (i < SETTLED || i >= 600) return m;
    return { ...m, q_std: 3.5 + 27 * Math.min(1, (i - SETTLED) / 20) + 0.5 * rng.normal() };
  });
  const alerts = assertEpisode(events, ['q_divergence'], {
    from: SETTLED,
    to: 430,
    recoverAt: 600,
  });
  assert.match(
    alerts.get('q_divergence')!.alert.evidence,
    /ensemble std of Q rose [\d.]+× relative to \|Q\| in [\d.]+k steps \(std 3\.\d+ → \d+[.\d]* at mean Q [\d.]+\)/,
  );
});

test('α climbing while entropy stays far below target raises temperature_runaway (seed 000 IQL)', () => {
  const { events } = run(300, (i, rng) => {
    const m = healthy(i, rng);
    if (i < 120) return { ...m, entropy: -15 + 0.3 * rng.normal(), temperature: 0.5 * 1.04 ** i };
    // target entropy fixed: entropy comes back, α decays to its floor
    return { ...m, temperature: Math.max(0.05, 0.5 * 1.04 ** 120 * 0.9 ** (i - 120)) };
  });
  const alerts = assertEpisode(events, ['temperature_runaway'], {
    from: 30,
    to: 40,
    recoverAt: 120,
  });
  assert.match(
    alerts.get('temperature_runaway')!.alert.evidence,
    /temperature α rose from [\d.]+ to [\d.]+ \([\d.]+×\) over 30 records \(3k steps\) while entropy stayed at -1[45][.\d]*, 1[12][.\d]* nats below the target -3/,
  );
});

test('entropy falling fast far below target raises entropy_collapse (fixed α)', () => {
  const { events } = run(800, (i, rng) => {
    const m = { ...healthy(i, rng), temperature: 0.1 };
    if (i < SETTLED || i >= 600) return m;
    return { ...m, entropy: -3 - 37 * Math.min(1, (i - SETTLED) / 30) + 0.3 * rng.normal() };
  });
  const alerts = assertEpisode(events, ['entropy_collapse'], {
    from: SETTLED,
    to: 430,
    recoverAt: 600,
  });
  assert.match(
    alerts.get('entropy_collapse')!.alert.evidence,
    /entropy fell from -[23][.\d]* to -\d+[.\d]* in [\d.]+k steps and has stayed far below the target -3 \(by \d+[.\d]* nats\) for 10 records/,
  );
});

test('a sac+bc run whose Q explodes raises bc_swamped (λ → 0) beside q_divergence', () => {
  const { events, summaries } = run(1000, (i, rng) => {
    let m: LearnerMetrics = { ...healthy(i, rng), bc_weight: 0.5, bc_loss: 0.3 };
    if (i >= SETTLED && i < 700) m = withQ(m, 2500 + 20 * rng.normal());
    return { ...m, q_term_scale: 1 / m.q_abs_mean };
  });
  const alerts = assertEpisode(events, ['q_divergence', 'bc_swamped'], {
    from: SETTLED,
    to: 440,
    recoverAt: 700,
  });
  assert.match(
    alerts.get('bc_swamped')!.alert.evidence,
    /λ = c\/mean\|Q\| fell to [\d.]+e-4 \(c = 1, so λ ≥ 0\.00\d+ for a bounded critic\): mean \|Q\| 2\d{3} is \d+[.\d]*× the largest \|Q\| a bounded critic reaches \(1\d\d\) for 10 records/,
  );
  assert.equal(summaries[650], '2 alerts: q_divergence, bc_swamped');
});

test('an unnormalised Q term swamping the BC term names both terms', () => {
  const { events } = run(600, (i, rng) => {
    const m = { ...healthy(i, rng), bc_weight: 0.5, bc_loss: 0.3 };
    return i >= SETTLED ? withQ(m, 2500 + 20 * rng.normal()) : m;
  });
  const alerts = assertEpisode(events, ['q_divergence', 'bc_swamped'], { from: SETTLED, to: 440 });
  assert.match(
    alerts.get('bc_swamped')!.alert.evidence,
    /against a BC term β·bc_loss = 0\.15: the Q term is 1\d{4}× the BC term/,
  );
});

test('advantage weights ≈ uniform, or dominated by outliers, raise adv_weights_degenerate', () => {
  const awr = (i: number, rng: Random, ratio: () => number, mean = 1) => ({
    ...healthy(i, rng),
    adv_weight_mean: mean,
    adv_weight_max: mean * ratio(),
  });
  const uniform = run(800, (i, rng) =>
    i >= SETTLED && i < 600
      ? awr(i, rng, () => 1.03 + 0.01 * rng.normal())
      : awr(i, rng, () => 4 + rng.normal()),
  );
  const u = assertEpisode(uniform.events, ['adv_weights_degenerate'], {
    from: SETTLED,
    to: 445,
    recoverAt: 600,
  });
  assert.match(
    u.get('adv_weights_degenerate')!.alert.evidence,
    /≈ uniform: the largest is only 1\.0\d× the mean \(smoothed; latest max 1\.0\d+, mean 1\) for 20 records, so the weighted loss is plain BC/,
  );

  const outliers = run(800, (i, rng) =>
    i >= SETTLED && i < 600
      ? awr(i, rng, () => 100 + 25 * rng.normal(), 1.5)
      : awr(i, rng, () => 4 + rng.normal()),
  );
  const o = assertEpisode(outliers.events, ['adv_weights_degenerate'], {
    from: SETTLED,
    to: 430,
    recoverAt: 600,
  });
  assert.match(
    o.get('adv_weights_degenerate')!.alert.evidence,
    /the largest advantage weight is \d+[.\d]*× the mean \(smoothed; latest max \d+[.\d]*, mean 1\.5\) for 20 records/,
  );
  assert.match(o.get('adv_weights_degenerate')!.alert.probableCause, /noisy/);
});

test("a shaped reward that pays random actions raises reward_design_trap (seed 002's 1/(1+‖a‖))", () => {
  const { events } = run(600, (i, rng) => {
    const m = healthy(i, rng);
    if (i >= 300) return m; // switched to −MSE: random actions cost, rewards go negative
    const rewardMean = 0.7 + 0.03 * rng.normal();
    return {
      ...m,
      reward_mean: rewardMean,
      reward_min: 0.3 + 0.02 * Math.abs(rng.normal()),
      reward_max: 1,
      random_reward_mean: 0.41,
    };
  });
  const alerts = assertEpisode(events, ['reward_design_trap'], {
    from: 19,
    to: 20,
    recoverAt: 300,
  });
  assert.match(
    alerts.get('reward_design_trap')!.alert.evidence,
    /random actions earn a mean reward of 0\.41, 41% of r_max 1, and no sampled reward over the last 20 records was negative \(lowest 0\.3/,
  );
});

test('rewards of size ≫ 1 after scaling raise reward_design_trap', () => {
  const scale = 50;
  const context = { ...DENSE, rewardScale: scale };
  const { events } = run(
    600,
    (i, rng) => {
      const m = healthy(i, rng);
      return {
        ...withQ(m, m.q_mean * scale),
        critic_loss: m.critic_loss * scale ** 2,
        reward_mean: m.reward_mean * scale,
        reward_min: m.reward_min * scale,
        reward_max: m.reward_max * scale,
      };
    },
    context,
  );
  const alerts = assertEpisode(events, ['reward_design_trap'], { from: 19, to: 20 });
  assert.match(
    alerts.get('reward_design_trap')!.alert.evidence,
    /largest \|reward\| of a batch is \d+[.\d]* after scaling by 50 .* above 10/,
  );
  assert.match(alerts.get('reward_design_trap')!.alert.probableCause, /scale/);
});

test('NaN raises critic_blowup on the very record, once, and a rollback clears it', () => {
  const nanFrom = 500;
  const { events } = run(700, (i, rng) => {
    const m = healthy(i, rng);
    if (i < nanFrom || i >= 550) return m;
    const nan = Number.NaN;
    return {
      ...m,
      critic_loss: nan,
      q_mean: nan,
      q_std: nan,
      q_max: nan,
      q_abs_mean: nan,
      td_target_mean: nan,
      actor_loss: nan,
      entropy: nan,
      critic_grad_norm: nan,
      actor_grad_norm: nan,
    };
  });
  const alerts = assertEpisode(events, ['critic_blowup'], {
    from: nanFrom,
    to: nanFrom + 1,
    recoverAt: 550,
  });
  assert.match(alerts.get('critic_blowup')!.alert.evidence, /critic_loss = NaN, actor_loss = NaN/);
});

test('a pathology that comes back is raised again: once per episode', () => {
  const broken = (i: number) => (i >= 300 && i < 320) || (i >= 500 && i < 520);
  const { events } = run(700, (i, rng) => {
    const m = healthy(i, rng);
    return broken(i) ? { ...m, critic_loss: Number.NaN } : m;
  });
  assert.deepEqual(
    events.map((e) => `${e.alert.pathology} ${e.alert.state}`),
    [
      'critic_blowup raised',
      'critic_blowup cleared',
      'critic_blowup raised',
      'critic_blowup cleared',
    ],
  );
  const [raise1, clear1, raise2, clear2] = events.map((e) => e.record);
  assert.equal(raise1, 300);
  assert.ok(clear1! >= 329 && clear1! < 400, `first cleared at ${clear1}`);
  assert.equal(raise2, 500);
  assert.ok(clear2! >= 529 && clear2! < 600, `second cleared at ${clear2}`);
});

test('one Infinity in a gradient norm raises critic_blowup at once', () => {
  const { events } = run(300, (i, rng) => {
    const m = healthy(i, rng);
    return i === 200 ? { ...m, critic_grad_norm: Number.POSITIVE_INFINITY } : m;
  });
  const alerts = assertEpisode(events, ['critic_blowup'], { from: 200, to: 201, recoverAt: 201 });
  assert.match(alerts.get('critic_blowup')!.alert.evidence, /critic_grad_norm = Infinity/);
});

test('critic loss three decades up for consecutive records raises critic_blowup', () => {
  const { events } = run(700, (i, rng) => {
    const m = healthy(i, rng);
    if (i < 500 || i >= 560) return m;
    return { ...m, critic_loss: 500 * (1 + 0.1 * rng.normal()), critic_grad_norm: 2000 };
  });
  const alerts = assertEpisode(events, ['critic_blowup'], { from: 502, to: 503, recoverAt: 560 });
  assert.match(
    alerts.get('critic_blowup')!.alert.evidence,
    /critic loss \d+ is \d+× its recent median 0\.[45]\d* for 3 records; critic grad norm 2000 is \d+× its recent median [45][.\d]* for 3 records/,
  );
});

test('thresholds are options: a shorter persistence raises the same divergence earlier', () => {
  const stream = (i: number, rng: Random) =>
    i >= SETTLED ? withQ(healthy(i, rng), 412) : healthy(i, rng);
  const byDefault = raised(run(500, stream).events);
  const eager = raised(run(500, stream, DENSE, { qBoundRecords: 5 }).events);
  assert.deepEqual(names(byDefault), ['q_divergence']);
  assert.deepEqual(names(eager), ['q_divergence']);
  assert.equal(byDefault[0]!.record - eager[0]!.record, 15);
  assert.match(eager[0]!.alert.evidence, /for 5 records/);
});

test('a critic coming down from 0 to the returns of a −1-per-step task is not divergence', () => {
  // Every reward is −1: the bound r_max/(1−γ) is −100, and a critic initialised near 0 spends
  // its first records above it on its way down. That is learning, not divergence.
  const penalty = (i: number, rng: Random): LearnerMetrics => {
    const m = withQ(healthy(i, rng), -100 * (1 - Math.exp(-i / 200)) + 0.5 * rng.normal());
    return { ...m, reward_mean: -1, reward_min: -1, reward_max: -1, random_reward_mean: -1 };
  };
  const { events } = run(600, penalty, { ...DENSE, rMax: -1 });
  assert.deepEqual(
    raised(events)
      .filter((e) => e.alert.pathology === 'q_divergence')
      .map((e) => `${e.record}: ${e.alert.evidence}`),
    [],
  );
  // The same task whose critic, once settled, climbs far past the bound still raises it.
  const climbing = (i: number, rng: Random): LearnerMetrics => {
    const m = penalty(i, rng);
    return i < SETTLED ? m : withQ(m, m.q_mean + (i - SETTLED) * 2);
  };
  assert.ok(
    names(raised(run(600, climbing, { ...DENSE, rMax: -1 }).events)).includes('q_divergence'),
  );
});
