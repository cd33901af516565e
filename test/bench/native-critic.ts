// The native critic ensemble's speed (native/src/critic.cc): critic-only updates per second at
// E=2 and E=10, 256×256, batch 256, beside the TypeScript learner's critic phase (a learner step
// with actorEvery 2³¹ on the backend chosen, as test/bench/learner.ts's "critic" mode). Not a
// test: it prints, and `npm run bench -- native-critic` records it in docs/BENCHMARKS.md.
import { chooseBackend, describeBackend } from '../../src/learner/backend.ts';
import { LearnerConfig } from '../../src/learner/config.ts';
import {
  type CriticEnsemble,
  criticEnsembleClass,
  type CriticUpdateInput,
  loadNativeLearner,
} from '../../src/learner/native-addon.ts';
import { Sac } from '../../src/learner/sac.ts';
import { Random } from '../../src/util/random.ts';
import { ensembleFromSac, nextCriticInputs } from '../learner/native-critic-drive.ts';
import { type BenchResult, type Figure, figure, median } from './harness.ts';
import { fill } from './learner.ts';

const OBS_DIM = 24; // panda-lift's state observation, as test/bench/learner.ts
const ACTION_DIM = 4;
const BATCH = 256;
const HIDDEN = [256, 256];
const ENSEMBLES = [2, 10] as const;
const MIN_SUBSET = 2;
const ONLINE_SIZE = 20_000;
const DEMO_SIZE = 5_000;
/** Distinct batches the native side cycles through (drawn once, as Sac.update would). */
const BATCHES = 8;

function makeSac(ensembleSize: number): Sac {
  const config = LearnerConfig.parse({
    hidden: HIDDEN,
    ensembleSize,
    minSubset: MIN_SUBSET,
    batchSize: BATCH,
    utd: 1,
    actorEvery: 2 ** 31,
    onlineCapacity: ONLINE_SIZE,
    demoCapacity: DEMO_SIZE,
    seed: 1,
    critics: 'tfjs', // the TypeScript learner's critic phase, beside the native one
  });
  const sac = new Sac(OBS_DIM, ACTION_DIM, config);
  const rng = new Random(7);
  fill(sac.online, ONLINE_SIZE, rng);
  fill(sac.demo, DEMO_SIZE, rng);
  return sac;
}

/** Calls per second of `run` over at least `seconds` (and `min` calls). */
function rate(run: () => void, seconds: number, min = 3): number {
  const start = performance.now();
  for (let count = 1; ; count++) {
    run();
    const elapsed = performance.now() - start;
    if (elapsed >= seconds * 1000 && count >= min) return count / (elapsed / 1000);
  }
}

type Side = 'ts' | 'native1' | 'native2' | 'nativeStep';
const SIDES: { side: Side; what: string }[] = [
  { side: 'ts', what: 'TS learner critic phase (tfjs)' },
  { side: 'native1', what: 'native update, 1 thread' },
  { side: 'native2', what: 'native update, 2 threads' },
  {
    side: 'nativeStep',
    what: 'native update, 2 threads, + its inputs drawn in TS (batch, a′ by the tfjs actor)',
  },
];

export async function benchNativeCritic(
  options: { quick?: boolean; repeats?: number; seconds?: number } = {},
): Promise<BenchResult> {
  const quick = options.quick ?? false;
  const repeats = options.repeats ?? (quick ? 1 : 3);
  const seconds = options.seconds ?? (quick ? 0.2 : 2);
  const choice = await chooseBackend();
  const backendLine = describeBackend(choice);
  console.log(backendLine);
  const loaded = loadNativeLearner({ threads: 1 });
  const Ctor = loaded.ok ? criticEnsembleClass(loaded.addon) : undefined;
  if (!loaded.ok || !Ctor) {
    const why = loaded.ok ? `${loaded.path} has no CriticEnsemble` : loaded.reason;
    console.error(`native addon missing: ${why}`);
    return {
      title: 'native critic ensemble: critic updates',
      figures: [],
      comparisons: [],
      notes: [`**native addon missing** (${why}): nothing measured`],
    };
  }
  const blas = `${loaded.info.blas} (${loaded.info.kernel}, ${loaded.info.threading}), 1 thread per product`;
  console.log(`native learner: ${blas}`);

  const rates = new Map<string, number[]>();
  const key = (e: number, side: Side) => `${side}:${e}`;
  for (const e of ENSEMBLES) {
    const sac = makeSac(e);
    try {
      const inputs: CriticUpdateInput[] = [];
      for (let i = 0; i < BATCHES; i++) {
        inputs.push(nextCriticInputs(sac).inputs[0]!);
        sac.rng.next(); // another draw next time
      }
      const one: CriticEnsemble = ensembleFromSac(Ctor, sac, 1);
      const two: CriticEnsemble = ensembleFromSac(Ctor, sac, 2);
      let k = 0;
      const runs: Record<Side, () => void> = {
        ts: () => sac.update(),
        native1: () => one.update(inputs[k++ % BATCHES]!),
        native2: () => two.update(inputs[k++ % BATCHES]!),
        nativeStep: () => {
          two.update(nextCriticInputs(sac).inputs[0]!);
          sac.rng.next();
        },
      };
      // Warm-up: kernels, allocators, the helper threads
      for (const { side } of SIDES) rate(runs[side], quick ? 0.05 : 0.5, 2);
      for (let r = 0; r < repeats; r++) {
        const order = r % 2 === 0 ? SIDES : [...SIDES].reverse();
        for (const { side } of order) {
          const list = rates.get(key(e, side)) ?? [];
          list.push(rate(runs[side], seconds));
          rates.set(key(e, side), list);
        }
        console.log(
          `  repeat ${r + 1}/${repeats} E=${e}: ` +
            SIDES.map(
              ({ side }) => `${side} ${rates.get(key(e, side))!.at(-1)!.toFixed(1)}/s`,
            ).join(', '),
        );
      }
    } finally {
      sac.dispose();
    }
  }

  const figures: Figure[] = [];
  const comparisons: BenchResult['comparisons'] = [];
  for (const e of ENSEMBLES) {
    for (const { side, what } of SIDES)
      figures.push(
        figure(`critic updates/s, E=${e}, ${what}`, 'updates/s', rates.get(key(e, side))!),
      );
    const ts = rates.get(key(e, 'ts'))!;
    for (const side of ['native1', 'native2', 'nativeStep'] as const) {
      const mine = rates.get(key(e, side))!;
      comparisons.push({
        name: `E=${e}: ${SIDES.find((s) => s.side === side)!.what} / TS (median of ${ts.length} paired runs)`,
        ratio: median(mine.map((x, i) => x / ts[i]!)),
      });
    }
  }
  return {
    title: 'native critic ensemble: critic updates',
    figures,
    comparisons,
    notes: [
      `workload: obs ${OBS_DIM}, action ${ACTION_DIM}, batch ${BATCH}, hidden ${HIDDEN.join('×')}, LayerNorm critics, min over ${MIN_SUBSET} random target critics; one critic update = targets, forward and backward of every critic, Adam, Polyak`,
      `TS: Sac.update() with actorEvery 2³¹ (its batch sampling and a′ included), config threads 2; ${backendLine}`,
      `native: CriticEnsemble.update on ${BATCHES} batches drawn beforehand (the update alone), or with each batch and a′ drawn in TS first (nextCriticInputs: the sampling and the tfjs actor's pass); ${blas}`,
      `each figure: ${repeats} repeat(s) of ≥ ${seconds} s after a warm-up, sides one at a time, alternating the order; the machines are shared, ratios under about 1.3× are noise`,
    ],
  };
}
