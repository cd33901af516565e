// The BC-warmup → autonomous hand-over on real learner runs (the panda-lift sim, lock-stepped):
// the recipe before issue 16 (β 1 at the hand-over) regresses and the studio says so, and rolls
// back to the warm-up policy exactly; the defaults keep the warm-up policy's success, silently.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { HealthAlert } from '../../src/protocol/index.ts';
import { createRobot } from '../../src/robots/index.ts';
import { Recorder, Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { evaluatePolicy } from '../../src/studio/train.ts';
import { tempDir } from '../cli/helpers.ts';

const WARMUP = 1000;
const AUTONOMOUS = 1500;
const EVAL_EPISODES = 20;

describe('BC-warmup → autonomous on the panda-lift sim: the hand-over watch and rollback', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  /** Warm-up, an evaluation (the watch's reference), the hand-over, autonomous ticks. */
  async function handOver(name: string, learner: Record<string, unknown>) {
    const store = Store.open(join(tmp.dir, `${name}.db`));
    const session = await Session.open(store, {
      task: { task: 'sim/panda-lift', options: {} },
      operator: 'scripted',
      scriptedInterventions: false,
      learner: { ensembleSize: 2, ...learner },
      autoResetMs: 0,
      seed: 1,
    });
    const alerts: HealthAlert[] = [];
    session.on((e) => {
      if (e.event === 'alert' && e.data.pathology === 'handover_regression') alerts.push(e.data);
    });
    const robot = await createRobot(session.config.task);
    const recorder = new Recorder(store);
    /** The policy alone on fixed seeds; told to the session (its hand-over watch) unless `quiet`. */
    const evaluate = (quiet = false) => {
      const r = evaluatePolicy({
        robot,
        policy: session.policy,
        recorder,
        runId: session.runId,
        episodes: EVAL_EPISODES,
        seed: 7,
        envSteps: 0,
      });
      if (!quiet) session.evaluated({ successRate: r.successRate, episodes: EVAL_EPISODES });
      return r.successRate;
    };
    session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'scripted' });
    await session.runHeadless({ ticks: WARMUP, learnerStepsPerTick: 1 });
    const warmup = evaluate();
    const handoverVersion = session.policy.version;
    session.command({ type: 'set-mode', mode: 'autonomous', origin: 'scripted' });
    await session.runHeadless({ ticks: AUTONOMOUS, learnerStepsPerTick: 1 });
    const close = async () => {
      recorder.close();
      robot.close();
      await session.close();
      store.close();
    };
    return { store, session, alerts, evaluate, warmup, handoverVersion, close };
  }

  it('β 1 at the hand-over (before issue 16): the alert says the policy regressed; a rollback restores the warm-up policy', async () => {
    const run = await handOver('before', { handoverBcWeight: 1 });
    try {
      const { session, alerts, store } = run;
      const regressed = run.evaluate();
      const raised = alerts.find((a) => a.state === 'raised');
      console.log(
        `# warm-up policy ${100 * run.warmup} %; ${raised ? `raised at learner step ${raised.step}: ${raised.evidence}` : 'no alert'}`,
      );
      assert.ok(run.warmup > 0, 'the warm-up policy succeeds sometimes (the reference)');
      assert.ok(raised, 'the hand-over watch raised its alert');
      assert.match(
        raised.evidence,
        /an evaluation on 20 episodes succeeded \d+ % against \d+ % before \(an evaluation/,
      );
      assert.ok(raised.whatToTry.some((t) => t.includes('roll back')));
      assert.ok(
        session.status().health.some((a) => a.pathology === 'handover_regression'),
        'on the operator’s screen (status.health)',
      );
      const back = await session.rollback();
      assert.equal(session.modes.mode, 'paused');
      const restored = run.evaluate(true);
      console.log(
        `# evaluation before the rollback ${100 * regressed} %, after ${100 * restored} % (warm-up ${100 * run.warmup} %), checkpoint ${back.checkpointId} of learner step ${back.learnerSteps}`,
      );
      // The same weights on the same seeds: the warm-up policy's evaluation, exactly.
      assert.equal(restored, run.warmup);
      assert.equal(back.learnerSteps, run.handoverVersion, 'the checkpoint of the hand-over');
      assert.ok(alerts.some((a) => a.state === 'cleared'));
      assert.ok(!session.status().health.some((a) => a.pathology === 'handover_regression'));
      const kinds = store.listEvents(session.runId).map((e) => e.kind);
      assert.ok(kinds.includes('handover.checkpoint') && kinds.includes('handover.rollback'));
      // Training goes on from the restored learner, the data since the hand-over kept.
      session.command({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
      await session.runHeadless({ ticks: 20, learnerStepsPerTick: 1 });
      assert.ok(session.policy.version > back.learnerSteps);
      // A second hand-over: its rollback point replaces the first (each is MBs).
      session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' });
      await session.runHeadless({ ticks: 5, learnerStepsPerTick: 1 });
      session.command({ type: 'set-mode', mode: 'autonomous', origin: 'ui' });
      await session.runHeadless({ ticks: 5, learnerStepsPerTick: 1 });
      const rows = store.db
        .prepare('SELECT id FROM checkpoints WHERE run_id = ?')
        .all(session.runId) as { id: number }[];
      assert.equal(rows.length, 1, 'one rollback point kept');
      assert.notEqual(rows[0]!.id, back.checkpointId);
    } finally {
      await run.close();
    }
  });

  it('the defaults (β 10 at the hand-over): the policy keeps its warm-up success and the watch stays silent', async () => {
    const run = await handOver('defaults', {});
    try {
      const end = run.evaluate();
      console.log(`# warm-up policy ${100 * run.warmup} %, after the hand-over ${100 * end} %`);
      assert.deepEqual(
        run.alerts.map((a) => a.evidence),
        [],
      );
      assert.ok(end >= run.warmup - 0.1, `${end} after, ${run.warmup} before`);
      // The learning curves are stored beside the learner's metrics, at learner steps.
      const series = (name: string) =>
        run.store.readMetrics(run.session.runId, name).map((m) => m.value);
      // One point per episode the policy drove (sampled actions: their success is their own).
      const alone = series('alone_success');
      assert.ok(alone.length >= 10, `${alone.length} points of alone_success`);
      assert.ok(alone.every((v) => v >= 0 && v <= 100));
      assert.deepEqual(series('eval_success'), [100 * run.warmup, 100 * end]);
      assert.ok(
        series('intervention_rate').every((v) => v === 0),
        'nobody intervened',
      );
    } finally {
      await run.close();
    }
  });

  it('rollback before any hand-over says there is nothing to roll back to', async () => {
    const store = Store.open(join(tmp.dir, 'none.db'));
    const session = await Session.open(store, {
      task: { task: 'probe', options: {} },
      operator: 'scripted',
      learner: { hidden: [16] },
    });
    try {
      await assert.rejects(session.rollback(), /has not handed over from BC-warmup to autonomous/);
    } finally {
      await session.close();
      store.close();
    }
  });
});
