import { replayRefusal } from '../../robots/index.ts';
import { replayEpisode } from '../../studio/review.ts';
import { type Command, parse, UsageError } from '../args.ts';
import { openStore } from '../common.ts';

const usage = `
Usage: tandem replay ID [--db PATH] [--tolerance X]

Re-runs episode ID's recorded actions in the sim from its seed, through the safety layer with
the run's settings, and reports the largest difference from the recorded observations (the
determinism check). Exits 1 when the largest difference exceeds --tolerance (default 0: the sim
is deterministic, float32-for-float32), or when the safety layer had to change a recorded action.
`;

export const replay: Command = {
  name: 'replay',
  summary: "re-run an episode's actions in the sim and compare observations",
  usage,
  async run(argv) {
    const args = parse(
      argv,
      { db: { type: 'string' }, tolerance: { type: 'string' } },
      usage,
      true,
    );
    if (!args) return;
    const { values, positionals } = args;
    const id = Number(positionals[0]);
    if (!Number.isInteger(id) || id <= 0) throw new UsageError('an episode ID is required');
    const tolerance = Number(values.tolerance ?? 0);
    if (!(tolerance >= 0)) throw new UsageError('--tolerance must be a number ≥ 0');

    const store = openStore(values.db, true);
    try {
      const episode = store.getEpisode(id);
      if (!episode) throw new UsageError(`no episode ${id} in ${store.path}`);
      const run = store.getRun(episode.runId);
      if (!run)
        throw new UsageError(`episode ${id} belongs to run ${episode.runId}, which is missing`);
      const refusal = replayRefusal(run.config.task.task, id);
      if (refusal) throw new UsageError(refusal);
      const names = run.spec.observation.names;
      let worst = { diff: 0, step: -1, name: '-' };
      const compare = (recorded: readonly number[], replayed: Float64Array, step: number) => {
        recorded.forEach((r, i) => {
          const diff = Math.abs(Math.fround(replayed[i]!) - r);
          if (diff > worst.diff || Number.isNaN(diff)) {
            worst = { diff, step, name: names[i] ?? String(i) };
          }
        });
      };
      let rewardMismatch = 0;
      const changed: number[] = [];
      const replayed = await replayEpisode(store, id, {
        onStep({ recorded, obs, reward, changed: differs }) {
          compare(recorded.obs, obs, recorded.index);
          if (Math.fround(reward) !== Math.fround(recorded.reward)) rewardMismatch++;
          if (differs) changed.push(recorded.index);
        },
      });
      const finalObs = store.readFinalObs(id);
      if (finalObs) compare(finalObs, replayed.finalObs, replayed.steps);
      const ok = worst.diff <= tolerance && rewardMismatch === 0 && changed.length === 0;
      console.log(
        `episode ${id}: replayed ${replayed.steps} steps of ${episode.task} from seed ${episode.seed}; ` +
          `largest observation difference ${worst.diff.toExponential(3)}` +
          (worst.step >= 0 ? ` (${worst.name} at step ${worst.step})` : '') +
          `; ${rewardMismatch} reward mismatches` +
          (changed.length > 0
            ? `; the safety layer changed ${changed.length} recorded actions (first at step ${changed[0]}): they were not executed as stored`
            : '') +
          ` → ${ok ? 'deterministic' : 'DIFFERS'}`,
      );
      if (!ok) process.exitCode = 1;
    } finally {
      store.close();
    }
  },
};
