import { LearnerConfig } from '../learner/config.ts';
import { LearnerLink, packTransitions } from '../learner/link.ts';
import { PolicyRunner } from '../learner/policy.ts';
import { LEARNER_PRESETS } from '../learner/presets.ts';
import { ClutchMapper } from '../operator/clutch.ts';
import { CorrectiveOperator } from '../operator/corrective.ts';
import { TeleopInput } from '../operator/teleop.ts';
import {
  type ActionSource,
  EpisodeCommand,
  type EpisodeKind,
  type EpisodeOutcome,
  type HealthAlert,
  type MetricSeries,
  type ModeEvent,
  type OperatorTiming,
  RunConfig,
  SessionConfig,
  type SessionConfigInput,
  type SessionStatus,
  type StudioEvent,
  type Telemetry,
  type XrAck,
} from '../protocol/index.ts';
import { createExpert, createRobot, replayRefusal, type Robot } from '../robots/index.ts';
import { Recorder, type Store } from '../store/index.ts';
import { Random } from '../util/random.ts';
import type { BackendName } from '../learner/backend.ts';
import { ControlLoop } from './control-loop.ts';
import { enterRealtime, leaveRealtime, type RealtimeResult } from './realtime.ts';
import { LearnerMonitor } from './learner-monitor.ts';
import { ModeMachine, type ModeResult } from './modes.ts';
import { SafetyLayer, type SafetyResult } from './safety.ts';

export interface SessionOptions {
  backend?: BackendName;
  /** Transitions for the demo buffer at start (e.g. recorded scripted demos). */
  demos?: Parameters<typeof packTransitions>[0];
  /** Code version stored with the run. */
  codeVersion?: string;
  /**
   * The robot, already made for `config.task` (e.g. on a test's stand-in transport); by default
   * the session makes it. The session owns it either way and closes it.
   */
  robot?: Robot;
}

interface RunningEpisode {
  id: number;
  kind: EpisodeKind;
  seed: number;
  steps: number;
  return: number;
  intervened: number;
}

/** What each operator episode command stores (see EpisodeCommand). */
const COMMAND_OUTCOME: Record<EpisodeCommand, EpisodeOutcome> = {
  success: 'success',
  failure: 'failure',
  discard: 'discarded',
  reset: 'timeout',
};

/** Samples kept for the inference-time and swap-latency figures. */
const WINDOW = 1000;

/** The human operator's input for one tick: the action, and how fresh it is. */
interface HumanInput {
  action: ArrayLike<number> | null;
  receivedAt: number | undefined;
  timing: OperatorTiming | undefined;
}

/** Epoch milliseconds at sub-millisecond resolution: the clock headset packets are stamped with. */
function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

interface Sink {
  alert: (alert: HealthAlert) => void;
  metrics: (m: Record<string, number>) => void;
}

/**
 * One studio session: the robot, the operator's inputs, the policy, the safety layer, the
 * recorder and the learner worker, driven one control tick at a time. It is one run in SQLite,
 * with its whole config. Two drivers share the same `tick`:
 * - live (`startLive`): a ControlLoop at the control rate, the learner free-running in its
 *   worker and publishing weights, which are swapped in between ticks;
 * - headless (`runHeadless`): ticks on a virtual clock as fast as the sim goes, lock-stepped with
 *   a fixed number of learner steps per tick (reproducible: for tests and benchmarks).
 *
 * A tick never waits: the policy runs in plain TypeScript, steps go to the Recorder's queue and
 * transitions to the worker as messages.
 */
export class Session {
  readonly config: SessionConfig;
  readonly runId: number;
  readonly robot: Robot;
  readonly modes: ModeMachine;
  readonly safety: SafetyLayer;
  readonly policy: PolicyRunner;
  readonly teleop: TeleopInput;
  /** The headset's clutch mapping; absent for a robot that does not take end-effector deltas. */
  readonly headset: ClutchMapper | undefined;
  readonly rateHz: number;
  /** The session's database (the review calls read and annotate episodes through it). */
  readonly store: Store;
  readonly #link: LearnerLink;
  readonly #recorder: Recorder;
  readonly #monitor: LearnerMonitor;
  readonly #corrective: CorrectiveOperator | undefined;
  readonly #rng: Random;
  readonly #listeners = new Set<(event: StudioEvent) => void>();
  readonly #obsDim: number;
  readonly #actionDim: number;
  readonly #batchSize: number;
  #loop: ControlLoop | undefined;
  #obs: Float64Array;
  #episode: RunningEpisode | undefined;
  #nextSeed: number;
  /** When the next episode may begin (ms), while between episodes; undefined: on command. */
  #resetAt: number | undefined = 0;
  #ticks = 0;
  #clock = 0;
  #sent = { online: 0, demo: 0 };
  #learnerSteps = 0;
  #interventions = 0;
  #interventionSteps = 0;
  #outcomes: Record<EpisodeOutcome, number> = {
    success: 0,
    failure: 0,
    timeout: 0,
    interrupted: 0,
    discarded: 0,
  };
  readonly #inference = new Float64Array(WINDOW);
  #inferenceCount = 0;
  readonly #swaps = new Float64Array(WINDOW);
  #swapCount = 0;
  #alarms: string[] = [];
  /** Whose packets the human operator drives with: the newest to arrive wins. */
  #device: 'teleop' | 'headset' = 'teleop';
  /** The operator's connection dropped: hold (no action) until a packet comes again. */
  #operatorGone = false;
  /** When the operator's turn began: packets from before it are not this turn's input. */
  #turnBegan = -Infinity;
  /** The robot reported faults at its last step (one alarm per spell). */
  #robotFaulted = false;
  #actorLoss: string;
  #closed = false;
  /** Learner metrics that arrived while live, taken after the next tick. */
  #metricsQueue: Record<string, number>[] = [];
  /** The control thread's scheduling while live (undefined: not live yet, or `realtime: off`). */
  #realtime: RealtimeResult | undefined;

  private constructor(parts: {
    config: SessionConfig;
    runId: number;
    store: Store;
    robot: Robot;
    link: LearnerLink;
    monitor: LearnerMonitor;
    policy: PolicyRunner;
    batchSize: number;
    actorLoss: string;
    sink: Sink;
  }) {
    const { config, robot } = parts;
    this.config = config;
    this.runId = parts.runId;
    this.robot = robot;
    this.store = parts.store;
    this.#link = parts.link;
    this.#monitor = parts.monitor;
    this.policy = parts.policy;
    this.#batchSize = parts.batchSize;
    this.#actorLoss = parts.actorLoss;
    this.rateHz = config.rateHz ?? robot.spec.rateHz;
    this.#obsDim = robot.spec.observation.names.length;
    this.#actionDim = robot.spec.action.names.length;
    // Written in the slack after a tick (`#afterTick`), never from a timer that could fire just
    // before a deadline.
    this.#recorder = new Recorder(parts.store, { timer: false });
    this.safety = new SafetyLayer(robot.spec, config.safety);
    this.teleop = new TeleopInput(this.#actionDim);
    this.headset =
      robot.spec.safety?.kind === 'ee-delta'
        ? new ClutchMapper(robot.spec, config.headset)
        : undefined;
    this.#corrective =
      config.operator === 'scripted' ? new CorrectiveOperator(createExpert(robot)) : undefined;
    this.#rng = new Random(config.seed ^ 0x5e55);
    this.modes = new ModeMachine({
      style: config.interventionStyle,
      listener: (event) => this.#onMode(event),
    });
    this.#nextSeed = config.seed;
    this.#obs = robot.reset(this.#nextSeed);
    parts.sink.alert = (alert) => this.#emit({ event: 'alert', data: alert });
    parts.sink.metrics = (m) => this.#onMetrics(m);
  }

  /** Opens a session: creates its run, the robot, the learner worker (loaded with `demos`). */
  static async open(
    store: Store,
    input: SessionConfigInput,
    opts: SessionOptions = {},
  ): Promise<Session> {
    const config = SessionConfig.parse(input);
    const robot = opts.robot ?? (await createRobot(config.task));
    const obsDim = robot.spec.observation.names.length;
    const actionDim = robot.spec.action.names.length;
    let link: LearnerLink | undefined;
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
      const policy = new PolicyRunner(obsDim, actionDim, [learner.logStdMin, learner.logStdMax]);
      // The worker's callbacks reach the session once it exists (it fills the sink in).
      const sink: Sink = { alert: () => {}, metrics: () => {} };
      const monitor = new LearnerMonitor(
        store,
        runId,
        { gamma: learner.gamma, rewardScale: learner.rewardScale, actionDim },
        (alert) => {
          sink.alert(alert);
        },
      );
      link = await LearnerLink.start({
        obsDim,
        actionDim,
        config: { ...learner },
        ...(opts.backend ? { backend: opts.backend } : {}),
        metricsEvery: 50,
        onMetrics: (m) => sink.metrics(m),
        onWeights: (w) => policy.stage(w),
      });
      store.setRunBackend(runId, link.backend);
      const session = new Session({
        config,
        runId,
        store,
        robot,
        link,
        monitor,
        policy,
        batchSize: learner.batchSize,
        actorLoss: learner.actorLoss,
        sink,
      });
      if (demos.length > 0) {
        link.add('demo', packTransitions(demos, obsDim, actionDim));
        session.#sent.demo += demos.length;
      }
      return session;
    } catch (err) {
      await link?.close();
      robot.close();
      throw err;
    }
  }

  /** Listens to the studio's events (telemetry every tick, mode, alerts, episodes, policy). */
  on(listener: (event: StudioEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: StudioEvent): void {
    for (const l of this.#listeners) l(event);
  }

  /** A mode command (UI, keyboard, gamepad, headset): validated by the machine. */
  command(input: unknown): ModeResult {
    return this.modes.apply(input, this.#now());
  }

  /** An operator packet; throws TeleopError (and changes nothing) if it is malformed or late. */
  teleopPacket(raw: unknown): void {
    this.teleop.accept(raw, this.#now());
    this.#device = 'teleop';
    this.#operatorGone = false;
  }

  /**
   * One headset frame (an XrPacket; `bytes`: its size on the wire). A malformed, oversized or
   * out-of-order one is ignored and counted (`headset.counters()`); an accepted one becomes the
   * operator's input, and its buttons' edges become commands: A = intervene (read by the
   * intervention style), B = success. Call it only for the connection in control.
   */
  xrPacket(raw: unknown, bytes?: number): XrAck {
    const headset = this.headset;
    if (!headset) throw new Error(`task ${this.robot.spec.task} cannot be driven from a headset`);
    const result = headset.accept(raw, this.#now(), bytes);
    const latest = result === 'accepted' ? headset.latest : undefined;
    if (latest) {
      this.#device = 'headset';
      this.#operatorGone = false;
      for (const e of headset.events()) {
        if (e.type === 'intervene') {
          this.modes.apply({ type: 'intervene', pressed: e.pressed, origin: 'headset' }, e.at);
        } else {
          this.episode('success');
        }
      }
    }
    return {
      seq: latest?.seq ?? null,
      t: latest?.t ?? null,
      result,
      receivedAt: epochNow(),
    };
  }

  /** A headset took control: its stream starts afresh (sequence numbers, buttons, clutch). */
  headsetConnected(): void {
    this.headset?.restart();
  }

  /**
   * The human operator's connection dropped (`what` names it for the alarm). While the operator
   * drives, the robot holds still at once, an alarm is raised and, unless `operatorFault` is
   * `hold`, the mode falls back to paused.
   */
  operatorDisconnected(what: string): void {
    this.headset?.unlatch();
    if (this.config.operator !== 'human' || this.modes.driver() !== 'operator') return;
    this.#operatorGone = true;
    const pause = this.config.operatorFault === 'pause';
    this.#alarm(
      `${what} disconnected while the operator drove: holding still${pause ? ', paused' : ''}`,
    );
    if (pause) this.#pauseForFault();
  }

  /** The operator's input failed (`operatorFault: pause`), or the robot's: paused, by the studio. */
  #pauseForFault(): void {
    this.modes.apply({ type: 'set-mode', mode: 'paused', origin: 'safety' }, this.#now());
  }

  /** The human operator's action this tick (headset or teleop packets), and its freshness. */
  #humanInput(obs: Float64Array, now: number): HumanInput {
    const headset = this.#device === 'headset' ? this.headset : undefined;
    const receivedAt = headset ? headset.receivedAt : this.teleop.receivedAt;
    // No input this turn yet: hold still (waiting for the operator is not a failed stream).
    if (receivedAt === undefined || receivedAt < this.#turnBegan || this.#operatorGone) {
      return { action: null, receivedAt: undefined, timing: undefined };
    }
    const sentAt = headset?.latest?.t;
    const latency = this.live && sentAt !== undefined ? epochNow() - sentAt : undefined;
    const timing: OperatorTiming = {
      device: headset ? 'headset' : (this.teleop.latest?.device ?? 'ui'),
      ageMs: now - receivedAt,
      // Only when the sender's clock is comparable (stamped on this machine or a synced one).
      ...(latency !== undefined && latency >= 0 && latency < 60_000 ? { latencyMs: latency } : {}),
    };
    const action = headset ? headset.action(obs) : (this.teleop.latest?.action ?? null);
    return { action, receivedAt, timing };
  }

  /** The operator's word on the running episode: success, failure, discard (rerecord), reset. */
  episode(input: unknown): void {
    const command = EpisodeCommand.parse(input);
    if (!this.#episode) {
      if (command === 'reset') this.#resetAt = this.#now();
      return;
    }
    this.#endEpisode(COMMAND_OUTCOME[command], command === 'reset' ? 0 : this.config.autoResetMs);
    this.store.addEvent({
      runId: this.runId,
      kind: 'episode.command',
      payload: { command, at: this.#now() },
    });
  }

  #now(): number {
    return this.#loop?.running ? performance.now() : this.#clock;
  }

  /** One control step. Synchronous: never waits for the learner, the recorder or a client. */
  tick(): void {
    this.#tick();
    this.#afterTick();
  }

  #tick(): void {
    if (this.#closed) throw new Error('the session is closed');
    const now = this.#now();
    this.#ticks++;
    const swapped = this.policy.swap();
    if (swapped) {
      if (swapped.publishedAt !== undefined) {
        const latency = epochNow() - swapped.publishedAt;
        this.#swaps[this.#swapCount++ % WINDOW] = latency;
      }
      this.#emit({ event: 'policy', data: { version: swapped.version } });
    }

    if (!this.#episode) {
      if (this.#resetAt === undefined || now < this.#resetAt || this.modes.driver() === 'none') {
        this.#telemetry(undefined, undefined, undefined, undefined);
        return;
      }
      this.#beginEpisode();
    }
    const episode = this.#episode!;
    const obs = this.#obs;

    // The policy's proposal, computed on every tick it can be, also while the operator drives.
    let proposal: Float32Array | undefined;
    const explore = this.config.sample && this.modes.mode === 'autonomous';
    if (this.policy.ready) {
      const t0 = performance.now();
      proposal = this.policy.act(obs, explore ? this.#rng : undefined);
      this.#inference[this.#inferenceCount++ % WINDOW] = performance.now() - t0;
    }
    // The scripted operator decides by itself when to take over and hand back. It judges the
    // policy's intent, its mean action, as a person watching would, not the exploration noise.
    let operatorAction: ArrayLike<number> | null = null;
    if (this.#corrective) {
      const intent = proposal && explore ? this.policy.act(obs) : proposal;
      const decision = this.#corrective.decide(obs, intent);
      operatorAction = decision.action;
      const mode = this.modes.mode;
      // Without scripted interventions it only drives when asked (BC-warmup).
      if (this.config.scriptedInterventions && mode === 'autonomous' && decision.intervene) {
        this.modes.apply({ type: 'intervene', pressed: true, origin: 'scripted' }, now);
      } else if (mode === 'intervention' && !decision.intervene) {
        this.modes.apply({ type: 'intervene', pressed: false, origin: 'scripted' }, now);
      }
    }
    const mode = this.modes.mode;
    const driver = this.modes.driver();
    const byOperator = driver === 'operator';
    const scripted = this.#corrective !== undefined;
    // The headset's clutch latches only while the operator drives: taking over latches afresh.
    // It starts from the gripper command the robot executes, so taking over never drops the cube.
    if (!byOperator) this.headset?.unlatch(this.safety.gripperCommand);
    const human = byOperator && !scripted ? this.#humanInput(obs, now) : undefined;
    if (driver === 'none') {
      this.#telemetry(undefined, proposal, undefined, undefined);
      return; // paused or e-stop: the robot is not stepped at all
    }
    const safe: SafetyResult = this.safety.filter({
      action: human ? human.action : byOperator ? operatorAction : (proposal ?? null),
      source: byOperator ? (scripted ? 'expert' : 'operator') : 'policy',
      obs,
      now,
      lastOperatorPacketAt: human ? human.receivedAt : now,
      estop: false,
      mode,
    });
    if (safe.alarm) this.#alarm(safe.alarm);
    // A stream gone stale: this tick held still (and alarmed); unless told only to hold, pause
    // too. (Before the operator's first packet the robot just holds: nothing has failed yet.)
    const stale =
      human?.receivedAt !== undefined &&
      safe.alarm !== undefined &&
      safe.reasons.includes('stale-operator');
    if (stale && this.config.operatorFault === 'pause') this.#pauseForFault();

    const result = this.robot.step(safe.action);
    // The robot could not act safely and held still (say, a silent sensor topic): alarm, pause.
    const faults = result.info.faults ?? [];
    if (faults.length > 0 && !this.#robotFaulted) {
      this.#alarm(`the robot held still: ${faults.join('; ')}; paused`);
      this.#pauseForFault();
    }
    this.#robotFaulted = faults.length > 0;
    const source: ActionSource = byOperator ? (scripted ? 'scripted' : 'human') : 'policy';
    const intervened = mode === 'intervention';
    this.#recorder.record(episode.id, {
      index: episode.steps,
      t: episode.steps / this.rateHz,
      obs,
      action: safe.action,
      proposed: proposal ?? null,
      reward: result.reward,
      done: result.done,
      truncated: result.truncated,
      source,
      intervened,
      policyVersion: this.policy.version,
    });
    const transition = [
      { obs, action: safe.action, reward: result.reward, nextObs: result.obs, done: result.done },
    ];
    this.#link.add('online', packTransitions(transition, this.#obsDim, this.#actionDim));
    this.#sent.online++;
    if (byOperator) {
      // A human-driven (or scripted) transition also teaches the actor as a demonstration.
      this.#link.add('demo', packTransitions(transition, this.#obsDim, this.#actionDim));
      this.#sent.demo++;
    }
    episode.steps++;
    episode.return += result.reward;
    if (intervened) {
      episode.intervened++;
      this.#interventionSteps++;
    }
    this.#obs = result.obs;
    this.#telemetry(safe, proposal, result.reward, human?.timing);
    if (result.done || result.truncated) {
      const outcome = result.done ? (result.info.success ? 'success' : 'failure') : 'timeout';
      this.#endEpisode(outcome, this.config.autoResetMs);
    }
  }

  #telemetry(
    safe: SafetyResult | undefined,
    proposal: Float32Array | undefined,
    reward: number | undefined,
    operator: OperatorTiming | undefined,
  ): void {
    if (this.#listeners.size === 0) return;
    const data: Telemetry = {
      tick: this.#ticks,
      mode: this.modes.mode,
      driver: this.modes.driver(),
      ...(this.#episode ? { episodeId: this.#episode.id } : {}),
      step: this.#episode?.steps ?? 0,
      obs: Array.from(this.#obs),
      ...(safe ? { action: Array.from(safe.action) } : {}),
      ...(proposal ? { proposed: Array.from(proposal) } : {}),
      ...(reward !== undefined ? { reward } : {}),
      policyVersion: this.policy.version,
      ...(safe ? { safety: { verdict: safe.verdict, reasons: safe.reasons } } : {}),
      ...(this.robot.poses ? { poses: Array.from(this.robot.poses()) } : {}),
      ...(operator ? { operator } : {}),
    };
    this.#emit({ event: 'telemetry', data });
  }

  #beginEpisode(): void {
    const seed = this.#nextSeed;
    const kind: EpisodeKind = this.modes.mode === 'bc-warmup' ? 'demo' : 'train';
    this.#obs = this.robot.reset(seed);
    this.safety.reset();
    this.#corrective?.reset();
    this.headset?.reset();
    const id = this.#recorder.beginEpisode({
      runId: this.runId,
      task: this.robot.spec.task,
      kind,
      seed,
      obsDim: this.#obsDim,
      actionDim: this.#actionDim,
    });
    this.#episode = { id, kind, seed, steps: 0, return: 0, intervened: 0 };
    this.#resetAt = undefined;
  }

  #outcomesTotal(): number {
    return Object.values(this.#outcomes).reduce((a, b) => a + b, 0);
  }

  #endEpisode(outcome: EpisodeOutcome, resetAfterMs: number): void {
    const e = this.#episode;
    if (!e) return;
    this.#recorder.endEpisode(e.id, { outcome, finalObs: this.#obs });
    this.#outcomes[outcome]++;
    this.#episode = undefined;
    this.#nextSeed++;
    this.#resetAt = resetAfterMs < 0 ? undefined : this.#now() + resetAfterMs;
    // A scripted intervention ends with its episode; the next starts under the policy.
    if (this.#corrective && this.modes.mode === 'intervention') {
      this.modes.apply({ type: 'intervene', pressed: false, origin: 'scripted' }, this.#now());
    }
    this.#emit({
      event: 'episode',
      data: {
        id: e.id,
        kind: e.kind,
        outcome,
        steps: e.steps,
        return: e.return,
        intervenedSteps: e.intervened,
      },
    });
  }

  #alarm(message: string): void {
    const at = this.#now();
    this.#alarms = [...this.#alarms.slice(-9), message];
    this.store.addEvent({ runId: this.runId, kind: 'safety.alarm', payload: { message, at } });
    this.#emit({ event: 'alarm', data: { message, at } });
  }

  #onMode(event: ModeEvent): void {
    this.store.addEvent({
      runId: this.runId,
      ...(this.#episode ? { episodeId: this.#episode.id } : {}),
      kind: event.kind === 'transition' ? 'mode.transition' : 'mode.refused',
      payload: event,
    });
    this.#emit({ event: 'mode', data: event });
    if (event.kind !== 'transition') return;
    if (event.to === 'intervention') this.#interventions++;
    if (event.to === 'intervention' || event.to === 'bc-warmup') this.#turnBegan = event.at;
    // An episode is a demonstration or not from start to end: entering or leaving BC-warmup ends
    // the running one (as a time-out: the task did not end it).
    if ((event.from === 'bc-warmup') !== (event.to === 'bc-warmup') && this.#episode) {
      const between = event.to === 'e-stop' || event.to === 'paused';
      if (!between) this.#endEpisode('timeout', this.config.autoResetMs);
    }
    // BC-warmup trains the actor by behaviour cloning; RL after it keeps a decaying BC term.
    if (event.to === 'bc-warmup') this.#setActorLoss('bc');
    else if (event.from === 'bc-warmup' && event.to === 'autonomous') this.#setActorLoss('sac+bc');
  }

  #setActorLoss(loss: 'bc' | 'sac+bc'): void {
    if (this.#actorLoss === loss) return;
    this.#actorLoss = loss;
    this.#link.setActorLoss(loss);
  }

  /** Learner metrics: taken at once, or while live after the next tick (they write SQLite). */
  #onMetrics(m: Record<string, number>): void {
    if (this.live) this.#metricsQueue.push(m);
    else this.#takeMetrics(m);
  }

  #takeMetrics(m: Record<string, number>): void {
    this.#learnerSteps = Math.max(this.#learnerSteps, m.step ?? 0);
    this.#monitor.envSteps = this.#sent.online;
    this.#monitor.observe(m);
  }

  /**
   * The main thread's work that must never delay a tick start (SQLite writes of steps and
   * metrics), done right after a tick, in the slack before the next deadline.
   */
  #afterTick(): void {
    this.#recorder.flushIfDue();
    for (const m of this.#metricsQueue.splice(0)) this.#takeMetrics(m);
  }

  /** Whether the learner has enough data for a batch. */
  #learnerReady(): boolean {
    return this.#sent.online + this.#sent.demo >= this.#batchSize;
  }

  /**
   * Runs `ticks` control ticks on a virtual clock (1/rate apart), each followed by
   * `learnerStepsPerTick` learner steps in lock-step once there is a batch of data; the new
   * weights are swapped in at the next tick. `onTick` may issue commands between ticks.
   */
  async runHeadless(opts: {
    ticks: number;
    learnerStepsPerTick: number;
    onTick?: (session: Session) => void | Promise<void>;
  }): Promise<void> {
    if (this.#loop?.running) throw new Error('the session runs live: stop it first');
    for (let i = 0; i < opts.ticks; i++) {
      this.tick();
      this.#clock += 1000 / this.rateHz;
      if (opts.learnerStepsPerTick > 0 && this.#learnerReady()) {
        const weights = await this.#link.train(opts.learnerStepsPerTick);
        this.#learnerSteps = weights.version;
        this.policy.stage(weights);
      }
      await opts.onTick?.(this);
    }
  }

  /**
   * Live: the control loop at the session's rate, the learner free-running (unless `train` is
   * false: the benchmark's idle-learner baseline).
   */
  startLive({ train = true } = {}): void {
    if (this.#loop?.running) return;
    if (this.config.realtime !== 'off') {
      this.#realtime = enterRealtime();
      if (!this.#realtime.ok && this.config.realtime === 'required') {
        throw new Error(
          `real-time scheduling is required but not allowed: ${this.#realtime.reason}`,
        );
      }
    }
    this.#loop = new ControlLoop({
      rateHz: this.rateHz,
      tick: () => this.tick(),
      onError: (err) => {
        this.modes.apply({ type: 'e-stop', origin: 'safety' }, performance.now());
        this.#alarm(`control loop stopped: ${err instanceof Error ? err.message : String(err)}`);
      },
    });
    if (train)
      this.#link.run({
        publishEverySteps: this.config.publishEverySteps,
        publishEveryMs: this.config.publishEveryMs,
        ...(this.config.maxStepsPerTransition !== undefined
          ? { maxStepsPerTransition: this.config.maxStepsPerTransition }
          : {}),
      });
    this.#loop.start();
  }

  async stopLive(): Promise<void> {
    if (!this.#loop) return;
    await this.#loop.stop();
    if (this.#realtime?.ok) leaveRealtime();
    this.#afterTick();
    this.#learnerSteps = Math.max(this.#learnerSteps, await this.#link.pause());
  }

  get live(): boolean {
    return this.#loop?.running ?? false;
  }

  status(): SessionStatus {
    const loop = this.#loop?.stats();
    const e = this.#episode;
    return {
      runId: this.runId,
      task: this.robot.spec.task,
      mode: this.modes.mode,
      operator: this.config.operator,
      interventionStyle: this.config.interventionStyle,
      rateHz: this.rateHz,
      running: this.live,
      ...(e ? { episode: { id: e.id, kind: e.kind, steps: e.steps, return: e.return } } : {}),
      episodes: {
        total: this.#outcomesTotal(),
        success: this.#outcomes.success,
        failure: this.#outcomes.failure,
        timeout: this.#outcomes.timeout,
        discarded: this.#outcomes.discarded,
      },
      policyVersion: this.policy.version,
      learner: {
        backend: this.#link.backend,
        steps: this.#learnerSteps,
        updatesPerS: this.#monitor.latest.updates_per_s ?? 0,
        backlog: this.#link.backlog,
        online: this.#sent.online,
        demo: this.#sent.demo,
      },
      loop: {
        ticks: this.#ticks,
        missed: loop?.missed ?? 0,
        periodErrorP99: loop?.periodError.p99 ?? 0,
        latenessP99: loop?.lateness.p99 ?? 0,
        workP99: loop?.work.p99 ?? 0,
        inferenceP99: quantile(this.#inference, this.#inferenceCount, 0.99),
        swapLatencyP50: quantile(this.#swaps, this.#swapCount, 0.5),
        scheduling: !this.#realtime
          ? 'normal'
          : this.#realtime.ok
            ? this.#realtime.policy
            : `normal (real-time refused: ${this.#realtime.reason})`,
      },
      interventions: { count: this.#interventions, steps: this.#interventionSteps },
      teleop: this.#teleopLayout(),
      health: this.#monitor.health.active(),
      alarms: [...this.#alarms],
    };
  }

  #teleopLayout(): SessionStatus['teleop'] {
    const safety = this.safety.safety;
    if (safety.kind !== 'ee-delta') return null;
    return {
      actionDim: this.#actionDim,
      translation: [...safety.translation] as [number, number, number],
      ...(safety.gripper ? { gripper: safety.gripper.index } : {}),
    };
  }

  /** The run's learner metrics as series (all names, or `names`), after learner step `afterStep`. */
  metrics(names?: readonly string[], afterStep = -1): MetricSeries[] {
    const wanted = names ? new Set(names) : undefined;
    const series = new Map<string, MetricSeries>();
    for (const m of this.store.readMetrics(this.runId, undefined, afterStep)) {
      if (wanted && !wanted.has(m.name)) continue;
      let s = series.get(m.name);
      if (!s) series.set(m.name, (s = { name: m.name, steps: [], values: [] }));
      s.steps.push(m.step);
      s.values.push(Number.isFinite(m.value) ? m.value : null);
    }
    return [...series.values()];
  }

  /**
   * Episode `episodeId` re-simulated from its seed with its recorded actions on a robot of its
   * run's task: the bodies' poses before the first step and after each (for the 3D replay).
   */
  async replay(episodeId: number): Promise<{ poses: number[][] }> {
    const episode = this.store.getEpisode(episodeId);
    if (!episode) throw new Error(`there is no episode ${episodeId}`);
    const run = this.store.getRun(episode.runId);
    const config = RunConfig.safeParse(run?.config);
    if (!config.success) throw new Error(`episode ${episodeId}: its run's config is unreadable`);
    const refusal = replayRefusal(config.data.task.task, episodeId);
    if (refusal) throw new Error(refusal);
    const robot = await createRobot(config.data.task);
    try {
      if (!robot.poses) throw new Error(`task ${robot.spec.task} cannot show its poses`);
      robot.reset(episode.seed);
      const poses = [Array.from(robot.poses())];
      for (const step of this.store.readSteps(episodeId)) {
        robot.step(step.action);
        poses.push(Array.from(robot.poses()));
      }
      return { poses };
    } finally {
      robot.close();
    }
  }

  /** Writes every recorded step now (they are otherwise written in batches). */
  flush(): void {
    this.#recorder.flush();
  }

  /** Stops everything; the running episode is ended as interrupted, all steps flushed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.stopLive();
    this.#closed = true;
    if (this.#episode) this.#endEpisode('interrupted', -1);
    this.#recorder.close();
    await this.#link.close();
    this.robot.close();
  }
}

/** The q-quantile of the samples a ring of `count` pushes holds (0 when empty). */
function quantile(ring: Float64Array, count: number, q: number): number {
  const n = Math.min(count, ring.length);
  if (n === 0) return 0;
  const sorted = ring.slice(0, n).sort();
  return sorted[Math.floor(q * (n - 1))]!;
}
