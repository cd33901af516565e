import type { EpisodeKind, EpisodeOutcome } from '../protocol/index.ts';
import type { Expert, Robot } from '../robots/index.ts';
import type { Recorder } from '../store/recorder.ts';

export interface EpisodeSummary {
  episodeId: number;
  index: number;
  seed: number;
  outcome: EpisodeOutcome;
  steps: number;
  return: number;
}

export interface RecordOptions {
  robot: Robot;
  expert: Expert;
  recorder: Recorder;
  runId: number;
  episodes: number;
  /** Episode i is reset with seed `seed + i`, so any episode can be re-run on its own. */
  seed: number;
  kind: EpisodeKind;
  onEpisode?: (summary: EpisodeSummary) => void;
}

/**
 * Headless recording: the scripted operator drives the robot for whole episodes, as fast as the
 * sim steps, and every step is recorded with the observation the action was chosen on.
 */
export function recordEpisodes(opts: RecordOptions): EpisodeSummary[] {
  const { robot, expert, recorder, runId, kind } = opts;
  const { spec } = robot;
  const summaries: EpisodeSummary[] = [];
  for (let i = 0; i < opts.episodes; i++) {
    const seed = opts.seed + i;
    let obs = robot.reset(seed);
    expert.reset();
    const episodeId = recorder.beginEpisode({
      runId,
      task: spec.task,
      kind,
      seed,
      obsDim: spec.observation.names.length,
      actionDim: spec.action.names.length,
    });
    let total = 0;
    let outcome: EpisodeOutcome = 'timeout';
    let index = 0;
    for (; index < spec.maxSteps; index++) {
      // Executed as stored (float32), so a replay of the recorded actions is bit-exact.
      const action = Float32Array.from(expert.act(obs));
      const result = robot.step(action);
      recorder.record(episodeId, {
        index,
        t: index / spec.rateHz,
        obs: Array.from(obs),
        action,
        proposed: null,
        reward: result.reward,
        done: result.done,
        truncated: result.truncated,
        source: 'scripted',
        intervened: false,
        policyVersion: 0,
      });
      total += result.reward;
      obs = result.obs;
      if (result.done) {
        outcome = result.info.success ? 'success' : 'failure';
        index++;
        break;
      }
      if (result.truncated) {
        index++;
        break;
      }
    }
    recorder.endEpisode(episodeId, { outcome, finalObs: Array.from(obs) });
    const summary = { episodeId, index: i, seed, outcome, steps: index, return: total };
    summaries.push(summary);
    opts.onEpisode?.(summary);
  }
  return summaries;
}
