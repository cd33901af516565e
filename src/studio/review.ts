import { type Episode, type MetricSeries, RunConfig, type Step } from '../protocol/index.ts';
import { createRobot, replayRefusal, type SafeRobot } from '../robots/index.ts';
import type { SafetyVerdict } from '../robots/safety.ts';
import type { Store } from '../store/index.ts';

/** The run's learner metrics as series (all names, or `names`), after learner step `afterStep`. */
export function metricSeries(
  store: Store,
  runId: number,
  names?: readonly string[],
  afterStep = -1,
): MetricSeries[] {
  const wanted = names ? new Set(names) : undefined;
  const series = new Map<string, MetricSeries>();
  for (const m of store.readMetrics(runId, undefined, afterStep)) {
    if (wanted && !wanted.has(m.name)) continue;
    let s = series.get(m.name);
    if (!s) series.set(m.name, (s = { name: m.name, steps: [], values: [] }));
    s.steps.push(m.step);
    s.values.push(Number.isFinite(m.value) ? m.value : null);
  }
  return [...series.values()];
}

/** The safety settings a run was recorded with (a session keeps them in its own config). */
export function runSafety(config: RunConfig): Record<string, unknown> {
  const session = config.session?.safety;
  return (
    config.safety ??
    (session && typeof session === 'object' ? (session as Record<string, unknown>) : {})
  );
}

/** One replayed step: what the robot returned, and what the safety layer made of the action. */
export interface ReplayedStep {
  recorded: Step;
  /** The observation the recorded action was executed from in the replay. */
  obs: Float64Array;
  reward: number;
  verdict: SafetyVerdict;
  /** The executed action differs from the recorded one (the layer changed it). */
  changed: boolean;
}

/**
 * Re-runs episode `episodeId` from its seed with its recorded actions on a new robot of its run's
 * task, through the safety layer with the run's settings (the actions are re-filtered, so a row
 * that was tampered with, or written by a tool without the layer, cannot move the robot beyond
 * it). Calls `onStep` after each step; `before` with the robot after the reset. Real robots'
 * episodes are refused: replaying them would move the robot.
 */
export async function replayEpisode(
  store: Store,
  episodeId: number,
  hooks: {
    before?: (robot: SafeRobot) => void;
    onStep?: (step: ReplayedStep, robot: SafeRobot) => void;
  },
): Promise<{ episode: Episode; steps: number; finalObs: Float64Array }> {
  const episode = store.getEpisode(episodeId);
  if (!episode) throw new Error(`there is no episode ${episodeId}`);
  const run = store.getRun(episode.runId);
  const config = RunConfig.safeParse(run?.config);
  if (!config.success) throw new Error(`episode ${episodeId}: its run's config is unreadable`);
  const refusal = replayRefusal(config.data.task.task, episodeId);
  if (refusal) throw new Error(refusal);
  const steps = store.readSteps(episodeId);
  const robot = await createRobot(config.data.task, runSafety(config.data));
  try {
    let obs = robot.reset(episode.seed);
    hooks.before?.(robot);
    for (const recorded of steps) {
      const step = robot.apply(recorded.action, { source: 'policy', mode: 'autonomous' });
      const action = step.safety.action;
      const changed = recorded.action.some((a, i) => Math.fround(a) !== action[i]);
      hooks.onStep?.(
        { recorded, obs, reward: step.reward, verdict: step.safety.verdict, changed },
        robot,
      );
      obs = step.obs;
    }
    return { episode, steps: steps.length, finalObs: obs };
  } finally {
    robot.close();
  }
}

/** The bodies' poses before the first step and after each, for the review's 3D replay. */
export async function replayPoses(store: Store, episodeId: number): Promise<{ poses: number[][] }> {
  const poses: number[][] = [];
  const take = (robot: SafeRobot) => {
    const p = robot.poses();
    if (!p) throw new Error(`task ${robot.spec.task} cannot show its poses`);
    poses.push(Array.from(p));
  };
  await replayEpisode(store, episodeId, { before: take, onStep: (_, robot) => take(robot) });
  return { poses };
}
