import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LearnerConfig } from '../../src/learner/config.ts';
import { LearnerLink, packTransitions } from '../../src/learner/link.ts';
import { PolicyRunner } from '../../src/learner/policy.ts';
import { LEARNER_PRESETS } from '../../src/learner/presets.ts';
import { createRobot } from '../../src/robots/index.ts';
import { Recorder, Store } from '../../src/store/index.ts';
import { ControlLoop, type LoopStats } from '../../src/studio/control-loop.ts';
import { Random } from '../../src/util/random.ts';
import { type BenchResult, figure, median } from './harness.ts';

const RATES = [10, 50] as const;

interface Sample {
  stats: LoopStats;
  /** Inference time of the policy at batch 1 (ms), p99 over the ticks. */
  inferP99: number;
  /** Publication → swapped in at a tick start (ms), median over swaps. */
  swapMs: number;
  /** Publication → arrived on the control thread (ms), median. */
  deliverMs: number;
  swaps: number;
  learnerSteps: number;
  backlogMax: number;
}

/**
 * One control session of `seconds` on the real panda-lift sim: each tick swaps in staged policy
 * weights, runs the policy, steps the sim, records the step to SQLite and sends the transition to
 * the learner, which (when `learning`) trains flat out in its worker, publishing every 10 steps.
 */
async function session(rateHz: number, learning: boolean, seconds: number): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-loop-'));
  const store = Store.open(join(dir, 'loop.db'));
  const robot = await createRobot({ task: 'sim/panda-lift', options: {} });
  const obsDim = robot.spec.observation.names.length;
  const actionDim = robot.spec.action.names.length;
  // One learner thread: the studio's live setting, which leaves the other core to the loop.
  const config = LearnerConfig.parse({ ...LEARNER_PRESETS['sim/panda-lift'], seed: 1, threads: 1 });
  const policy = new PolicyRunner(obsDim, actionDim, [config.logStdMin, config.logStdMax]);
  const arrived: number[] = [];
  const link = await LearnerLink.start({
    obsDim,
    actionDim,
    config: { ...config },
    onWeights: (w) => {
      arrived.push(performance.timeOrigin + performance.now() - (w.publishedAt ?? Number.NaN));
      policy.stage(w);
    },
  });
  const recorder = new Recorder(store);
  try {
    policy.load(await link.train(0));
    const rng = new Random(2);
    const rows = Array.from({ length: 2000 }, () => ({
      obs: Float32Array.from({ length: obsDim }, () => rng.uniform(-1, 1)),
      action: Float32Array.from({ length: actionDim }, () => rng.uniform(-1, 1)),
      reward: 0,
      nextObs: Float32Array.from({ length: obsDim }, () => rng.uniform(-1, 1)),
      done: false,
    }));
    link.add('demo', packTransitions(rows, obsDim, actionDim));
    const runId = store.createRun({
      command: 'bench',
      task: robot.spec.task,
      config: { command: 'bench', task: { task: 'sim/panda-lift' } },
      spec: robot.spec,
    });
    if (learning) link.run({ publishEverySteps: 10 });
    await new Promise((r) => setTimeout(r, 3000)); // start-up settled, the learner up to speed
    const startSteps = learning ? await probeSteps(link) : 0;
    const infer: number[] = [];
    const swaps: number[] = [];
    let backlogMax = 0;
    let seed = 0;
    let obs = robot.reset(seed);
    let episode = recorder.beginEpisode({
      runId,
      task: robot.spec.task,
      kind: 'train',
      seed,
      obsDim,
      actionDim,
    });
    let index = 0;
    const loop = new ControlLoop({
      rateHz,
      tick: (info) => {
        const swapped = policy.swap();
        if (swapped?.publishedAt !== undefined)
          swaps.push(performance.timeOrigin + info.startedAt - swapped.publishedAt);
        const t0 = performance.now();
        const action = policy.act(obs, rng);
        infer.push(performance.now() - t0);
        const result = robot.step(action);
        recorder.record(episode, {
          index,
          t: index / rateHz,
          obs,
          action,
          proposed: action,
          reward: result.reward,
          done: result.done,
          truncated: result.truncated,
          source: 'policy',
          intervened: false,
          policyVersion: policy.version,
        });
        link.add(
          'online',
          packTransitions(
            [{ obs, action, reward: result.reward, nextObs: result.obs, done: result.done }],
            obsDim,
            actionDim,
          ),
        );
        backlogMax = Math.max(backlogMax, link.backlog);
        index++;
        obs = result.obs;
        if (result.done || result.truncated) {
          recorder.endEpisode(episode, { outcome: 'timeout', finalObs: obs });
          obs = robot.reset(++seed);
          episode = recorder.beginEpisode({
            runId,
            task: robot.spec.task,
            kind: 'train',
            seed,
            obsDim,
            actionDim,
          });
          index = 0;
        }
      },
    });
    loop.start();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await loop.stop();
    const endSteps = learning ? await link.pause() : 0;
    const sorted = [...infer].sort((a, b) => a - b);
    return {
      stats: loop.stats(),
      inferP99: sorted[Math.floor(0.99 * (sorted.length - 1))]!,
      swapMs: swaps.length ? median(swaps) : Number.NaN,
      deliverMs: arrived.length ? median(arrived) : Number.NaN,
      swaps: swaps.length,
      learnerSteps: endSteps - startSteps,
      backlogMax,
    };
  } finally {
    recorder.close();
    await link.close();
    robot.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The learner step now, by pausing and resuming (free-running). */
async function probeSteps(link: LearnerLink): Promise<number> {
  const steps = await link.pause();
  link.run({ publishEverySteps: 10 });
  return steps;
}

export async function benchLoop({ quick = false } = {}): Promise<BenchResult> {
  const SECONDS = quick ? 3 : 15;
  const REPEATS = quick ? 1 : 3;
  const figures = [];
  const comparisons = [];
  const notes: string[] = [];
  for (const rateHz of RATES) {
    const busy: Sample[] = [];
    const idle: Sample[] = [];
    for (let r = 0; r < REPEATS; r++) {
      // Side by side: learner idle, then flat out, alternating.
      idle.push(await session(rateHz, false, SECONDS));
      busy.push(await session(rateHz, true, SECONDS));
      const b = busy.at(-1)!;
      console.log(
        `  ${rateHz} Hz, repeat ${r + 1}/${REPEATS}: period error p99 ${b.stats.periodError.p99.toFixed(2)} ms learning, ${idle.at(-1)!.stats.periodError.p99.toFixed(2)} ms idle; ${(b.learnerSteps / SECONDS).toFixed(1)} learner steps/s; ${b.swaps} swaps`,
      );
    }
    const p99 = (s: Sample[]) => s.map((x) => x.stats.periodError.p99);
    figures.push(
      figure(`${rateHz} Hz: control period error p99, learner flat out`, 'ms', p99(busy), 2, true),
      figure(`${rateHz} Hz: control period error p99, learner idle`, 'ms', p99(idle)),
      figure(
        `${rateHz} Hz: tick start lateness p99, learner flat out`,
        'ms',
        busy.map((x) => x.stats.lateness.p99),
      ),
      figure(
        `${rateHz} Hz: tick work (policy, sim, record, send) p99, learner flat out`,
        'ms',
        busy.map((x) => x.stats.work.p99),
      ),
      figure(
        `${rateHz} Hz: policy inference p99 (batch 1, plain TS)`,
        'ms',
        busy.map((x) => x.inferP99),
      ),
      figure(
        `${rateHz} Hz: weight swap latency, published → in use at a tick (median)`,
        'ms',
        busy.map((x) => x.swapMs),
      ),
      figure(
        `${rateHz} Hz: weight delivery, published → on the control thread (median)`,
        'ms',
        busy.map((x) => x.deliverMs),
      ),
      figure(
        `${rateHz} Hz: learner steps/s while the loop runs`,
        'steps/s',
        busy.map((x) => x.learnerSteps / SECONDS),
      ),
    );
    comparisons.push({
      name: `${rateHz} Hz period error p99, learner flat out / idle`,
      ratio: median(p99(busy)) / median(p99(idle)),
    });
    const missed = busy.reduce((n, x) => n + x.stats.missed, 0);
    const backlog = Math.max(...busy.map((x) => x.backlogMax));
    notes.push(
      `${rateHz} Hz: ${missed} missed deadlines over ${REPEATS} × ${SECONDS} s with the learner flat out; largest transition backlog ${backlog}`,
    );
  }
  notes.push(
    `each tick: swap in staged weights, PolicyRunner.act (sampled), sim/panda-lift step (real MuJoCo), Recorder.record into a real SQLite file, transition to the learner worker; the learner is the panda-lift preset (E=10, 256×256, one thread: the live setting) free-running on 2,000 demo transitions plus the online ones, publishing every 10 steps; ${REPEATS} repeats of ${SECONDS} s per setting, learner idle and flat out alternating`,
  );
  return { title: 'loop: control loop timing under learner load', figures, comparisons, notes };
}
