import { CorrectiveOperator } from '../operator/corrective.ts';
import type {
  HealthAlert,
  ModeEvent,
  ReplayAnswer,
  SessionConfig,
  SessionConfigInput,
  SessionStatus,
  Step,
  StudioEvent,
  XrAck,
} from '../protocol/index.ts';
import type { SafeRobot } from '../robots/index.ts';
import type { Store } from '../store/index.ts';
import type { Clock } from '../util/clock.ts';
import { LearningCurves } from './curves.ts';
import { Episodes } from './episodes.ts';
import { HANDOVER_ROLLBACK_EVENT, HandoverPoint, HandoverWatch } from './handover.ts';
import type { LearnerSide } from './learner-side.ts';
import { LiveLoop } from './live.ts';
import { ModeMachine, type ModeResult } from './modes.ts';
import { OperatorInput } from './operator-input.ts';
import { ReviewThread } from './review-thread.ts';
import { metricSeries } from './review.ts';
import { openSessionParts, type SessionOptions, type SessionParts } from './session-parts.ts';
import { loopStatus, Samples, sessionStatus } from './status.ts';
import { Tick } from './tick.ts';
import type { WriteQueue } from './writes.ts';

export type { SessionOptions } from './session-parts.ts';

/**
 * One studio session, one run in SQLite with its whole config: the robot (behind its safety
 * layer), the operator's devices, the mode machine, the learner side and the write queue, wired
 * together and driven one control tick at a time (`Tick`). Two drivers share the same tick:
 * - live (`startLive`): a ControlLoop at the control rate on `clock`, the learner free-running in
 *   its worker (at most `maxUpdatesPerTransition` steps per online transition);
 * - headless (`runHeadless`): ticks on a virtual clock as fast as the sim goes, lock-stepped with
 *   a fixed number of learner steps per tick (reproducible: for tests and benchmarks).
 * Every SQLite write of a tick is queued and written after it, in the slack (`WriteQueue`).
 */
export class Session {
  readonly config: SessionConfig;
  readonly runId: number;
  readonly robot: SafeRobot;
  readonly modes: ModeMachine;
  readonly operator: OperatorInput;
  readonly episodes: Episodes;
  readonly rateHz: number;
  /** The session's database (the review calls read and annotate episodes through it). */
  readonly store: Store;
  readonly #side: LearnerSide;
  readonly #writes: WriteQueue;
  readonly #listeners: Set<(event: StudioEvent) => void>;
  readonly #clock: Clock;
  readonly #tick: Tick;
  readonly #inference = new Samples();
  readonly #swaps = new Samples();
  readonly #live: LiveLoop;
  /** Replays and steps reads, off the control thread (started on the first one). */
  readonly #review: ReviewThread;
  #virtualNow = 0;
  #headlessSteps = 0;
  #interventions = 0;
  #writesInTicks = 0;
  #alarms: string[] = [];
  #closed = false;
  /** The policy after a BC-warmup → autonomous hand-over (the alert, the rollback point). */
  readonly #handover: HandoverWatch;
  /** How the policy does on its own: stored as metrics beside the learner's. */
  readonly #curves = new LearningCurves();
  /** The learner's state at the last hand-over, to roll back to. */
  readonly #handoverPoint: HandoverPoint;

  private constructor(parts: SessionParts) {
    const { config, robot, writes } = parts;
    this.config = config;
    this.runId = parts.runId;
    this.robot = robot;
    this.store = parts.store;
    this.#side = parts.side;
    this.#writes = writes;
    this.#listeners = parts.listeners;
    this.#clock = parts.clock;
    this.#live = new LiveLoop(parts.clock);
    this.#review = new ReviewThread(parts.store.path);
    this.rateHz = config.rateHz ?? robot.spec.rateHz;
    this.operator = new OperatorInput(robot.spec, config.headset);
    this.episodes = new Episodes({
      runId: this.runId,
      spec: robot.spec,
      writes,
      rateHz: this.rateHz,
      firstSeed: config.seed,
      onEnded: (data) => {
        this.#emit({ event: 'episode', data });
        this.#curvePoint(this.#curves.episode(data, this.#side.link.updateToData));
        const alert = this.#handover.episode(data, this.#learnerStep());
        if (alert) this.#healthEvent(alert);
      },
    });
    this.#handover = new HandoverWatch(() => this.#side.monitor.latest);
    this.#handoverPoint = new HandoverPoint({
      store: parts.store,
      runId: this.runId,
      link: parts.side.link,
      writes,
      failed: (message) => this.#alarm(message),
      settle: () => this.#settle(),
    });
    this.modes = new ModeMachine({
      style: config.interventionStyle,
      listener: (event) => this.#onMode(event),
    });
    this.#tick = new Tick({
      config,
      rateHz: this.rateHz,
      robot,
      modes: this.modes,
      operator: this.operator,
      episodes: this.episodes,
      side: parts.side,
      corrective:
        config.operator === 'scripted' ? new CorrectiveOperator(robot.expert()) : undefined,
      actorLoss: parts.actorLoss,
      samples: { inference: this.#inference, swaps: this.#swaps },
      emit: (event) => this.#emit(event),
      listening: () => this.#listeners.size > 0,
      alarm: (message) => this.#alarm(message),
      pause: () => this.#pauseForFault(),
    });
    parts.learnerConnection.listener = (up, reason) => this.#learnerConnection(up, reason);
    robot.reset(config.seed);
  }

  /** A remote learner went away (alarm; paused with `learnerLost: pause`) or came back. */
  #learnerConnection(up: boolean, reason: string): void {
    if (up) {
      this.#writes.event(this.runId, 'learner.connected', { reason, at: this.#now() });
      return;
    }
    const pause = this.config.learnerLost === 'pause';
    this.#alarm(
      `learner lost (${reason}): ${pause ? 'paused' : `acting on with policy version ${this.#side.policy.version}`}; transitions are queued and resent when it is back`,
    );
    if (pause) this.#pauseForFault();
    this.#settle();
  }

  /** Opens a session: creates its run, the robot, the learner worker (loaded with `demos`). */
  static async open(
    store: Store,
    input: SessionConfigInput,
    opts: SessionOptions = {},
  ): Promise<Session> {
    return new Session(await openSessionParts(store, input, opts));
  }

  /** Listens to the studio's events (telemetry every tick, mode, alerts, episodes, policy). */
  on(listener: (event: StudioEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: StudioEvent): void {
    for (const l of this.#listeners) l(event);
  }

  /** Now on the session's clock: the live clock while live, else the headless virtual one. */
  #now(): number {
    return this.live ? this.#clock.now() : this.#virtualNow;
  }

  /** Between ticks while not live, queued writes are written at once (nothing can be delayed). */
  #settle(): void {
    if (!this.live) this.#writes.drain();
  }

  /** A mode command (UI, keyboard, gamepad, headset): validated by the machine. */
  command(input: unknown): ModeResult {
    const result = this.modes.apply(input, this.#now());
    this.#settle();
    return result;
  }

  /**
   * An operator packet of `stream` (the connection it came on: each numbers its own packets);
   * throws TeleopError (and changes nothing) if it is malformed or late.
   */
  teleopPacket(raw: unknown, stream?: string): void {
    this.operator.teleopPacket(raw, this.#now(), stream);
  }

  /**
   * One headset frame (an XrPacket; `bytes`: its size on the wire), for the connection in control.
   * Its buttons' edges become commands: A = intervene (read by the intervention style), B = success.
   */
  xrPacket(raw: unknown, bytes?: number): XrAck {
    if (!this.operator.headset) {
      throw new Error(`task ${this.robot.spec.task} cannot be driven from a headset`);
    }
    const { ack, commands } = this.operator.xrPacket(raw, this.#now(), bytes);
    for (const c of commands) {
      if (c.type === 'intervene') {
        this.modes.apply({ type: 'intervene', pressed: c.pressed, origin: 'headset' }, c.at);
      } else this.episode('success');
    }
    this.#settle();
    return ack;
  }

  /** A headset took control: its stream starts afresh (sequence numbers, buttons, clutch). */
  headsetConnected(): void {
    this.operator.headset?.restart();
  }

  /**
   * The human operator's connection dropped (`what` names it for the alarm). While the operator
   * drives, the robot holds still at once, an alarm is raised and, unless `operatorFault` is
   * `hold`, the mode falls back to paused.
   */
  operatorDisconnected(what: string): void {
    if (this.config.operator !== 'human' || this.modes.driver() !== 'operator') {
      this.operator.headset?.unlatch();
      return;
    }
    this.operator.disconnected();
    const pause = this.config.operatorFault === 'pause';
    this.#alarm(
      `${what} disconnected while the operator drove: holding still${pause ? ', paused' : ''}`,
    );
    if (pause) this.#pauseForFault();
    this.#settle();
  }

  /** The operator's word on the running episode: success, failure, discard (rerecord), reset. */
  episode(input: unknown): void {
    this.#tick.episodeCommand(input, this.#now());
    this.#settle();
  }

  /** The operator's input failed (`operatorFault: pause`), or the robot's: paused, by the studio. */
  #pauseForFault(): void {
    this.modes.apply({ type: 'set-mode', mode: 'paused', origin: 'safety' }, this.#now());
  }

  #alarm(message: string): void {
    const at = this.#now();
    this.#alarms = [...this.#alarms.slice(-9), message];
    this.#writes.event(this.runId, 'safety.alarm', { message, at });
    this.#emit({ event: 'alarm', data: { message, at } });
  }

  #onMode(event: ModeEvent): void {
    const kind = event.kind === 'transition' ? 'mode.transition' : 'mode.refused';
    this.#writes.event(this.runId, kind, event, this.episodes.running?.handle);
    this.#emit({ event: 'mode', data: event });
    if (event.kind !== 'transition') return;
    if (event.to === 'intervention') this.#interventions++;
    this.operator.modeChanged(event.cause);
    // Asked before the tick switches the actor loss: the learner answers in order, so the
    // checkpoint is the warm-up policy's.
    if (event.from === 'bc-warmup' && event.to === 'autonomous') this.#handedOver();
    this.#tick.modeChanged(event, this.#now());
  }

  /** A learner step for events: the latest known (lock-step, metrics, the link's). */
  #learnerStep(): number {
    return Math.max(
      this.#headlessSteps,
      this.#side.monitor.latest.step ?? 0,
      this.#side.link.steps,
    );
  }

  /** Learning-curve figures into the metrics table, at the learner's step (in the slack). */
  #curvePoint(figures: Record<string, number>): void {
    const step = this.#learnerStep();
    const rows = Object.entries(figures).map(([name, value]) => ({ step, name, value }));
    if (rows.length > 0) this.#writes.later(() => this.store.addMetrics(this.runId, rows));
  }

  #healthEvent(alert: HealthAlert): void {
    this.#writes.event(this.runId, `health.${alert.state}`, alert);
    this.#emit({ event: 'alert', data: alert });
    this.#settle();
  }

  /** BC-warmup → autonomous: the watch starts and the learner's state is kept to roll back to. */
  #handedOver(): void {
    this.#handover.begin(this.#learnerStep());
    this.#handoverPoint.keep();
  }

  /**
   * An evaluation of the policy alone (say, `evaluatePolicy` on a second sim): before the
   * hand-over it is the warm-up policy's reference for the hand-over watch, after it a judgement.
   */
  evaluated(result: { successRate: number; episodes: number }): void {
    this.#curvePoint(this.#curves.evaluated(result.successRate, this.#side.link.updateToData));
    const alert = this.#handover.evaluated(
      result.successRate,
      result.episodes,
      this.#learnerStep(),
    );
    if (alert) this.#healthEvent(alert);
    this.#settle();
  }

  /**
   * Rolls the learner back to the checkpoint kept at the last BC-warmup → autonomous hand-over:
   * networks, optimisers and temperature as they were; the data recorded since stays in its
   * buffers, and the policy acts with the restored weights from the next tick. The session
   * pauses (the operator chooses what next: BC-warmup, autonomous) and the hand-over alert clears.
   */
  async rollback(): Promise<{ checkpointId: number; learnerSteps: number }> {
    const { checkpointId, learnerSteps, weights } = await this.#handoverPoint.restore();
    // Live, the control loop swaps it in between ticks; else there is no tick to wait for.
    if (this.live) this.#side.policy.stage(weights);
    else this.#side.policy.load(weights);
    this.modes.apply({ type: 'set-mode', mode: 'paused', origin: 'ui' }, this.#now());
    const step = this.#learnerStep();
    this.#writes.event(this.runId, HANDOVER_ROLLBACK_EVENT, {
      checkpointId,
      learnerSteps,
      at: step,
    });
    const cleared = this.#handover.rolledBack(step);
    if (cleared) this.#healthEvent(cleared);
    this.#settle();
    return { checkpointId, learnerSteps };
  }

  /** One control step and its writes. Synchronous: never waits for the learner or a client. */
  tick(): void {
    this.#runTick();
    this.#writes.drain();
  }

  #runTick(): void {
    if (this.#closed) throw new Error('the session is closed');
    const before = this.store.changes();
    this.#tick.run(this.#now(), this.live);
    if (this.store.changes() !== before) this.#writesInTicks++;
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
    if (this.live) throw new Error('the session runs live: stop it first');
    const { link, policy } = this.#side;
    const batch = Number(link.config.batchSize);
    for (let i = 0; i < opts.ticks; i++) {
      this.tick();
      this.#virtualNow += 1000 / this.rateHz;
      if (opts.learnerStepsPerTick > 0 && link.sentOnline + link.sentDemo >= batch) {
        const weights = await link.train(opts.learnerStepsPerTick);
        this.#headlessSteps = weights.version;
        policy.stage(weights);
        this.#writes.drain();
      }
      await opts.onTick?.(this);
    }
    // The policy acts with the learner's latest weights from here on (an evaluation between
    // headless runs sees what the learner has, not the tick-old weights).
    policy.swap();
  }

  /**
   * Live: the control loop at the session's rate, the learner free-running (unless `train` is
   * false: the benchmark's idle-learner baseline).
   */
  startLive({ train = true } = {}): void {
    if (this.live) return;
    this.#live.start({
      rateHz: this.rateHz,
      realtime: this.config.realtime,
      tick: () => this.#runTick(),
      // The slack after a tick: every SQLite write of the tick (steps, episodes, events, metrics).
      afterTick: () => this.#writes.drain(),
      // Paused or e-stopped, nothing moves: no need to spin for a sub-millisecond start.
      precise: () => this.modes.driver() !== 'none',
      onError: (err) => {
        this.modes.apply({ type: 'e-stop', origin: 'safety' }, this.#clock.now());
        this.#alarm(`control loop stopped: ${err instanceof Error ? err.message : String(err)}`);
      },
    });
    if (train) {
      this.#side.link.run({
        publishEverySteps: this.config.publishEverySteps,
        publishEveryMs: this.config.publishEveryMs,
        maxUpdatesPerTransition: this.config.maxUpdatesPerTransition,
      });
    }
  }

  async stopLive(): Promise<void> {
    if (!this.#live.started) return;
    await this.#live.stop();
    this.#writes.drain();
    this.#headlessSteps = Math.max(this.#headlessSteps, await this.#side.link.pause());
  }

  /** The policy the session acts with (its weights swapped in between ticks). */
  get policy(): LearnerSide['policy'] {
    return this.#side.policy;
  }

  get live(): boolean {
    return this.#live.running;
  }

  status(): SessionStatus {
    return sessionStatus({
      runId: this.runId,
      config: this.config,
      rateHz: this.rateHz,
      robot: this.robot,
      mode: this.modes.mode,
      live: this.live,
      episodes: this.episodes,
      side: this.#side,
      headlessSteps: this.#headlessSteps,
      loop: loopStatus({
        ticks: this.#tick.count,
        stats: this.#live.stats(),
        inference: this.#inference,
        swaps: this.#swaps,
        realtime: this.#live.realtime,
        writesInTicks: this.#writesInTicks,
      }),
      interventions: { count: this.#interventions, steps: this.#tick.interventionSteps },
      alarms: this.#alarms,
      handover: this.#handover.active,
    });
  }

  /** The run's learner metrics as series (all names, or `names`), after learner step `afterStep`. */
  metrics(names?: readonly string[], afterStep = -1) {
    return metricSeries(this.store, this.runId, names, afterStep);
  }

  /**
   * Episode `episodeId` re-simulated through the safety layer: the bodies' poses at each step.
   * On the review thread: a re-simulation on this thread would hold up the control loop.
   */
  replay(episodeId: number): Promise<ReplayAnswer> {
    return this.#review.replay(episodeId);
  }

  /**
   * Every step of episode `episodeId` written so far (the running episode's are written in
   * batches: `flush` first to read them all), read on the review thread.
   */
  steps(episodeId: number): Promise<Step[]> {
    return this.#review.steps(episodeId);
  }

  /** Writes every recorded step now (they are otherwise written in batches). */
  flush(): void {
    this.#writes.flush();
  }

  /** Stops everything; the running episode is ended as interrupted, all steps flushed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.stopLive();
    this.#closed = true;
    await this.#review.close();
    this.episodes.end('interrupted', this.robot.observation!, this.#now(), -1);
    this.#writes.close();
    await this.#side.link.close();
    this.robot.close();
  }
}
