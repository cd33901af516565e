import { z } from 'zod';
import type { EpisodeKind, EpisodeOutcome } from '../protocol/index.ts';
import type { LearnerLink } from '../learner/link.ts';
import type { PolicyRunner } from '../learner/policy.ts';
import type { SafeRobot } from '../robots/index.ts';
import type { Recorder } from '../store/index.ts';
import { Random } from '../util/random.ts';
import type { LoopFigures } from './learner-monitor.ts';
import { recordTransition, takeStep } from './step.ts';
import type { EpisodeEnd } from './curves.ts';

export interface EvalResult {
  envSteps: number;
  episodes: number;
  successRate: number;
  meanReturn: number;
  /** Mean reward per step over the evaluation episodes. */
  meanStepReward: number;
  policyVersion: number;
}

export interface TrainOptions {
  robot: SafeRobot;
  link: LearnerLink;
  policy: PolicyRunner;
  recorder: Recorder;
  runId: number;
  /** Environment steps of online training. */
  envSteps: number;
  /** Uniformly random actions for the first steps, before the policy acts (none with demos). */
  randomSteps: number;
  /** Learner steps per environment step once training has started. */
  learnerStepsPerEnvStep: number;
  evalEvery: number;
  evalEpisodes: number;
  seed: number;
  /**
   * Where the loop keeps its figures as it goes (env steps, the mean reward of the random
   * warm-up actions): the learner monitor reads them with each metrics record.
   */
  progress?: LoopFigures;
  onEval?: (result: EvalResult) => void;
  onStep?: (envSteps: number) => void;
  /** A training episode ended (the policy drove it alone, random warm-up actions or not). */
  onEpisode?: (episode: EpisodeEnd) => void;
  /** Continue a run from this point (its learner restored and its buffers refilled already). */
  resume?: LoopState;
  /**
   * Called at the first episode boundary after every `checkpointEvery` environment steps, and at
   * the end, with the loop's state; the learner is between steps (lock-step) at that moment.
   */
  checkpoint?: { every: number; save: (state: LoopState) => Promise<void> };
}

/** Where the training loop stands: with a learner checkpoint, all a resumed run needs. */
export const LoopState = z.object({
  /** Environment steps done. */
  envSteps: z.number().int().nonnegative(),
  /** The seed of the next training episode. */
  episodeSeed: z.number().int(),
  /** The exploration generator's state. */
  rngState: z.number().int(),
  /** The last training episode whose transitions are in the online buffer (0: none). */
  lastEpisodeId: z.number().int().nonnegative(),
  /**
   * The training episodes whose transitions are in the online buffer, as id spans [first, last]
   * (both included), oldest first: one per process that trained the run. A resumed process
   * begins a span of its own, because the steps a killed process recorded after its checkpoint
   * (episodes between two spans) never reached the buffer that the resumed learner continues.
   * States stored before this field: every training episode up to `lastEpisodeId`.
   */
  onlineEpisodes: z
    .array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]))
    .optional(),
  /** What the random warm-up actions earned (for the health monitor). */
  randomRewardMean: z.number().optional(),
});
export type LoopState = z.infer<typeof LoopState>;

/** The spans of training episode ids in the online buffer at `state` (see LoopState). */
export function onlineEpisodeSpans(
  state: Pick<LoopState, 'lastEpisodeId' | 'onlineEpisodes'>,
): [number, number][] {
  return state.onlineEpisodes ?? (state.lastEpisodeId > 0 ? [[0, state.lastEpisodeId]] : []);
}

interface EpisodeRun {
  outcome: EpisodeOutcome;
  steps: number;
  return: number;
}

/**
 * Online RLPD in the headless loop, lock-stepped for reproducibility: each environment step is
 * recorded, its transition goes to the learner's online buffer, and the learner runs its steps
 * before the next action. Evaluations run the mean action and are recorded as `eval` episodes,
 * between training episodes. With `checkpoint`, the loop's state is saved with the learner's so
 * that `resume` continues the run exactly as if it had not stopped.
 */
export async function trainOnline(opts: TrainOptions): Promise<EvalResult[]> {
  const { robot, link, policy, recorder, runId } = opts;
  const { spec } = robot;
  const obsDim = spec.observation.names.length;
  const actionDim = spec.action.names.length;
  const rng = new Random(opts.seed ^ 0xac7);
  const results: EvalResult[] = [];
  let episodeSeed = opts.seed;

  const begin = (kind: EpisodeKind, seed: number) =>
    recorder.beginEpisode({ runId, task: spec.task, kind, seed, obsDim, actionDim });
  const end = (episodeId: number, run: EpisodeRun, finalObs: ArrayLike<number>) => {
    recorder.endEpisode(episodeId, { outcome: run.outcome, finalObs });
  };

  const evaluate = (envSteps: number) => {
    const result = evaluatePolicy({
      robot,
      policy,
      recorder,
      runId,
      episodes: opts.evalEpisodes,
      seed: opts.seed,
      envSteps,
    });
    results.push(result);
    opts.onEval?.(result);
  };

  const from = opts.resume;
  if (from) {
    episodeSeed = from.episodeSeed;
    rng.restore(from.rngState);
  }
  let randomReward =
    (from?.randomRewardMean ?? 0) * Math.min(from?.envSteps ?? 0, opts.randomSteps);
  let obs: ArrayLike<number> = robot.reset(episodeSeed);
  let episode = begin('train', episodeSeed);
  let run: EpisodeRun = { outcome: 'timeout', steps: 0, return: 0 };
  let lastEnded = from?.lastEpisodeId ?? 0;
  // This process's span of the buffer's episodes starts here, after those of the earlier ones.
  const earlierSpans = from ? onlineEpisodeSpans(from) : [];
  const firstEpisode = episode;
  let checkpointedAt = from?.envSteps ?? 0;
  let evalDue = false;
  const state = (envSteps: number): LoopState => ({
    envSteps,
    episodeSeed,
    rngState: rng.state,
    lastEpisodeId: lastEnded,
    onlineEpisodes:
      lastEnded >= firstEpisode ? [...earlierSpans, [firstEpisode, lastEnded]] : earlierSpans,
    ...(opts.progress?.randomRewardMean !== undefined
      ? { randomRewardMean: opts.progress.randomRewardMean }
      : {}),
  });
  for (let step = (from?.envSteps ?? 0) + 1; step <= opts.envSteps; step++) {
    const explore = step <= opts.randomSteps || !policy.ready;
    const action = explore
      ? Float32Array.from({ length: actionDim }, () => rng.uniform(-1, 1))
      : policy.act(obs, rng, robot.safety.gripperCommand);
    const result = policyStep(robot, action, policy.version);
    const t = result.transition;
    recordTransition(recorder, episode, run.steps, spec.rateHz, t);
    link.feed([t]);
    run.steps++;
    run.return += t.reward;
    obs = t.nextObs;
    if (opts.progress) {
      opts.progress.envSteps = step;
      // What uniformly random actions earn: the health monitor's reward-design check.
      if (step <= opts.randomSteps)
        opts.progress.randomRewardMean = (randomReward += t.reward) / step;
    }
    const boundary = t.done || t.truncated;
    if (boundary) {
      if (t.done) run.outcome = result.success ? 'success' : 'failure';
      end(episode, run, obs);
      opts.onEpisode?.({ kind: 'train', intervenedSteps: 0, ...run });
      lastEnded = episode;
      obs = robot.reset(++episodeSeed);
      episode = begin('train', episodeSeed);
      run = { outcome: 'timeout', steps: 0, return: 0 };
    }
    if (step > opts.randomSteps) policy.load(await link.train(opts.learnerStepsPerEnvStep));
    opts.onStep?.(step);
    // Evaluations share the robot, so they run between training episodes: at the first episode
    // boundary from every `evalEvery` steps on; the training episode just begun starts again.
    if (step % opts.evalEvery === 0) evalDue = true;
    if (evalDue && boundary && policy.ready) {
      evaluate(step);
      evalDue = false;
      obs = robot.reset(episodeSeed);
    }
    if (opts.checkpoint && boundary && step - checkpointedAt >= opts.checkpoint.every) {
      checkpointedAt = step;
      await opts.checkpoint.save(state(step));
    }
  }
  end(episode, { ...run, outcome: 'interrupted' }, obs);
  // The unfinished episode's transitions are in the online buffer: the final state counts it.
  lastEnded = episode;
  episodeSeed++;
  if (opts.checkpoint && checkpointedAt < opts.envSteps)
    await opts.checkpoint.save(state(opts.envSteps));
  if (results.at(-1)?.envSteps !== opts.envSteps && policy.ready) evaluate(opts.envSteps);
  return results;
}

/** A step the policy drives headless (training, evaluation): nobody else proposes. */
export function policyStep(robot: SafeRobot, action: Float32Array, policyVersion: number) {
  return takeStep(robot, {
    proposal: action,
    mode: 'autonomous',
    now: 0,
    intervened: false,
    policyVersion,
  });
}

export interface EvaluateOptions {
  robot: SafeRobot;
  policy: PolicyRunner;
  recorder: Recorder;
  runId: number;
  episodes: number;
  seed: number;
  /** Environment steps of training so far, reported with the result. */
  envSteps: number;
}

/**
 * Runs the policy's mean action for whole episodes on fixed seeds (the same every time, so
 * evaluations compare) and records them as `eval` episodes.
 */
export function evaluatePolicy(opts: EvaluateOptions): EvalResult {
  const { robot, policy, recorder, runId } = opts;
  const { spec } = robot;
  let successes = 0;
  let total = 0;
  let steps = 0;
  for (let e = 0; e < opts.episodes; e++) {
    const seed = 1_000_000 + opts.seed + e;
    let obs: ArrayLike<number> = robot.reset(seed);
    const id = recorder.beginEpisode({
      runId,
      task: spec.task,
      kind: 'eval',
      seed,
      obsDim: spec.observation.names.length,
      actionDim: spec.action.names.length,
    });
    let outcome: EpisodeOutcome = 'timeout';
    let t = 0;
    for (; t < spec.maxSteps; t++) {
      const result = policyStep(
        robot,
        policy.act(obs, undefined, robot.safety.gripperCommand),
        policy.version,
      );
      const tr = result.transition;
      recordTransition(recorder, id, t, spec.rateHz, tr);
      total += tr.reward;
      obs = tr.nextObs;
      if (tr.done) outcome = result.success ? 'success' : 'failure';
      if (tr.done || tr.truncated) {
        t++;
        break;
      }
    }
    recorder.endEpisode(id, { outcome, finalObs: obs });
    if (outcome === 'success') successes++;
    steps += t;
  }
  return {
    envSteps: opts.envSteps,
    episodes: opts.episodes,
    successRate: successes / opts.episodes,
    meanReturn: total / opts.episodes,
    meanStepReward: total / Math.max(1, steps),
    policyVersion: policy.version,
  };
}
