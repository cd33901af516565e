import type { SafeRobot } from '../robots/index.ts';
import type { SafetyLayer, SafetyResult } from '../robots/safety.ts';
import type {
  HealthAlert,
  Mode,
  OperatorTiming,
  SessionConfig,
  SessionStatus,
  Telemetry,
} from '../protocol/index.ts';
import type { Episodes } from './episodes.ts';
import type { LearnerSide } from './learner-side.ts';
import type { LoopStats } from './control-loop.ts';
import type { RealtimeResult } from './realtime.ts';

/** A fixed ring of timing samples (ms) with its quantiles. */
export class Samples {
  readonly #ring: Float64Array;
  #count = 0;

  constructor(size = 1000) {
    this.#ring = new Float64Array(size);
  }

  push(x: number): void {
    this.#ring[this.#count++ % this.#ring.length] = x;
  }

  /** The q-quantile of the samples held (0 when empty). */
  quantile(q: number): number {
    const n = Math.min(this.#count, this.#ring.length);
    if (n === 0) return 0;
    const sorted = this.#ring.slice(0, n).sort();
    return sorted[Math.floor(q * (n - 1))]!;
  }
}

/** One tick as the UI and the headset see it. */
export function telemetryOf(parts: {
  tick: number;
  mode: Telemetry['mode'];
  driver: Telemetry['driver'];
  episode: { id: number | undefined; steps: number } | undefined;
  obs: ArrayLike<number>;
  safe: SafetyResult | undefined;
  proposal: ArrayLike<number> | null | undefined;
  reward: number | undefined;
  policyVersion: number;
  poses: Float64Array | undefined;
  operator: OperatorTiming | undefined;
}): Telemetry {
  const { safe, proposal, episode } = parts;
  return {
    tick: parts.tick,
    mode: parts.mode,
    driver: parts.driver,
    ...(episode?.id !== undefined ? { episodeId: episode.id } : {}),
    step: episode?.steps ?? 0,
    obs: Array.from(parts.obs),
    ...(safe ? { action: Array.from(safe.action) } : {}),
    ...(proposal ? { proposed: Array.from(proposal) } : {}),
    ...(parts.reward !== undefined ? { reward: parts.reward } : {}),
    policyVersion: parts.policyVersion,
    ...(safe ? { safety: { verdict: safe.verdict, reasons: safe.reasons } } : {}),
    ...(parts.poses ? { poses: Array.from(parts.poses) } : {}),
    ...(parts.operator ? { operator: parts.operator } : {}),
  };
}

/** The control loop's figures for `status()`: p99s over the last ticks (0 before live). */
export function loopStatus(parts: {
  ticks: number;
  stats: LoopStats | undefined;
  inference: Samples;
  swaps: Samples;
  realtime: RealtimeResult | undefined;
  writesInTicks: number;
}): SessionStatus['loop'] {
  const { stats, realtime } = parts;
  return {
    ticks: parts.ticks,
    missed: stats?.missed ?? 0,
    periodErrorP99: stats?.periodError.p99 ?? 0,
    latenessP99: stats?.lateness.p99 ?? 0,
    latenessMax: stats?.lateness.max ?? 0,
    workP99: stats?.work.p99 ?? 0,
    inferenceP99: parts.inference.quantile(0.99),
    swapLatencyP50: parts.swaps.quantile(0.5),
    scheduling: !realtime
      ? 'normal'
      : realtime.ok
        ? realtime.policy
        : `normal (real-time refused: ${realtime.reason})`,
    writesInTicks: parts.writesInTicks,
  };
}

/** How a keyboard or gamepad drives this robot (null: it takes no end-effector deltas). */
export function teleopLayout(safety: SafetyLayer): SessionStatus['teleop'] {
  const spec = safety.safety;
  if (spec.kind !== 'ee-delta') return null;
  return {
    actionDim: safety.spec.action.names.length,
    translation: [...spec.translation] as [number, number, number],
    ...(spec.gripper ? { gripper: spec.gripper.index } : {}),
  };
}

/** A session's status answer from its rooms' figures. */
export function sessionStatus(p: {
  runId: number;
  config: SessionConfig;
  rateHz: number;
  robot: SafeRobot;
  mode: Mode;
  live: boolean;
  episodes: Episodes;
  side: LearnerSide;
  /** Learner steps known from lock-step training or a pause (the metrics may lag them). */
  headlessSteps: number;
  loop: SessionStatus['loop'];
  interventions: SessionStatus['interventions'];
  alarms: readonly string[];
  /** The hand-over watch's alert, if raised. */
  handover?: HealthAlert | undefined;
}): SessionStatus {
  const e = p.episodes.running;
  const { link, monitor, policy } = p.side;
  const outcomes = p.episodes.outcomes;
  return {
    runId: p.runId,
    task: p.robot.spec.task,
    mode: p.mode,
    operator: p.config.operator,
    interventionStyle: p.config.interventionStyle,
    rateHz: p.rateHz,
    running: p.live,
    ...(e?.handle.id !== undefined
      ? { episode: { id: e.handle.id, kind: e.kind, steps: e.steps, return: e.return } }
      : {}),
    episodes: {
      total: p.episodes.total,
      success: outcomes.success,
      failure: outcomes.failure,
      timeout: outcomes.timeout,
      discarded: outcomes.discarded,
    },
    policyVersion: policy.version,
    learner: {
      backend: link.backend,
      steps: Math.max(p.headlessSteps, monitor.latest.step ?? 0, link.steps),
      updatesPerS: monitor.latest.updates_per_s ?? 0,
      updateToData: link.updateToData,
      backlog: link.backlog,
      online: link.sentOnline,
      demo: link.sentDemo,
    },
    loop: p.loop,
    interventions: p.interventions,
    teleop: teleopLayout(p.robot.safety),
    health: [...monitor.health.active(), ...(p.handover ? [p.handover] : [])],
    alarms: [...p.alarms],
  };
}
