import type { CorrectiveOperator } from '../operator/corrective.ts';
import type {
  EpisodeOutcome,
  ModeEvent,
  OperatorTiming,
  SessionConfig,
  StudioEvent,
} from '../protocol/index.ts';
import type { SafeRobot } from '../robots/index.ts';
import type { SafetyResult } from '../robots/safety.ts';
import { Random } from '../util/random.ts';
import type { Episodes } from './episodes.ts';
import type { LearnerSide } from './learner-side.ts';
import type { ModeMachine } from './modes.ts';
import { epochNow, type OperatorInput } from './operator-input.ts';
import type { Samples } from './status.ts';
import { takeStep } from './step.ts';
import { telemetryOf } from './status.ts';

export interface TickParts {
  config: SessionConfig;
  rateHz: number;
  robot: SafeRobot;
  modes: ModeMachine;
  operator: OperatorInput;
  episodes: Episodes;
  side: LearnerSide;
  /** The scripted operator (config.operator 'scripted'), which decides when to take over. */
  corrective: CorrectiveOperator | undefined;
  actorLoss: string;
  samples: { inference: Samples; swaps: Samples };
  emit: (event: StudioEvent) => void;
  /** Whether anyone listens (telemetry is built only then). */
  listening: () => boolean;
  alarm: (message: string) => void;
  /** The studio pauses itself (an operator or robot fault). */
  pause: () => void;
}

/**
 * The live session's control tick: who drives, what they propose, the one step through the
 * safety layer (`takeStep`), and where its transition goes (the episode's steps, the learner,
 * telemetry). It takes the time as an argument and writes nothing to SQLite itself: the episode
 * and event writes go to the session's write queue.
 */
export class Tick {
  readonly #p: TickParts;
  readonly #rng: Random;
  #actorLoss: string;
  #count = 0;
  #interventionSteps = 0;
  /** The robot reported faults at its last step (one alarm per spell). */
  #robotFaulted = false;

  constructor(parts: TickParts) {
    this.#p = parts;
    this.#rng = new Random(parts.config.seed ^ 0x5e55);
    this.#actorLoss = parts.actorLoss;
  }

  /** Ticks run so far. */
  get count(): number {
    return this.#count;
  }

  get interventionSteps(): number {
    return this.#interventionSteps;
  }

  /** One control tick at `now` (ms); `live`: on the wall clock (headset latencies are real). */
  run(now: number, live: boolean): void {
    const { robot, modes, episodes, corrective, config, operator } = this.#p;
    const { policy } = this.#p.side;
    this.#count++;
    const swapped = policy.swap();
    if (swapped) {
      if (swapped.publishedAt !== undefined) {
        this.#p.samples.swaps.push(epochNow() - swapped.publishedAt);
      }
      this.#p.emit({ event: 'policy', data: { version: swapped.version } });
    }
    if (!episodes.running) {
      if (!episodes.due(now) || modes.driver() === 'none') {
        this.#telemetry(undefined, undefined, undefined, undefined);
        return;
      }
      this.#beginEpisode();
    }
    const obs = robot.observation!;

    // The policy's proposal, computed on every tick it can be, also while the operator drives.
    let proposal: Float32Array | null = null;
    const explore = config.sample && modes.mode === 'autonomous';
    if (policy.ready) {
      const t0 = performance.now();
      proposal = policy.act(obs, explore ? this.#rng : undefined, robot.safety.gripperCommand);
      this.#p.samples.inference.push(performance.now() - t0);
    }
    // The scripted operator decides by itself when to take over and hand back. It judges the
    // policy's intent, its mean action, as a person watching would, not the exploration noise.
    let scriptedAction: ArrayLike<number> | null = null;
    if (corrective) {
      const intent =
        proposal && explore ? policy.act(obs, undefined, robot.safety.gripperCommand) : proposal;
      const decision = corrective.decide(obs, intent ?? undefined);
      scriptedAction = decision.action;
      // Without scripted interventions it only drives when asked (BC-warmup).
      if (config.scriptedInterventions && modes.mode === 'autonomous' && decision.intervene) {
        modes.apply({ type: 'intervene', pressed: true, origin: 'scripted' }, now);
      } else if (modes.mode === 'intervention' && !decision.intervene) {
        modes.apply({ type: 'intervene', pressed: false, origin: 'scripted' }, now);
      }
    }
    const mode = modes.mode;
    const byOperator = modes.driver() === 'operator';
    // The headset's clutch latches only while the operator drives: taking over latches afresh.
    // It starts from the gripper command the robot executes, so taking over never drops the cube.
    if (!byOperator) operator.headset?.unlatch(robot.safety.gripperCommand);
    const human = byOperator && !corrective ? operator.read(obs, now, live) : undefined;
    if (modes.driver() === 'none') {
      this.#telemetry(undefined, proposal, undefined, undefined);
      return; // paused or e-stop: the robot is not stepped at all
    }
    const step = takeStep(robot, {
      proposal,
      ...(byOperator
        ? {
            operator: human
              ? {
                  kind: 'human' as const,
                  action: human.action,
                  receivedAt: human.receivedAt,
                  repeated: human.repeated,
                }
              : { kind: 'scripted' as const, action: scriptedAction },
          }
        : {}),
      mode,
      now,
      intervened: mode === 'intervention',
      policyVersion: policy.version,
    });
    const { transition: t, safety } = step;
    if (safety.alarm) this.#p.alarm(safety.alarm);
    // A stream gone stale: this tick held still (and alarmed); unless told only to hold, pause
    // too. (Before the operator's first packet the robot just holds: nothing has failed yet.)
    const stale =
      human?.receivedAt !== undefined &&
      safety.alarm !== undefined &&
      safety.reasons.includes('stale-operator');
    if (stale && config.operatorFault === 'pause') this.#p.pause();
    // The robot could not act safely and held still (say, a silent sensor topic): alarm, pause.
    if (step.faults.length > 0 && !this.#robotFaulted) {
      this.#p.alarm(`the robot held still: ${step.faults.join('; ')}; paused`);
      this.#p.pause();
    }
    this.#robotFaulted = step.faults.length > 0;
    episodes.add(t);
    this.#p.side.link.feed([t]);
    if (t.intervened) this.#interventionSteps++;
    this.#telemetry(safety, proposal, t.reward, human?.timing);
    if (t.done || t.truncated) {
      this.#endEpisode(t.done ? (step.success ? 'success' : 'failure') : 'timeout', now);
    }
  }

  /** What a mode transition changes here: episodes at BC-warmup's edges, the actor's loss. */
  modeChanged(event: ModeEvent & { kind: 'transition' }, now: number): void {
    // An episode is a demonstration or not from start to end: entering or leaving BC-warmup ends
    // the running one (as a time-out: the task did not end it).
    if ((event.from === 'bc-warmup') !== (event.to === 'bc-warmup') && this.#p.episodes.running) {
      const between = event.to === 'e-stop' || event.to === 'paused';
      if (!between) this.#endEpisode('timeout', now);
    }
    // BC-warmup trains the actor by behaviour cloning; RL after it keeps a decaying BC term.
    if (event.to === 'bc-warmup') this.#setActorLoss('bc');
    else if (event.from === 'bc-warmup' && event.to === 'autonomous') this.#setActorLoss('sac+bc');
  }

  #setActorLoss(loss: 'bc' | 'sac+bc'): void {
    if (this.#actorLoss === loss) return;
    this.#actorLoss = loss;
    this.#p.side.link.setActorLoss(loss);
  }

  #beginEpisode(): void {
    const { robot, episodes, modes } = this.#p;
    const e = episodes.begin(modes.mode === 'bc-warmup' ? 'demo' : 'train');
    robot.reset(e.seed);
    this.#p.corrective?.reset();
    this.#p.operator.headset?.reset();
  }

  /** The operator's word on the running episode (an EpisodeCommand), between ticks. */
  episodeCommand(input: unknown, now: number): void {
    const { episodes, robot, config } = this.#p;
    const running = episodes.running;
    episodes.command(input, robot.observation!, now, config.autoResetMs);
    if (running && !episodes.running) this.#episodeEnded(now);
  }

  #endEpisode(outcome: EpisodeOutcome, now: number): void {
    const { episodes, robot, config } = this.#p;
    episodes.end(outcome, robot.observation!, now, config.autoResetMs);
    this.#episodeEnded(now);
  }

  /** A scripted intervention ends with its episode; the next starts under the policy. */
  #episodeEnded(now: number): void {
    const { corrective, modes } = this.#p;
    if (corrective && modes.mode === 'intervention') {
      modes.apply({ type: 'intervene', pressed: false, origin: 'scripted' }, now);
    }
  }

  #telemetry(
    safe: SafetyResult | undefined,
    proposal: Float32Array | null | undefined,
    reward: number | undefined,
    operator: OperatorTiming | undefined,
  ): void {
    if (!this.#p.listening()) return;
    const { robot, modes, episodes } = this.#p;
    const e = episodes.running;
    this.#p.emit({
      event: 'telemetry',
      data: telemetryOf({
        tick: this.#count,
        mode: modes.mode,
        driver: modes.driver(),
        episode: e && { id: e.handle.id, steps: e.steps },
        obs: robot.observation!,
        safe,
        proposal,
        reward,
        policyVersion: this.#p.side.policy.version,
        poses: robot.poses(),
        operator,
      }),
    });
  }
}
