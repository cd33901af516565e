import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionStatus } from '../../src/protocol/index.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { Random } from '../../src/util/random.ts';
import { type BenchResult, figure, median } from './harness.ts';

const RATES = [10, 50] as const;
const OBS_DIM = 24;
const ACTION_DIM = 4;

interface Sample {
  status: SessionStatus;
  learnerStepsPerS: number;
  paused?: PausedSample;
}

/** The same session after the operator paused it (the learner bounded: no new data). */
interface PausedSample {
  /** Process CPU time (every thread: loop, learner worker, SQLite) over wall time. */
  cpuShare: number;
  /** Learner steps taken while paused, once settled (the bound: none). */
  steps: number;
  /** Learner steps from the pause command until it went idle (≤ the bound + 1, by design). */
  drainSteps: number;
  /** Seconds from the pause command until the learner went idle. */
  drainSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pauses the studio from the UI, waits until the learner has spent its credit (the policy
 * version holds still for 2.5 s: weights are published at most 1 s after the last step), then
 * measures the process's CPU over `seconds` of the paused studio.
 */
async function measurePaused(s: Session, seconds: number): Promise<PausedSample> {
  const pausedAt = performance.now();
  const fromVersion = s.status().policyVersion;
  s.command({ type: 'set-mode', mode: 'paused', origin: 'ui' });
  let version = fromVersion;
  let stillSince = performance.now();
  while (performance.now() - stillSince < 2500) {
    if (performance.now() - pausedAt > 120_000) throw new Error('the learner never went idle');
    await sleep(250);
    const v = s.status().policyVersion;
    if (v !== version) [version, stillSince] = [v, performance.now()];
  }
  const drainSeconds = (stillSince - pausedAt) / 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  await s.stopLive(); // its pause answer carries the learner's exact step
  return {
    cpuShare: (cpu.user + cpu.system) / 1000 / wallMs,
    steps: s.status().learner.steps - version,
    drainSteps: version - fromVersion,
    drainSeconds,
  };
}

/** Random transitions for the demo buffer, so the learner has data from the first tick. */
function demoRows(n: number) {
  const rng = new Random(2);
  const vec = (k: number) => Float32Array.from({ length: k }, () => rng.uniform(-1, 1));
  return Array.from({ length: n }, () => ({
    obs: vec(OBS_DIM),
    action: vec(ACTION_DIM),
    reward: 0,
    nextObs: vec(OBS_DIM),
    done: false,
  }));
}

/**
 * `seconds` of the studio's live session on the real panda-lift sim at `rateHz`: the policy drives
 * (autonomous), every tick goes through the safety layer, is recorded to SQLite and sent to the
 * learner, which (`learning`) trains flat out in its worker with the panda-lift preset on one
 * thread (the live setting; the default bound of 20 learner steps per online transition is above
 * its pace) and publishes every 10 steps. Then, with `pausedSeconds`, the operator pauses it.
 */
async function session(
  rateHz: number,
  learning: boolean,
  seconds: number,
  realtime: 'auto' | 'off',
  pausedSeconds = 0,
): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-loop-'));
  const store = Store.open(join(dir, 'loop.db'));
  const s = await Session.open(
    store,
    {
      task: { task: 'sim/panda-lift', options: {} },
      rateHz,
      learner: { threads: 1, seed: 1 },
      publishEverySteps: 10,
      autoResetMs: 0,
      realtime,
    },
    { demos: demoRows(2000) },
  );
  try {
    // Weights first (10 lock-stepped learner steps while paused), so the policy drives from the
    // first tick in both settings; then the policy drives.
    await s.runHeadless({ ticks: 1, learnerStepsPerTick: 10 });
    s.command({ type: 'set-mode', mode: 'autonomous', origin: 'scripted' });
    s.startLive({ train: learning });
    await new Promise((r) => setTimeout(r, 2000)); // start-up settled, the learner up to speed
    const from = s.status();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const status = s.status();
    const paused = pausedSeconds > 0 ? await measurePaused(s, pausedSeconds) : undefined;
    if (!paused) await s.stopLive(); // else measurePaused stopped it
    return {
      status,
      learnerStepsPerS: (status.learner.steps - from.learner.steps) / seconds,
      ...(paused ? { paused } : {}),
    };
  } finally {
    await s.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchLoop({ quick = false } = {}): Promise<BenchResult> {
  const seconds = quick ? 3 : 15;
  const pausedSeconds = quick ? 3 : 10;
  const repeats = quick ? 1 : 3;
  const figures = [];
  const comparisons = [];
  const notes: string[] = [];
  let scheduling = '';
  for (const rateHz of RATES) {
    const busy: Sample[] = [];
    const normal: Sample[] = [];
    const idle: Sample[] = [];
    for (let r = 0; r < repeats; r++) {
      // Side by side, alternating: learner idle, learner flat out (the control thread real-time
      // where the system allows it, the default), learner flat out with the normal scheduler.
      idle.push(await session(rateHz, false, seconds, 'auto', pausedSeconds));
      busy.push(await session(rateHz, true, seconds, 'auto', pausedSeconds));
      normal.push(await session(rateHz, true, seconds, 'off'));
      const b = busy.at(-1)!;
      scheduling = b.status.loop.scheduling;
      const p = b.paused!;
      console.log(
        `  ${rateHz} Hz, repeat ${r + 1}/${repeats}: period error p99 ${b.status.loop.periodErrorP99.toFixed(2)} ms learning (${scheduling}), ${normal.at(-1)!.status.loop.periodErrorP99.toFixed(2)} ms learning (normal scheduler), ${idle.at(-1)!.status.loop.periodErrorP99.toFixed(2)} ms idle; ${b.learnerStepsPerS.toFixed(1)} learner steps/s, ${b.status.learner.updateToData.toFixed(2)} per online transition; paused: ${(p.cpuShare * 100).toFixed(1)}% of a core, ${p.steps} learner steps (${p.drainSteps} steps in ${p.drainSeconds.toFixed(1)} s before going idle)`,
      );
    }
    const p99 = (s: Sample[]) => s.map((x) => x.status.loop.periodErrorP99);
    const of = (f: (l: SessionStatus['loop']) => number) => busy.map((x) => f(x.status.loop));
    figures.push(
      figure(`${rateHz} Hz: control period error p99, learner flat out`, 'ms', p99(busy), 2, true),
      figure(
        `${rateHz} Hz: control period error p99, learner flat out, normal scheduler`,
        'ms',
        p99(normal),
      ),
      figure(`${rateHz} Hz: control period error p99, learner idle`, 'ms', p99(idle)),
      figure(
        `${rateHz} Hz: tick start lateness p99, learner flat out`,
        'ms',
        of((l) => l.latenessP99),
      ),
      figure(
        `${rateHz} Hz: tick work (policy, safety, sim, record, send) p99, learner flat out`,
        'ms',
        of((l) => l.workP99),
      ),
      figure(
        `${rateHz} Hz: policy inference p99 (batch 1, plain TS)`,
        'ms',
        of((l) => l.inferenceP99),
      ),
      figure(
        `${rateHz} Hz: weight swap latency, published → in use at a tick (median)`,
        'ms',
        of((l) => l.swapLatencyP50),
      ),
      figure(
        `${rateHz} Hz: learner steps/s while the loop runs`,
        'steps/s',
        busy.map((x) => x.learnerStepsPerS),
      ),
      figure(
        `${rateHz} Hz: learner steps/s while the loop runs, normal scheduler`,
        'steps/s',
        normal.map((x) => x.learnerStepsPerS),
      ),
      figure(
        `${rateHz} Hz: ticks that wrote to SQLite (every write is queued for the slack after a tick)`,
        'ticks',
        busy.map((x) => x.status.loop.writesInTicks),
        0,
        true,
      ),
      figure(
        `${rateHz} Hz: learner steps per online transition (effective UTD; bound 20)`,
        'steps',
        busy.map((x) => x.status.learner.updateToData),
      ),
      figure(
        `${rateHz} Hz: paused studio, process CPU (all threads) / wall time`,
        '% of a core',
        busy.map((x) => x.paused!.cpuShare * 100),
        5,
        true,
      ),
      figure(
        `${rateHz} Hz: paused studio, learner never started (the loop alone): process CPU / wall time`,
        '% of a core',
        idle.map((x) => x.paused!.cpuShare * 100),
      ),
      figure(
        `${rateHz} Hz: paused studio, learner steps over ${pausedSeconds} s once settled`,
        'steps',
        busy.map((x) => x.paused!.steps),
        0,
        true,
      ),
      figure(
        `${rateHz} Hz: paused studio, learner steps from the pause until idle (credit spent)`,
        'steps',
        busy.map((x) => x.paused!.drainSteps),
      ),
    );
    comparisons.push(
      {
        name: `${rateHz} Hz period error p99, learner flat out: normal scheduler / real-time`,
        ratio: median(p99(normal)) / median(p99(busy)),
      },
      {
        name: `${rateHz} Hz period error p99: learner flat out / idle`,
        ratio: median(p99(busy)) / median(p99(idle)),
      },
    );
    const missed = busy.reduce((n, x) => n + x.status.loop.missed, 0);
    const backlog = Math.max(...busy.map((x) => x.status.learner.backlog));
    notes.push(
      `${rateHz} Hz: ${missed} missed deadlines over ${repeats} × ${seconds} s with the learner flat out; transition backlog at the end ≤ ${backlog}`,
    );
  }
  notes.push(
    `control thread scheduling (the default, realtime: auto): ${scheduling}`,
    `the studio's live Session (what tandem serve runs), autonomous on sim/panda-lift: each tick swaps in staged weights, runs the policy (PolicyRunner, sampled), the safety layer, a real MuJoCo step, Recorder.record into a real SQLite file and sends the transition to the worker; the learner is the panda-lift preset (E=10, 256×256) on one thread, free-running on 2,000 demo transitions plus the online ones, publishing every 10 steps; ${repeats} repeats of ${seconds} s per setting, the three settings alternating; the timer wakes the loop 2 ms early and it spins to the deadline`,
    `paused studio: after its ${seconds} s flat out, the learning session (real-time where allowed) is paused from the UI (set-mode paused); once the policy version has held still for 2.5 s (the learner spent its credit: at most 20 learner steps per online transition, credit unspent by the next transition lapsing, so at most about 20 steps after the last transition), process.cpuUsage() over ${pausedSeconds} s of wall time (user + system, every thread of the process: the control loop still ticking at the rate, the learner worker, SQLite); its learner steps are those the worker reports at stopLive minus the settled policy version; the same is measured on the learner-idle session (its worker never runs) for the loop's own share: the control loop keeps ticking while paused, without spinning before deadlines (nothing moves)`,
  );
  return { title: 'loop: control loop timing under learner load', figures, comparisons, notes };
}
