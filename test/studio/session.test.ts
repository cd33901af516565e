import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StudioEvent } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { tempDir } from '../cli/helpers.ts';

// A small learner so that the lock-stepped run fits a CI budget.
const LEARNER = { ensembleSize: 2, hidden: [64, 64], batchSize: 64 };

describe('studio session, headless, with the scripted corrective operator', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'session.db');
  let store: Store;
  let session: Session;
  const events: StudioEvent[] = [];

  before(async () => {
    store = Store.open(db);
    session = await Session.open(store, {
      task: { task: 'sim/panda-lift', options: {} },
      operator: 'scripted',
      learner: LEARNER,
      autoResetMs: 0,
      seed: 5,
    });
    session.on((e) => {
      if (e.event !== 'telemetry') events.push(e);
    });
  });
  after(async () => {
    await session.close();
    store.close();
    tmp.cleanup();
  });

  it('paused: nothing moves and nothing is recorded', async () => {
    await session.runHeadless({ ticks: 5, learnerStepsPerTick: 1 });
    assert.equal(session.modes.mode, 'paused');
    assert.equal(store.countEpisodes({ runId: session.runId }), 0);
  });

  it('BC-warmup: the expert drives demo episodes; the policy starts proposing', async () => {
    assert.ok(session.command({ type: 'set-mode', mode: 'bc-warmup', origin: 'ui' }).ok);
    await session.runHeadless({ ticks: 250, learnerStepsPerTick: 1 });
    const status = session.status();
    assert.ok(status.episodes.success >= 2, `expert successes: ${status.episodes.success}`);
    assert.ok(status.policyVersion > 0);
  });

  it('autonomous with interventions: the expert takes over a straying policy and hands back', async () => {
    assert.ok(session.command({ type: 'set-mode', mode: 'autonomous', origin: 'keyboard' }).ok);
    await session.runHeadless({ ticks: 400, learnerStepsPerTick: 1 });
    session.flush();
    const s = session.status();
    assert.ok(s.interventions.count >= 2, `${s.interventions.count} interventions`);
    assert.ok(s.interventions.steps > 0 && s.interventions.steps < 400);
  });

  it('recorded steps carry source, intervened, proposal and policy version', () => {
    const episodes = store.listEpisodes({ runId: session.runId, order: 'oldest', limit: 1000 });
    const demos = episodes.filter((e) => e.kind === 'demo');
    const train = episodes.filter((e) => e.kind === 'train');
    assert.ok(demos.length >= 2 && train.length >= 2);
    for (const e of demos) {
      for (const step of store.readSteps(e.id)) {
        assert.equal(step.source, 'scripted');
        assert.equal(step.intervened, false);
      }
    }
    const steps = train.flatMap((e) => store.readSteps(e.id));
    const byPolicy = steps.filter((s) => s.source === 'policy');
    const corrected = steps.filter((s) => s.intervened);
    assert.ok(byPolicy.length > 0 && corrected.length > 0);
    assert.ok(byPolicy.every((s) => !s.intervened));
    assert.ok(corrected.every((s) => s.source === 'scripted'));
    // The proposal is stored on every step once the policy has weights, also while corrected…
    assert.ok(steps.every((s) => s.proposed !== null && s.policyVersion > 0));
    // …and it is what the policy wanted, not what was executed, while the expert drove.
    assert.ok(corrected.some((s) => s.proposed!.some((p, i) => Math.abs(p - s.action[i]!) > 0.1)));
    // Policy-driven steps execute the proposal (within the safety layer's clamps).
    assert.ok(
      byPolicy.filter((s) => s.proposed!.every((p, i) => Math.abs(p - s.action[i]!) < 1e-6))
        .length >
        0.5 * byPolicy.length,
    );
    const versions = [...demos, ...train].flatMap((e) =>
      store.readSteps(e.id).map((s) => s.policyVersion),
    );
    assert.ok(
      versions.every((v, i) => i === 0 || v >= versions[i - 1]!),
      'versions never go back',
    );
    assert.ok(
      versions.at(-1)! > versions.find((v) => v > 0)! + 300,
      'the policy version increases',
    );
  });

  it("operator-driven transitions reach the learner's demo buffer", () => {
    const driven = store
      .listEpisodes({ runId: session.runId, limit: 1000 })
      .flatMap((e) => store.readSteps(e.id))
      .filter((s) => s.source !== 'policy').length;
    const demoSize = store.readMetrics(session.runId, 'demo_size').at(-1)?.value;
    const s = session.status();
    assert.equal(s.learner.demo, driven);
    // The worker's own count, reported with its last metrics (every 50 learner steps).
    assert.ok(demoSize !== undefined && demoSize <= driven && demoSize >= driven - 60);
  });

  it('mode transitions are stored with their cause and origin', () => {
    const transitions = store
      .listEvents(session.runId)
      .filter((e) => e.kind === 'mode.transition')
      .map((e) => e.payload as { from: string; to: string; cause: string; origin: string });
    assert.deepEqual(
      transitions.slice(0, 2).map(({ from, to, cause, origin }) => ({ from, to, cause, origin })),
      [
        { from: 'paused', to: 'bc-warmup', cause: 'set-mode', origin: 'ui' },
        { from: 'bc-warmup', to: 'autonomous', cause: 'set-mode', origin: 'keyboard' },
      ],
    );
    assert.ok(
      transitions.some((t) => t.to === 'intervention' && t.origin === 'scripted'),
      'scripted interventions are recorded',
    );
    assert.ok(events.some((e) => e.event === 'mode'));
    assert.ok(events.some((e) => e.event === 'policy'));
  });
});
