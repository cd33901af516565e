import type { LearnerBackend } from '../learner/backend.ts';
import { controlSideConfig, withGripperOf } from '../learner/config.ts';
import { type LearnerHandle, LearnerLink, packTransitions } from '../learner/link.ts';
import { RemoteLearner } from '../learner/remote/client.ts';
import type { PolicyWeights } from '../learner/messages.ts';
import { PolicyRunner } from '../learner/policy.ts';
import type { HealthAlert, RobotSpec } from '../protocol/index.ts';
import type { Store } from '../store/index.ts';
import { LearnerMonitor, type LoopFigures } from './learner-monitor.ts';

export interface LearnerSideOptions {
  store: Store;
  runId: number;
  spec: RobotSpec;
  /** The learner config (LearnerConfig input; a checkpoint's config wins over it). */
  config: Record<string, unknown>;
  backend?: LearnerBackend;
  /** A checkpoint payload to continue from. */
  checkpoint?: Uint8Array;
  /** Transitions for the demo buffer at start (recorded demonstrations). */
  demos?: Parameters<typeof packTransitions>[0];
  onAlert: (alert: HealthAlert) => void;
  /** The loop's figures, read with each metrics record. */
  loop: () => LoopFigures;
  /**
   * How a metrics record reaches the monitor (which writes SQLite): at once by default; the live
   * session queues it for the slack after a tick.
   */
  deliverMetrics?: (metrics: Record<string, number>, monitor: LearnerMonitor) => void;
  /** Weights published while free-running, after the policy runner has staged them. */
  onWeights?: (weights: PolicyWeights) => void;
}

/** The learner as a loop sees it: its link (local or remote), the policy it acts with, the monitor. */
export interface LearnerSide<L extends LearnerHandle = LearnerHandle> {
  link: L;
  policy: PolicyRunner;
  monitor: LearnerMonitor;
}

/**
 * The control side's health monitor and policy runner for a learner config (a stored config
 * writes ∞ as "Infinity": the worker reads those back; none of the figures used here can be one).
 */
export function controlSide(
  opts: Pick<LearnerSideOptions, 'store' | 'runId' | 'onAlert' | 'loop'>,
  learnerConfig: Record<string, unknown>,
  obsDim: number,
  actionDim: number,
): { monitor: LearnerMonitor; policy: PolicyRunner } {
  const config = controlSideConfig(learnerConfig);
  const monitor = new LearnerMonitor({
    store: opts.store,
    runId: opts.runId,
    context: { gamma: config.gamma, rewardScale: config.rewardScale, actionDim },
    onAlert: opts.onAlert,
    loop: opts.loop,
  });
  const policy = new PolicyRunner(obsDim, actionDim, [config.logStdMin, config.logStdMax]);
  return { monitor, policy };
}

/**
 * Assembles the learner side of a run, for `tandem serve` (the session) and `tandem train`
 * alike: the health monitor, the control-side policy runner, the worker (its backend stored with
 * the run) and the demo buffer filled. Everything that calls back exists before the worker starts.
 */
export async function openLearnerSide(opts: LearnerSideOptions): Promise<LearnerSide<LearnerLink>> {
  const obsDim = opts.spec.observation.names.length;
  const actionDim = opts.spec.action.names.length;
  const config = withGripperOf(opts.config, opts.spec);
  const { monitor, policy } = controlSide(opts, config, obsDim, actionDim);
  const deliver = opts.deliverMetrics ?? ((m, to) => to.observe(m));
  const link = await LearnerLink.start({
    obsDim,
    actionDim,
    config,
    ...(opts.backend ? { backend: opts.backend } : {}),
    ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
    metricsEvery: 50,
    onMetrics: (m) => deliver(m, monitor),
    onWeights: (w) => {
      policy.stage(w);
      opts.onWeights?.(w);
    },
  });
  try {
    opts.store.setRunBackend(opts.runId, link.backend);
    const demos = opts.demos ?? [];
    if (demos.length > 0) link.add('demo', packTransitions(demos, obsDim, actionDim));
    return { link, policy, monitor };
  } catch (err) {
    await link.close();
    throw err;
  }
}

/** Where a studio finds its remote learner (tandem serve --learner). */
export interface RemoteLearnerSettings {
  url: string;
  /** This studio's actor id (stable across restarts: its stream resumes). */
  actor: string;
  token?: string;
  caPath?: string;
}

/**
 * The learner side of a studio whose learner runs elsewhere (`tandem learner serve`): the same
 * monitor and policy runner, fed by the remote learner's metrics and weights; `onConnection`
 * hears when it goes away and comes back. Demos go to it as recorded demonstrations, once (not
 * again when this actor's stream resumes).
 */
export async function openRemoteLearnerSide(
  opts: Omit<LearnerSideOptions, 'backend' | 'checkpoint'> & {
    remote: RemoteLearnerSettings;
    onConnection: (up: boolean, reason: string) => void;
  },
): Promise<LearnerSide<RemoteLearner>> {
  const obsDim = opts.spec.observation.names.length;
  const actionDim = opts.spec.action.names.length;
  const deliver = opts.deliverMetrics ?? ((m, to) => to.observe(m));
  const early: { side?: LearnerSide<RemoteLearner> } = {};
  const link = await RemoteLearner.connect({
    ...opts.remote,
    task: opts.spec.task,
    obsDim,
    actionDim,
    onWeights: (w) => {
      early.side?.policy.stage(w);
      opts.onWeights?.(w);
    },
    onMetrics: (m) => early.side && deliver(m, early.side.monitor),
    onConnection: opts.onConnection,
  });
  try {
    early.side = { link, ...controlSide(opts, link.config, obsDim, actionDim) };
    opts.store.setRunBackend(opts.runId, link.backend);
    const demos = opts.demos ?? [];
    if (demos.length > 0 && link.acked === 0)
      link.add('demo', packTransitions(demos, obsDim, actionDim));
    return early.side;
  } catch (err) {
    await link.close();
    throw err;
  }
}
