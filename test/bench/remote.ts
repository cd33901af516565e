// The remote learner (tandem learner serve) with real processes on loopback: how many transitions
// one learner takes in from N actors, how long its weights take to be in use at a paced actor's
// tick (loopback and 50 ms RTT), and the panda-lift run local vs remote, side by side.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteLearner } from '../../src/learner/remote/client.ts';
import type { Transition } from '../../src/protocol/index.ts';
import { Random } from '../../src/util/random.ts';
import { delayRelay } from '../remote/netns.ts';
import { killAll, spawnTandem, type Tandem } from '../remote/procs.ts';
import { type BenchResult, figure, median, runTandem } from './harness.ts';
import { trainLift } from './lift.ts';

const LIFT_OBS = 24;
const LIFT_ACT = 4;

async function serveLearner(
  home: string,
  db: string,
  args: string[],
): Promise<{ p: Tandem; url: string }> {
  const p = spawnTandem(['learner', 'serve', '--port', '0', '--db', db, ...args], home);
  const m = await p.waitFor(/^listening on (grpc:\/\/127\.0\.0\.1:\d+)$/, 120_000);
  return { p, url: m[1]! };
}

async function stop(p: Tandem): Promise<void> {
  p.proc.kill('SIGTERM');
  await p.exited;
}

function rows(n: number, seed: number): Transition[] {
  const rng = new Random(seed);
  const vec = (k: number) => Float32Array.from({ length: k }, () => rng.uniform(-1, 1));
  return Array.from({ length: n }, () => ({
    obs: vec(LIFT_OBS),
    action: vec(LIFT_ACT),
    proposed: null,
    reward: rng.uniform(-1, 0),
    nextObs: vec(LIFT_OBS),
    done: false,
    truncated: false,
    source: 'policy' as const,
    intervened: false,
    policyVersion: 0,
  }));
}

/** N actors (RemoteLearners in this process) each send `per` transitions at once: rows stored / s. */
async function ingest(url: string, n: number, per: number, tag: string): Promise<number> {
  const links = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      RemoteLearner.connect({
        url,
        actor: `${tag}-${i}`,
        task: 'sim/panda-lift',
        obsDim: LIFT_OBS,
        actionDim: LIFT_ACT,
      }),
    ),
  );
  const data = links.map((_, i) => rows(per, i + 1));
  const t0 = performance.now();
  links.forEach((l, i) => l.feed(data[i]!));
  const done = await Promise.all(links.map((l) => l.flush(120_000)));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(links.map((l) => l.close()));
  if (done.some((d) => !d)) throw new Error(`${n} actors: not every row was stored within 120 s`);
  return (n * per) / seconds;
}

/** A paced actor (20 Hz, probe) for `seconds`: weights published → in use at its tick, p50 and p99. */
async function swapLatency(home: string, url: string, id: string, seconds: number) {
  const a = spawnTandem(
    [
      'actor',
      '--learner',
      url,
      '--task',
      'probe',
      '--id',
      id,
      '--rate',
      '20',
      '--env-steps',
      String(seconds * 20),
      '--db',
      join(home, `${id}.db`),
    ],
    home,
  );
  const code = await a.exited;
  if (code !== 0) throw new Error(`actor ${id} exited with ${code}: ${a.output().slice(-500)}`);
  const last = a.progress().at(-1);
  if (!last?.swapP50) throw new Error(`actor ${id}: no weight swaps`);
  const periods = a
    .progress()
    .flatMap((p) => (p.periodErrorP99 === undefined ? [] : [p.periodErrorP99]));
  return { p50: last.swapP50, p99: last.swapP99!, periodP99: Math.max(...periods) };
}

/** Learner + actors on panda-lift from the demos until an evaluation reaches 80 %: wall seconds. */
async function liftRemote(
  home: string,
  demos: string,
  actors: number,
  tag: string,
): Promise<{ wall: number; evals: string[] }> {
  const started = Date.now();
  const { p, url } = await serveLearner(home, join(home, `lift-${tag}.db`), [
    '--task',
    'sim/panda-lift',
    '--set',
    'actorLoss=sac+bc',
  ]);
  const others: Tandem[] = [];
  let first: Tandem | undefined;
  try {
    for (let i = 2; i <= actors; i++) {
      others.push(
        spawnTandem(
          [
            'actor',
            '--learner',
            url,
            '--task',
            'sim/panda-lift',
            '--id',
            `${tag}-${i}`,
            '--seed',
            String(7 * i),
            '--env-steps',
            '20000',
            '--db',
            join(home, `${tag}-${i}.db`),
          ],
          home,
        ),
      );
    }
    first = spawnTandem(
      [
        'actor',
        '--learner',
        url,
        '--task',
        'sim/panda-lift',
        '--id',
        `${tag}-1`,
        '--demos',
        demos,
        '--eval-every',
        '1000',
        '--eval-episodes',
        '20',
        '--stop-at',
        '0.8',
        '--env-steps',
        '12000',
        '--db',
        join(home, `${tag}-1.db`),
      ],
      home,
    );
    let reachedAt = Infinity;
    void first.waitFor(/^eval at .*success (8\d|9\d|100)%/, 900_000).then(
      () => (reachedAt = Date.now()),
      () => undefined,
    );
    await first.exited;
    await new Promise((r) => setTimeout(r, 100));
    const evals = first.lines.filter((l) => l.startsWith('eval at '));
    evals.forEach((e) => console.log(`    ${tag}: ${e}`));
    return { wall: (reachedAt - started) / 1000, evals };
  } finally {
    others.forEach((o) => o.proc.kill('SIGTERM'));
    await Promise.all(others.map((o) => o.exited));
    await stop(p);
    killAll(first, ...others);
  }
}

export async function benchRemote({ quick = false } = {}): Promise<BenchResult> {
  const home = mkdtempSync(join(tmpdir(), 'tandem-bench-remote-'));
  const figures = [];
  const comparisons = [];
  const notes: string[] = [];
  try {
    // 1. Ingest from N actors, the learner training meanwhile (preset, 10 critics, flat out).
    const per = quick ? 2000 : 20_000;
    const repeats = quick ? 1 : 3;
    const { p: learner, url } = await serveLearner(home, join(home, 'ingest.db'), [
      '--task',
      'sim/panda-lift',
    ]);
    const rates: Record<number, number[]> = { 1: [], 2: [], 4: [] };
    try {
      for (let r = 0; r < repeats; r++) {
        for (const n of [1, 2, 4]) {
          const rate = await ingest(url, n, per, `r${r}n${n}`);
          rates[n]!.push(rate);
          console.log(
            `  ingest, repeat ${r + 1}/${repeats}: ${n} actor(s) × ${per} rows: ${rate.toFixed(0)} rows/s`,
          );
        }
      }
    } finally {
      await stop(learner);
    }
    for (const n of [1, 2, 4]) {
      figures.push(
        figure(
          `transitions stored/s from ${n} actor(s) (panda-lift rows, learner training)`,
          'rows/s',
          rates[n]!,
        ),
      );
    }
    // 2. Weights published → in use at a paced actor's tick: loopback and 50 ms RTT.
    const seconds = quick ? 4 : 12;
    const { p: probe, url: probeUrl } = await serveLearner(home, join(home, 'swap.db'), [
      '--task',
      'probe',
      '--set',
      'hidden=[64,64]',
    ]);
    const direct: Awaited<ReturnType<typeof swapLatency>>[] = [];
    const far: typeof direct = [];
    try {
      const port = Number(/:(\d+)$/.exec(probeUrl)![1]);
      const relay = await delayRelay({ host: '127.0.0.1', port }, 25);
      try {
        for (let r = 0; r < repeats; r++) {
          direct.push(await swapLatency(home, probeUrl, `loop-${r}`, seconds));
          far.push(await swapLatency(home, `grpc://127.0.0.1:${relay.port}`, `far-${r}`, seconds));
          console.log(
            `  swap, repeat ${r + 1}/${repeats}: loopback p50 ${direct.at(-1)!.p50.toFixed(1)} ms, 50 ms RTT p50 ${far.at(-1)!.p50.toFixed(1)} ms`,
          );
        }
      } finally {
        await relay.close();
      }
    } finally {
      await stop(probe);
    }
    figures.push(
      figure(
        'weights published → in use at an actor tick (20 Hz), loopback, p50',
        'ms',
        direct.map((d) => d.p50),
      ),
      figure(
        'weights published → in use at an actor tick (20 Hz), loopback, p99',
        'ms',
        direct.map((d) => d.p99),
      ),
      figure(
        'weights published → in use at an actor tick (20 Hz), 50 ms RTT, p50',
        'ms',
        far.map((d) => d.p50),
      ),
      figure(
        'weights published → in use at an actor tick (20 Hz), 50 ms RTT, p99',
        'ms',
        far.map((d) => d.p99),
      ),
      figure(
        'actor control period error p99 (20 Hz), loopback',
        'ms',
        direct.map((d) => d.periodP99),
        2,
        true,
      ),
      figure(
        'actor control period error p99 (20 Hz), 50 ms RTT',
        'ms',
        far.map((d) => d.periodP99),
        2,
        true,
      ),
    );
    comparisons.push({
      name: 'weights published → in use, p50: 50 ms RTT / loopback',
      ratio: median(far.map((d) => d.p50)) / median(direct.map((d) => d.p50)),
    });
    // 3. The lift run local vs remote (loopback), side by side.
    if (!quick) {
      const demos = join(home, 'demos.db');
      await runTandem(
        ['record', '--task', 'sim/panda-lift', '--episodes', '20', '--seed', '0', '--db', demos],
        home,
      );
      const local = await trainLift(
        { label: 'local (tandem train, native, utd 1)', backend: 'native', utd: 1 },
        home,
        demos,
        {
          envSteps: 12_000,
          evalEvery: 1000,
          evalEpisodes: 20,
          target: 0.8,
        },
      );
      const one = await liftRemote(home, demos, 1, 'one');
      const two = await liftRemote(home, demos, 2, 'two');
      figures.push(
        figure('panda-lift to ≥ 80 % (20 demos), local tandem train: wall', 's', [local.wall]),
        figure('panda-lift to ≥ 80 %, remote learner + 1 actor (loopback): wall', 's', [one.wall]),
        figure('panda-lift to ≥ 80 %, remote learner + 2 actors (loopback): wall', 's', [two.wall]),
      );
      comparisons.push(
        { name: 'lift wall to 80 %: local / remote with 1 actor', ratio: local.wall / one.wall },
        { name: 'lift wall to 80 %: local / remote with 2 actors', ratio: local.wall / two.wall },
      );
      notes.push(
        `lift: evaluations every 1,000 env steps of the evaluating actor (20 episodes, mean action), stop at the first ≥ 80 %; wall from the learner's (or tandem train's) start, start-up and evaluations included; one run each (each takes minutes); local evaluations at ${local.evals.map((e) => `${e.envSteps}: ${e.successes}/${e.episodes}`).join(', ')}; remote 1 actor: ${one.evals.join('; ')}; 2 actors: ${two.evals.join('; ')}`,
      );
    }
    notes.push(
      `ingest: N RemoteLearner clients in the bench process (one gRPC channel each), ${per} panda-lift rows each fed at once, timed until the learner (a child process, the preset learner training flat out on 2 threads meanwhile) has stored every one in its SQLite log; ${repeats} repeats, N = 1, 2, 4 interleaved`,
      `swap latency: \`tandem actor --rate 20 --task probe\` for ${seconds} s against a probe learner; published (the learner's clock) → swapped in at the actor's next tick, so up to one period (50 ms) of it is the tick's; 50 ms RTT: a TCP relay in the bench process holding every chunk 25 ms each way (this kernel has no sch_netem for tc netem)`,
    );
    return { title: 'remote: learner over gRPC', figures, comparisons, notes };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
