// The learner's speed: critic and full SAC updates per second for ensembles of 2 and 10 where the
// learner trains by default (native when the addon is built, else the tfjs backend chosen), side
// by side with the same workload in PyTorch (test/bench/sac_peer.py, run as docs/SETUP.md
// prescribes), with the matrix products' GFLOP/s against the machine's measured sgemm peak; and
// batch-1 policy latency in tfjs and in the plain-TS PolicyRunner.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chooseBackend, describeBackend } from '../../src/learner/backend.ts';
import type { ReplayBuffer } from '../../src/learner/buffer.ts';
import { LearnerConfig } from '../../src/learner/config.ts';
import { loadNativeLearner } from '../../src/learner/native-addon.ts';
import type { PolicyWeights } from '../../src/learner/messages.ts';
import { PolicyRunner } from '../../src/learner/policy.ts';
import { Sac } from '../../src/learner/sac.ts';
import { actorWeights } from '../../src/learner/weights.ts';
import { Random } from '../../src/util/random.ts';
import { type BenchResult, type Figure, figure, median } from './harness.ts';

const OBS_DIM = 24; // panda-lift's state observation
const ACTION_DIM = 4;
const BATCH = 256;
const HIDDEN = [256, 256];
const ENSEMBLES = [2, 10] as const;
const MIN_SUBSET = 2;
const ONLINE_SIZE = 100_000; // both buffers full (the peer uses the same sizes)
const DEMO_SIZE = 20_000;
const MODES = ['critic', 'full'] as const;
type Mode = (typeof MODES)[number];

const PEER_INSTALL = 'apt-get install -y python3-torch libopenblas0-openmp';
const OPENBLAS_OPENMP = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
const PEER_SCRIPT = fileURLToPath(new URL('./sac_peer.py', import.meta.url));

/** docs/SETUP.md: OpenMP OpenBLAS on 2 threads, core detection left alone; the peer only. */
function peerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LD_LIBRARY_PATH: OPENBLAS_OPENMP,
    OMP_NUM_THREADS: '2',
  };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

interface PeerHello {
  torch: string;
  threads: number;
  python: string;
  blas: string;
  corename: string;
}

/** The PyTorch peer as a child process answering one JSON line per request; idle between them. */
class Peer {
  readonly hello: PeerHello;
  readonly python: string;
  readonly #child: ReturnType<typeof spawn>;
  readonly #lines: AsyncIterator<string>;
  readonly #stderr: string[];

  private constructor(
    python: string,
    child: ReturnType<typeof spawn>,
    lines: AsyncIterator<string>,
    stderr: string[],
    hello: PeerHello,
  ) {
    this.python = python;
    this.#child = child;
    this.#lines = lines;
    this.#stderr = stderr;
    this.hello = hello;
  }

  /** Starts the peer, or says why it cannot run (and how to install what is missing). */
  static async start(): Promise<Peer | { missing: string }> {
    if (!existsSync(OPENBLAS_OPENMP))
      return { missing: `${OPENBLAS_OPENMP} not found (libopenblas0-openmp is not installed)` };
    const env = peerEnv();
    // The first interpreter that imports torch: Debian's python3-torch lives in /usr/bin/python3,
    // which another python3 earlier on PATH (pyenv, a venv) does not see.
    const tried: string[] = [];
    const python = ['python3', '/usr/bin/python3'].find((py) => {
      const probe = spawnSync(py, ['-c', 'import torch'], {
        env,
        encoding: 'utf8',
        timeout: 120e3,
      });
      const why = probe.error
        ? probe.error.message
        : (probe.stderr.trim().split('\n').at(-1) ?? `exit ${probe.status}`);
      if (probe.status !== 0) tried.push(`${py}: ${why}`);
      return probe.status === 0;
    });
    if (!python) return { missing: `no python3 imports torch (${tried.join('; ')})` };
    const child = spawn(python, [PEER_SCRIPT], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin!.on('error', () => undefined); // a dead peer shows as the end of its output
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) {
      await new Promise((resolve) => child.once('close', resolve));
      throw new Error(`the PyTorch peer exited at start: ${stderr.slice(-5).join(' | ')}`);
    }
    return new Peer(python, child, lines, stderr, JSON.parse(first.value) as PeerHello);
  }

  /** Updates per second of the peer's own timed loop (at least `seconds` long). */
  async measure(ensemble: number, mode: Mode, seconds: number): Promise<number> {
    this.#child.stdin!.write(`${JSON.stringify({ cmd: 'measure', ensemble, mode, seconds })}\n`);
    const line = await this.#lines.next();
    if (line.done)
      throw new Error(`the PyTorch peer exited: ${this.#stderr.slice(-5).join(' | ')}`);
    const answer = JSON.parse(line.value) as { rate?: number; error?: string };
    if (answer.rate === undefined) throw new Error(`the PyTorch peer: ${answer.error}`);
    return answer.rate;
  }

  get pid(): number | undefined {
    return this.#child.exitCode === null ? this.#child.pid : undefined;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const closed = new Promise((resolve) => this.#child.once('close', resolve));
    this.#child.stdin!.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
    await closed;
  }
}

/** Fills `buffer` with `count` random transitions of the bench's dims (shared by native-critic.ts). */
export function fill(buffer: ReplayBuffer, count: number, rng: Random): void {
  const obs = new Float32Array(OBS_DIM);
  const action = new Float32Array(ACTION_DIM);
  const nextObs = new Float32Array(OBS_DIM);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < OBS_DIM; j++) obs[j] = rng.uniform(-1, 1);
    for (let j = 0; j < OBS_DIM; j++) nextObs[j] = rng.uniform(-1, 1);
    for (let j = 0; j < ACTION_DIM; j++) action[j] = rng.uniform(-1, 1);
    buffer.add({ obs, action, reward: rng.uniform(0, 1), nextObs, done: rng.next() < 0.01 });
  }
}

/** A learner with full buffers; `critic` mode never reaches an actor update (actorEvery huge). */
function makeSac(ensembleSize: number, mode: Mode): Sac {
  const config = LearnerConfig.parse({
    hidden: HIDDEN,
    ensembleSize,
    minSubset: MIN_SUBSET,
    batchSize: BATCH,
    utd: 1,
    actorEvery: mode === 'full' ? 1 : 2 ** 31,
    onlineCapacity: ONLINE_SIZE,
    demoCapacity: DEMO_SIZE,
    seed: 1,
  });
  const sac = new Sac(OBS_DIM, ACTION_DIM, config);
  const rng = new Random(7);
  fill(sac.online, ONLINE_SIZE, rng);
  fill(sac.demo, DEMO_SIZE, rng);
  return sac;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Floating-point operations of one update (2 per multiply-add; matrix products only, which are
 * all but a few percent of them): `critic` is one critic step (the online critics' forward and
 * backward, the next action by the actor, the target subset's forward); `full` adds the actor
 * step (its forward and backward, every critic's forward and its backward to the action).
 */
export function updateFlops(ensembleSize: number, mode: Mode): number {
  const critic = [OBS_DIM + ACTION_DIM, ...HIDDEN, 1];
  const actor = [OBS_DIM, ...HIDDEN, 2 * ACTION_DIM];
  const macs = (dims: number[]) => dims.slice(1).map((out, i) => dims[i]! * out);
  const c = sum(macs(critic)); // one row through a critic
  const cBack = sum(macs(critic).slice(1)); // its gradient to the inputs, past the first layer
  const a = sum(macs(actor));
  const aBack = sum(macs(actor).slice(1));
  const n = BATCH;
  const E = ensembleSize;
  // Weights' and inputs' gradients: a forward's MACs each (the first layer's inputs need none).
  const criticStep = E * n * (2 * c + cBack) + MIN_SUBSET * n * c + n * a;
  const toAction = cBack + ACTION_DIM * HIDDEN[0]!; // dQ/da through a critic
  const actorStep = n * a + E * n * (c + toAction) + n * (a + aBack);
  return 2 * (mode === 'critic' ? criticStep : criticStep + actorStep);
}

/**
 * The machine's measured matrix-product peak on `threads` threads: the best GFLOP/s of the BLAS
 * the addon links (OpenBLAS) over square single-precision products of 1024 and 2048, each for
 * about a second; undefined without the addon. The addon's thread setting is put back after.
 */
function gemmPeak(threads: number): { gflops: number; blas: string } | undefined {
  const loaded = loadNativeLearner();
  if (!loaded.ok) return undefined;
  const { addon, info } = loaded;
  const before = info.threads;
  addon.setThreads(threads);
  let best = 0;
  try {
    for (const size of [1024, 2048]) {
      const A = new Float32Array(size * size).fill(0.5);
      const B = new Float32Array(size * size).fill(0.25);
      const C = new Float32Array(size * size);
      const product = () =>
        addon.sgemm(false, false, size, size, size, 1, A, size, B, size, 0, C, size);
      product();
      const start = performance.now();
      let count = 0;
      while (performance.now() - start < 1000) {
        product();
        count++;
      }
      const seconds = (performance.now() - start) / 1000;
      best = Math.max(best, (2 * size ** 3 * count) / seconds / 1e9);
    }
  } finally {
    addon.setThreads(before);
  }
  return { gflops: best, blas: `${info.blas} (${info.kernel}, ${info.threading})` };
}

/** Reads one value back so that every queued kernel has run (a no-op cost on synchronous backends). */
function sync(sac: Sac): void {
  sac.targets.at(-1)!.variables.at(-1)!.dataSync();
  sac.logAlpha.dataSync();
}

/** Learner steps per second over at least `seconds` (and `minUpdates` steps). */
function measureProject(sac: Sac, seconds: number, minUpdates = 3): number {
  const start = performance.now();
  for (let count = 1; ; count++) {
    sac.update();
    if (performance.now() - start >= seconds * 1000 && count >= minUpdates) {
      sync(sac);
      return count / ((performance.now() - start) / 1000);
    }
  }
}

/** Per-call latencies (µs) of `act` over `calls` calls, cycling through `inputs`. */
function latencies(act: (obs: Float32Array) => unknown, inputs: Float32Array[], calls: number) {
  const out = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    act(inputs[i % inputs.length]!);
    out[i] = (performance.now() - start) * 1000;
  }
  out.sort();
  return { p50: out[Math.floor(0.5 * (calls - 1))]!, p99: out[Math.floor(0.99 * (calls - 1))]! };
}

/**
 * The share of the actor's hidden activations that ReLU zeroes, per layer, over `inputs`:
 * PolicyRunner skips zero inputs of a layer, so its latency depends on it.
 */
function hiddenZeros(weights: PolicyWeights, inputs: Float32Array[]): number[] {
  const t = weights.tensors;
  const hidden = t.length / 2 - 2;
  const zeros = new Array<number>(hidden).fill(0);
  for (const obs of inputs) {
    let x = obs;
    for (let l = 0; l < hidden; l++) {
      const w = t[2 * l]!;
      const [n, m] = w.shape as [number, number];
      const y = Float32Array.from(t[2 * l + 1]!.data);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) y[j]! += x[i]! * w.data[i * m + j]!;
      for (let j = 0; j < m; j++) {
        if (y[j]! > 0) continue;
        y[j] = 0;
        zeros[l]!++;
      }
      x = y;
    }
  }
  return zeros.map((z, l) => z / (inputs.length * t[2 * l + 1]!.data.length));
}

/** Share of all CPUs busy over `ms` (Linux /proc/stat), e.g. other processes while the bench idles. */
async function cpuBusy(ms = 1000): Promise<number | undefined> {
  const read = () => {
    if (!existsSync('/proc/stat')) return undefined;
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    const v = f.map(Number);
    const idle = v[3]! + (v[4] ?? 0);
    return { idle, total: v.slice(0, 8).reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = read();
  if (!a || !b || b.total === a.total) return undefined;
  return 1 - (b.idle - a.idle) / (b.total - a.total);
}

const pct = (x: number | undefined) => (x === undefined ? 'unknown' : `${Math.round(x * 100)}%`);
const QUIET = 0.25;
/** A measurement during which other processes used more than this share of all CPUs is redone. */
const FOREIGN_MAX = 0.05;
const MAX_ATTEMPTS = 4;

interface CpuSnapshot {
  wall: number;
  /** Jiffies of the whole machine (all CPUs): busy and total. */
  busy: number;
  total: number;
  /** CPU seconds of this process and of the peer. */
  own: number;
}

function cpuSnapshot(peerPid: number | undefined): CpuSnapshot | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9);
  const j = v.map(Number);
  const total = j.reduce((a, b) => a + b, 0);
  const { user, system } = process.cpuUsage();
  let own = (user + system) / 1e6;
  if (peerPid !== undefined) {
    try {
      // fields after the command's closing parenthesis: utime and stime are the 12th and 13th
      const stat = readFileSync(`/proc/${peerPid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      own += (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
    } catch {
      // the peer is gone: only this process counts
    }
  }
  return { wall: performance.now() / 1000, busy: total - j[3]! - j[4]!, total, own };
}

/** Share of all CPUs that other processes used between two snapshots. */
function foreignShare(a: CpuSnapshot | undefined, b: CpuSnapshot | undefined): number | undefined {
  if (!a || !b || b.total === a.total) return undefined;
  const ownShare = (b.own - a.own) / ((b.wall - a.wall) * cpus().length);
  return Math.max(0, (b.busy - a.busy) / (b.total - a.total) - ownShare);
}

/**
 * Waits (up to `maxSeconds`) until other processes leave the CPUs mostly idle: an OpenMP peer on
 * 2 threads next to busy cores runs orders of magnitude slower, not just 2× (measured here).
 */
async function waitForQuiet(maxSeconds: number): Promise<number | undefined> {
  const until = performance.now() + maxSeconds * 1000;
  let busy = await cpuBusy();
  let said = false;
  while (busy !== undefined && busy > QUIET && performance.now() < until) {
    if (!said)
      console.log(
        `the CPUs are ${pct(busy)} busy: waiting up to ${maxSeconds} s for them to quieten…`,
      );
    said = true;
    await new Promise((resolve) => setTimeout(resolve, 4000));
    busy = await cpuBusy();
  }
  return busy;
}

/**
 * `repeats` interleaved rounds of every case (≥ `seconds` each, project and peer in turn), after
 * waiting up to `quietWaitSeconds` for other processes to leave the CPUs idle; then batch-1 latency.
 */
export async function benchLearner(
  repeats = 5,
  seconds = 2,
  quietWaitSeconds = 600,
): Promise<BenchResult> {
  const choice = await chooseBackend();
  let backendLine = describeBackend(choice);
  console.log(backendLine);
  const busyBefore = await waitForQuiet(quietWaitSeconds);
  console.log(`CPU busy before the run (other processes): ${pct(busyBefore)}`);

  let peer: Peer | undefined;
  let peerMissing: string | undefined;
  try {
    const started = await Peer.start();
    if (started instanceof Peer) peer = started;
    else peerMissing = started.missing;
  } catch (err) {
    peerMissing = err instanceof Error ? err.message : String(err);
  }
  if (peer) {
    const h = peer.hello;
    console.log(
      `PyTorch peer: torch ${h.torch}, python ${h.python} (${peer.python}), ${h.threads} threads, BLAS ${h.blas}, OpenBLAS core ${h.corename}`,
    );
  } else {
    console.error(
      `PyTorch peer missing (${peerMissing}). Install it with:\n  ${PEER_INSTALL}\nReporting the project's figures only.`,
    );
  }

  const cases = ENSEMBLES.flatMap((e) => MODES.map((mode) => ({ e, mode })));
  const key = (c: { e: number; mode: Mode }) => `${c.mode}:${c.e}`;
  const sacs = new Map(cases.map((c) => [key(c), makeSac(c.e, c.mode)]));
  // Where the learners train (LearnerConfig critics and actor 'auto': native when it is built).
  const placement = [...sacs.values()][0]!.placement;
  backendLine = describeBackend(choice, placement);
  console.log(backendLine);
  const side = placement.nativeCritics
    ? placement.actor === 'native'
      ? 'native'
      : 'native critics, tfjs actor'
    : `tfjs ${choice.tfjs}`;
  const threads = [...sacs.values()][0]!.config.threads;
  const peaks: number[] = [];
  const measurePeak = () => {
    const peak = gemmPeak(threads);
    if (!peak) return;
    peaks.push(peak.gflops);
    console.log(
      `GEMM peak: ${peak.gflops.toFixed(0)} GFLOP/s on ${threads} threads (${peak.blas}, sgemm 1024² and 2048²)`,
    );
  };
  measurePeak();
  const ours = new Map<string, number[]>(cases.map((c) => [key(c), []]));
  const theirs = new Map<string, number[]>(cases.map((c) => [key(c), []]));

  const runPeer = async (c: { e: number; mode: Mode }, s: number): Promise<number | undefined> => {
    if (!peer) return undefined;
    try {
      return await peer.measure(c.e, c.mode, s);
    } catch (err) {
      peerMissing = `failed during the run: ${err instanceof Error ? err.message : String(err)}`;
      console.error(`PyTorch peer ${peerMissing}`);
      await peer.close().catch(() => undefined);
      peer = undefined;
      return undefined;
    }
  };

  // Warm-up: kernels, allocators, optimiser state, the peer's OpenMP pool.
  for (const c of cases) {
    const sac = sacs.get(key(c))!;
    for (let i = 0; i < 3; i++) sac.update();
    measureProject(sac, 0.3, 2);
    await runPeer(c, 0.3);
  }

  // A measurement is redone (after waiting for quiet) when other processes took more than
  // FOREIGN_MAX of the CPUs meanwhile: the 2-thread OpenMP peer collapses next to a busy core.
  const foreignKept: number[] = [];
  let redone = 0;
  const guarded = async <T>(
    side: string,
    measure: () => Promise<T | undefined>,
  ): Promise<T | undefined> => {
    for (let attempt = 1; ; attempt++) {
      const before = cpuSnapshot(peer?.pid);
      const result = await measure();
      const foreign = foreignShare(before, cpuSnapshot(peer?.pid));
      if (result === undefined) return undefined;
      if (foreign === undefined || foreign <= FOREIGN_MAX || attempt === MAX_ATTEMPTS) {
        if (foreign !== undefined) foreignKept.push(foreign);
        return result;
      }
      redone++;
      console.log(
        `    ${side}: other processes took ${pct(foreign)} of the CPUs: waiting, then again`,
      );
      await waitForQuiet(Math.min(quietWaitSeconds, 120));
    }
  };

  // One at a time, interleaved (the two vCPUs interfere), alternating who goes first.
  const busyBetween: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const busy = await waitForQuiet(Math.min(quietWaitSeconds, 120));
    if (busy !== undefined) busyBetween.push(busy);
    for (const c of cases) {
      const project = async () => {
        const sac = sacs.get(key(c))!;
        const rate = await guarded('project', async () => measureProject(sac, seconds));
        ours.get(key(c))!.push(rate!);
      };
      const pytorch = async () => {
        const rate = await guarded('PyTorch', () => runPeer(c, seconds));
        if (rate !== undefined) theirs.get(key(c))!.push(rate);
      };
      if (r % 2 === 0) {
        await project();
        await pytorch();
      } else {
        await pytorch();
        await project();
      }
      const p = ours.get(key(c))!.at(-1)!;
      const t = theirs.get(key(c))!.at(-1);
      console.log(
        `  repeat ${r + 1}/${repeats} ${c.mode} E=${c.e}: project ${p.toFixed(1)}/s` +
          (t === undefined ? '' : `, PyTorch ${t.toFixed(1)}/s`),
      );
    }
  }
  measurePeak();
  const peerInfo = peer?.hello;
  const peerPython = peer?.python;
  await peer?.close();

  // Batch-1 policy latency: the same (trained a little) actor in tfjs and in the plain-TS runner.
  // Only this learner stays alive, as in a run (the others' memory would weigh on GC and wasm).
  const sac = sacs.get('full:2')!;
  for (const [k, other] of sacs) if (k !== 'full:2') other.dispose();
  const runner = new PolicyRunner(OBS_DIM, ACTION_DIM, [
    sac.config.logStdMin,
    sac.config.logStdMax,
  ]);
  const rng = new Random(11);
  const inputs = Array.from({ length: 64 }, () =>
    Float32Array.from({ length: OBS_DIM }, () => rng.uniform(-1, 1)),
  );
  const weights = actorWeights(sac);
  runner.load(weights);
  const zeros = hiddenZeros(weights, inputs);
  let maxDiff = 0;
  for (const o of inputs) {
    const a = sac.act(o, true);
    const b = runner.act(o);
    for (let j = 0; j < ACTION_DIM; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j]! - b[j]!));
  }
  const tfjsAct = (o: Float32Array) => sac.act(o, true);
  const plainAct = (o: Float32Array) => runner.act(o);
  latencies(tfjsAct, inputs, 500);
  latencies(plainAct, inputs, 500);
  const lat = {
    tfjs50: [] as number[],
    tfjs99: [] as number[],
    ts50: [] as number[],
    ts99: [] as number[],
  };
  for (let r = 0; r < repeats; r++) {
    const { t, p } = (await guarded('policy latency', async () => ({
      t: latencies(tfjsAct, inputs, 2000),
      p: latencies(plainAct, inputs, 2000),
    })))!;
    lat.tfjs50.push(t.p50);
    lat.tfjs99.push(t.p99);
    lat.ts50.push(p.p50);
    lat.ts99.push(p.p99);
  }
  sac.dispose();
  const busyAfter = await cpuBusy();

  const figures: Figure[] = [];
  const comparisons: BenchResult['comparisons'] = [];
  const peak = peaks.length ? Math.max(...peaks) : undefined;
  const gflops = (rate: number, c: { e: number; mode: Mode }) =>
    (rate * updateFlops(c.e, c.mode)) / 1e9;
  const share = (rate: number, c: { e: number; mode: Mode }) => {
    const g = gflops(rate, c);
    return `${g.toFixed(1)} GFLOP/s${peak ? `, ${pct(g / peak)} of peak` : ''}`;
  };
  for (const c of cases) {
    const what = c.mode === 'critic' ? 'critic updates/s' : 'full SAC updates/s';
    const mine = ours.get(key(c))!;
    const peerRates = theirs.get(key(c))!;
    figures.push(figure(`${what}, E=${c.e}, project (${side})`, 'updates/s', mine));
    if (peerRates.length > 0)
      figures.push(figure(`${what}, E=${c.e}, PyTorch`, 'updates/s', peerRates));
    const ownFlops = mine.map((r) => gflops(r, c));
    figures.push(
      figure(`${what}, E=${c.e}, project (${side}): matrix products`, 'GFLOP/s', ownFlops),
    );
    if (peerRates.length > 0)
      figures.push(
        figure(
          `${what}, E=${c.e}, PyTorch: matrix products`,
          'GFLOP/s',
          peerRates.map((r) => gflops(r, c)),
        ),
      );
  }
  if (peak !== undefined)
    figures.push(figure(`GEMM peak, sgemm on ${threads} threads`, 'GFLOP/s', peaks));
  for (const c of cases) {
    const p = ours.get(key(c))!;
    const t = theirs.get(key(c))!;
    if (t.length === 0) continue;
    const what = c.mode === 'critic' ? 'critic update' : 'full SAC update';
    comparisons.push({
      name:
        `${what}, E=${c.e}: project (${side}: ${share(median(p), c)}) / PyTorch (${share(median(t), c)}), ` +
        `median of ${t.length} paired runs; goal ≥ 1.5×`,
      ratio: median(t.map((rate, i) => p[i]! / rate)),
      target: 1,
    });
  }
  figures.push(
    figure('policy act, batch 1, sac.act (tfjs), p50', 'µs', lat.tfjs50),
    figure('policy act, batch 1, sac.act (tfjs), p99', 'µs', lat.tfjs99),
    figure('policy act, batch 1, PolicyRunner (plain TS), p50', 'µs', lat.ts50),
    figure('policy act, batch 1, PolicyRunner (plain TS), p99', 'µs', lat.ts99),
  );
  comparisons.push({
    name: 'policy act p50: sac.act (tfjs) / PolicyRunner (plain TS)',
    ratio: median(lat.tfjs50) / median(lat.ts50),
  });

  const notes = [
    `matrix-product work per update (2 FLOP per multiply-add; the non-product work is left out): ${cases.map((c) => `${c.mode} E=${c.e} ${(updateFlops(c.e, c.mode) / 1e6).toFixed(0)} MFLOP`).join(', ')}; peak: the best of sgemm 1024³ and 2048³ through the addon's BLAS on ${threads} threads, measured before and after the repeats`,
    `workload: obs ${OBS_DIM}, action ${ACTION_DIM}, batch ${BATCH}, hidden ${HIDDEN.join('×')}, LayerNorm critics, min over a random subset of ${MIN_SUBSET} target critics, utd 1, buffers full (${ONLINE_SIZE.toLocaleString('en-US')} online + ${DEMO_SIZE.toLocaleString('en-US')} demo, half of each batch from each); a critic update is a learner step with actorEvery 2³¹, a full SAC update adds one actor and one temperature update`,
    backendLine,
    peerInfo
      ? `PyTorch peer (test/bench/sac_peer.py): torch ${peerInfo.torch}, python ${peerInfo.python} (${peerPython}), ${peerInfo.threads} threads, BLAS ${peerInfo.blas}, OpenBLAS core **${peerInfo.corename}**; LD_LIBRARY_PATH=${OPENBLAS_OPENMP} OMP_NUM_THREADS=2, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (docs/SETUP.md)`
      : `PyTorch peer **missing** (${peerMissing}): install with \`${PEER_INSTALL}\``,
    ...(peerInfo && peerMissing ? [`PyTorch peer ${peerMissing}`] : []),
    `each figure: ${repeats} repeats of ≥ ${seconds} s after a warm-up, project and peer one at a time, interleaved, alternating which goes first; ratios under about 1.3× are noise (docs/SETUP.md)`,
    `policy latency: ${repeats} repeats of 2,000 calls each after 500 warm-up calls, the same weights (actorWeights); largest action difference tfjs vs PolicyRunner ${maxDiff.toExponential(1)}; the actor has had ${sac.actorUpdates} updates, and ReLU zeroes ${zeros.map(pct).join(' and ')} of its hidden units on these inputs (PolicyRunner skips zero inputs)`,
    `CPU busy from other processes while the bench was idle: ${pct(busyBefore)} before, ${pct(busyAfter)} after, ${busyBetween.map(pct).join(', ')} between repeats`,
    `other processes' share of the CPUs during the kept measurements: median ${pct(foreignKept.length ? median(foreignKept) : undefined)}, max ${pct(foreignKept.length ? Math.max(...foreignKept) : undefined)}; ${redone} measurement(s) redone for exceeding ${pct(FOREIGN_MAX)}`,
  ];
  // After waiting for quiet (so above QUIET only when the wait timed out); not the final sample.
  const idleBusiest = Math.max(busyBefore ?? 0, ...busyBetween);
  const measuredBusiest = Math.max(0, ...foreignKept);
  if (idleBusiest > QUIET || measuredBusiest > FOREIGN_MAX) {
    const warning = `WARNING: other processes were busy during this run (up to ${pct(measuredBusiest)} of the CPUs during a kept measurement, ${pct(idleBusiest)} between them): the figures, the OpenMP peer's most of all, are not representative; rerun on a quiet machine`;
    console.error(warning);
    notes.unshift(`**${warning}**`);
  }
  return { title: 'learner: SAC updates and policy latency', figures, comparisons, notes };
}
