import type { LearnerBackend } from '../learner/backend.ts';
import { LearnerConfig } from '../learner/config.ts';
import type { packTransitions } from '../learner/link.ts';
import { LEARNER_PRESETS } from '../learner/presets.ts';
import {
  type HealthAlert,
  RunConfig,
  SessionConfig,
  type SessionConfigInput,
  type StudioEvent,
} from '../protocol/index.ts';
import { createRobot, type Robot, SafeRobot } from '../robots/index.ts';
import type { Store } from '../store/index.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import {
  type LearnerSide,
  openLearnerSide,
  openRemoteLearnerSide,
  type RemoteLearnerSettings,
} from './learner-side.ts';
import type { LearnerMonitor } from './learner-monitor.ts';
import { WriteQueue } from './writes.ts';

export interface SessionOptions {
  backend?: LearnerBackend;
  /** Transitions for the demo buffer at start (e.g. recorded scripted demos). */
  demos?: Parameters<typeof packTransitions>[0];
  /** Code version stored with the run. */
  codeVersion?: string;
  /**
   * The robot, already made for `config.task` (e.g. on a test's stand-in transport); by default
   * the session makes it. Either way it is wrapped in the safety layer with `config.safety`, and
   * the session owns it and closes it.
   */
  robot?: Robot;
  /** The live loop's time source (default: the system's monotonic clock). */
  clock?: Clock;
  /** Train on a remote learner (tandem learner serve) instead of the local worker. */
  remoteLearner?: RemoteLearnerSettings;
}

/** What a session is made of, built before it: nothing in it calls back into a missing object. */
export interface SessionParts {
  config: SessionConfig;
  runId: number;
  store: Store;
  robot: SafeRobot;
  side: LearnerSide;
  writes: WriteQueue;
  listeners: Set<(event: StudioEvent) => void>;
  clock: Clock;
  actorLoss: string;
  /** Hears a remote learner go away and come back (the session sets it). */
  learnerConnection: { listener?: (up: boolean, reason: string) => void };
}

/**
 * Builds a session's parts: the config parsed, the robot behind its safety layer, the run (its
 * whole config stored), the write queue and the learner side (loaded with `demos`; its metrics
 * queued for the slack after a tick, its alerts to the listeners).
 */
export async function openSessionParts(
  store: Store,
  input: SessionConfigInput,
  opts: SessionOptions,
): Promise<SessionParts> {
  const config = SessionConfig.parse(input);
  const robot = opts.robot
    ? new SafeRobot(opts.robot, config.safety)
    : await createRobot(config.task, config.safety);
  try {
    const demos = opts.demos ?? [];
    const learner = LearnerConfig.parse({
      ...LEARNER_PRESETS[config.task.task],
      seed: config.seed,
      actorLoss: demos.length > 0 ? 'sac+bc' : 'sac',
      ...config.learner,
    });
    const runConfig: RunConfig = {
      command: 'studio',
      task: config.task,
      seed: config.seed,
      session: { ...config, learner: { ...learner } },
      ...(opts.remoteLearner
        ? { remote: { url: opts.remoteLearner.url, actor: opts.remoteLearner.actor } }
        : {}),
    };
    const runId = store.createRun({
      command: 'studio',
      task: config.task.task,
      config: JSON.parse(
        JSON.stringify(runConfig, (_, v: unknown) => (v === Infinity ? 'Infinity' : v)),
      ) as RunConfig,
      spec: robot.spec,
      ...(opts.codeVersion ? { codeVersion: opts.codeVersion } : {}),
    });
    const writes = new WriteQueue(store);
    const listeners = new Set<(event: StudioEvent) => void>();
    const learnerConnection: SessionParts['learnerConnection'] = {};
    const common = {
      store,
      runId,
      spec: robot.spec,
      config: { ...learner },
      demos,
      onAlert: (alert: HealthAlert) => listeners.forEach((l) => l({ event: 'alert', data: alert })),
      loop: () => ({ envSteps: side.link.sentOnline }),
      // The monitor writes SQLite: its records are taken in the slack after a tick.
      deliverMetrics: (m: Record<string, number>, monitor: LearnerMonitor) =>
        writes.later(() => monitor.observe(m)),
    };
    const side: LearnerSide = opts.remoteLearner
      ? await openRemoteLearnerSide({
          ...common,
          remote: opts.remoteLearner,
          onConnection: (up, reason) => learnerConnection.listener?.(up, reason),
        })
      : await openLearnerSide({ ...common, ...(opts.backend ? { backend: opts.backend } : {}) });
    return {
      config,
      runId,
      store,
      robot,
      side,
      writes,
      listeners,
      clock: opts.clock ?? systemClock,
      actorLoss: learner.actorLoss,
      learnerConnection,
    };
  } catch (err) {
    robot.close();
    throw err;
  }
}
