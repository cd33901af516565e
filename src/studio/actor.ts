import type { PolicyRunner } from '../learner/policy.ts';
import type { RemoteLearner } from '../learner/remote/client.ts';
import type { EpisodeOutcome } from '../protocol/index.ts';
import type { SafeRobot } from '../robots/index.ts';
import type { Recorder } from '../store/index.ts';
import { Random } from '../util/random.ts';
import type { LoopStats } from './control-loop.ts';
import { LiveLoop } from './live.ts';
import { systemClock } from '../util/clock.ts';
import { recordTransition } from './step.ts';
import { type EvalResult, evaluatePolicy, policyStep } from './train.ts';

export interface ActorOptions {
  robot: SafeRobot;
  learner: RemoteLearner;
  policy: PolicyRunner;
  recorder: Recorder;
  runId: number;
  /** Environment steps this actor takes. */
  envSteps: number;
  /** Uniformly random actions for the first steps, before the policy acts. */
  randomSteps: number;
  /**
   * Paced (> 0): one step per control tick at this rate, as a robot runs, whatever the learner
   * does. Unpaced (0): a sim copy that keeps step with the learner (see `utd`).
   */
  rateHz: number;
  /**
   * Unpaced: the learner's update-to-data ratio to keep, over every actor's data: the actor waits
   * while the online rows not yet trained on at that ratio exceed `lead`.
   */
  utd: number;
  lead?: number;
  /** Unpaced only: evaluate (mean action, `evalEpisodes` episodes) every this many steps; 0: never. */
  evalEvery: number;
  evalEpisodes: number;
  seed: number;
  /** Stop early once an evaluation reaches this success rate. */
  stopAt?: number;
  /** Asked between steps: stop now (a signal). */
  shouldStop?: () => boolean;
  onEval?: (result: EvalResult) => void;
  /** Paced: once live, how the control thread is scheduled ("SCHED_FIFO 10", or why not). */
  onLive?: (scheduling: string) => void;
  /** About once a second: the steps taken and the loop's timing (paced). */
  onProgress?: (envSteps: number, stats: LoopStats | undefined, swaps: SwapLatency) => void;
}

/** Published by the learner → in use at this actor's step (ms), over the last 100 swaps. */
export interface SwapLatency {
  p50: number;
  p99: number;
  count: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A headless actor for a remote learner (`tandem actor`): the policy acts with the newest weights
 * the learner published (taken at episode boundaries when unpaced, at tick boundaries when paced),
 * every step is recorded in the actor's own SQLite file and queued for the learner. A paced
 * actor's control loop never waits on the network; an unpaced one waits for the learner to keep
 * the update-to-data ratio, not for any answer.
 */
export async function runActor(opts: ActorOptions): Promise<EvalResult[]> {
  const { robot, learner, policy, recorder, runId } = opts;
  const { spec } = robot;
  const actionDim = spec.action.names.length;
  const rng = new Random(opts.seed ^ 0xac7);
  const results: EvalResult[] = [];
  let episodeSeed = opts.seed;
  let obs: ArrayLike<number> = robot.reset(episodeSeed);
  const begin = () =>
    recorder.beginEpisode({
      runId,
      task: spec.task,
      kind: 'train',
      seed: episodeSeed,
      obsDim: spec.observation.names.length,
      actionDim,
    });
  let episode = begin();
  let run = { steps: 0, outcome: 'timeout' as EpisodeOutcome };
  let step = 0;
  let evalDue = false;
  let stop = false;

  /** One environment step; returns whether the episode ended. */
  const act = (): boolean => {
    step++;
    const explore = step <= opts.randomSteps || !policy.ready;
    const action = explore
      ? Float32Array.from({ length: actionDim }, () => rng.uniform(-1, 1))
      : policy.act(obs, rng, robot.safety.gripperCommand);
    const result = policyStep(robot, action, policy.version);
    const t = result.transition;
    recordTransition(recorder, episode, run.steps, spec.rateHz, t);
    learner.feed([t]);
    run.steps++;
    obs = t.nextObs;
    if (!(t.done || t.truncated)) return false;
    if (t.done) run.outcome = result.success ? 'success' : 'failure';
    recorder.endEpisode(episode, { outcome: run.outcome, finalObs: obs });
    obs = robot.reset(++episodeSeed);
    episode = begin();
    run = { steps: 0, outcome: 'timeout' };
    return true;
  };

  const startedAt = Date.now();
  const swapMs: number[] = [];
  let swaps = 0;
  /** Takes the newest staged weights (between steps) and notes how long they took to arrive. */
  const swap = () => {
    const w = policy.swap();
    // Weights published before this actor started (the learner's newest at connection) say
    // nothing of the path: not counted.
    if (w?.publishedAt === undefined || w.publishedAt < startedAt) return;
    swapMs.push(Date.now() - w.publishedAt);
    if (swapMs.length > 100) swapMs.shift();
    swaps++;
  };
  let reported = 0;
  const progress = (stats?: LoopStats) => {
    const now = Date.now();
    if (now - reported < 1000) return;
    reported = now;
    const sorted = [...swapMs].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
    opts.onProgress?.(step, stats, { p50: at(0.5), p99: at(0.99), count: swaps });
  };

  if (opts.rateHz > 0) {
    // The control thread on the real-time scheduler where the system allows it, as live.
    const loop = new LiveLoop(systemClock);
    await new Promise<void>((resolve, reject) => {
      loop.start({
        rateHz: opts.rateHz,
        realtime: 'auto',
        window: Math.max(100, Math.round(opts.rateHz * 10)),
        tick: () => {
          swap();
          act();
          if (step >= opts.envSteps || opts.shouldStop?.()) void loop.stop().then(resolve);
        },
        afterTick: () => {
          recorder.flush();
          progress(loop.stats());
        },
        precise: () => true,
        onError: reject,
      });
      const rt = loop.realtime;
      opts.onLive?.(rt?.ok ? rt.policy : `normal scheduler (${rt?.reason ?? 'off'})`);
    });
  } else {
    const lead = opts.lead ?? 64;
    while (step < opts.envSteps && !stop && !opts.shouldStop?.()) {
      // Keep step with the learner: wait while its online rows (every actor's, and ours still
      // queued) are more than `lead` beyond what it has trained on at the ratio, unless it is
      // idle (its bound lets credit lapse, so a learner slower than the data stays behind).
      while (
        !stop &&
        (!learner.connected ||
          (!learner.learnerIdle &&
            learner.remoteOnline + learner.backlog - learner.steps / opts.utd > lead))
      ) {
        await sleep(2);
      }
      const boundary = act();
      if (opts.evalEvery > 0 && step % opts.evalEvery === 0) evalDue = true;
      if (boundary) {
        recorder.flush();
        swap();
        if (evalDue && policy.ready) {
          evalDue = false;
          const r = evaluatePolicy({
            robot,
            policy,
            recorder,
            runId,
            episodes: opts.evalEpisodes,
            seed: opts.seed,
            envSteps: step,
          });
          results.push(r);
          opts.onEval?.(r);
          if (opts.stopAt !== undefined && r.successRate >= opts.stopAt) stop = true;
          obs = robot.reset(episodeSeed);
        }
      }
      progress();
      if (step % 16 === 0) await new Promise((r) => setImmediate(r));
    }
  }
  recorder.endEpisode(episode, { outcome: 'interrupted', finalObs: obs });
  recorder.flush();
  return results;
}
