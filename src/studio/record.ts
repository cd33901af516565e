import type { EpisodeKind, EpisodeOutcome } from '../protocol/index.ts';
import type { Expert, SafeRobot } from '../robots/index.ts';
import type { Recorder } from '../store/recorder.ts';
import { recordTransition, takeStep } from './step.ts';

export interface EpisodeSummary {
  episodeId: number;
  index: number;
  seed: number;
  outcome: EpisodeOutcome;
  steps: number;
  return: number;
}

export interface RecordOptions {
  robot: SafeRobot;
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
    let obs: ArrayLike<number> = robot.reset(seed);
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
      // The expert drives through the safety layer; what is stored is what was executed (float32),
      // so a replay of the recorded actions is bit-exact.
      const { transition: t, success } = takeStep(robot, {
        proposal: null,
        operator: { kind: 'scripted', action: expert.act(obs) },
        mode: kind === 'demo' ? 'bc-warmup' : 'autonomous',
        now: 0,
        intervened: false,
        policyVersion: 0,
      });
      recordTransition(recorder, episodeId, index, spec.rateHz, t);
      total += t.reward;
      obs = t.nextObs;
      if (t.done) {
        outcome = success ? 'success' : 'failure';
        index++;
        break;
      }
      if (t.truncated) {
        index++;
        break;
      }
    }
    recorder.endEpisode(episodeId, { outcome, finalObs: obs });
    const summary = { episodeId, index: i, seed, outcome, steps: index, return: total };
    summaries.push(summary);
    opts.onEpisode?.(summary);
  }
  return summaries;
}
