import { z } from 'zod';
import type { Episode, Step } from '../../src/protocol/episode.ts';
import type { ModeCommand } from '../../src/protocol/modes.ts';
import {
  type Annotation,
  type CallOf,
  type EpisodeCounts,
  type EpisodeQuery,
  type ModeAnswer,
  type ReplayAnswer,
  StudioAnswer,
  type StudioAnswerOf,
  type StudioCallInput,
  type StudioInfo,
  type StudioMethod,
} from '../../src/protocol/rpc.ts';
import type { SceneDescription } from '../../src/protocol/scene.ts';
import type { RollbackAnswer } from '../../src/protocol/studio.ts';
import {
  type EpisodeCommand,
  type MetricSeries,
  type SessionStatus,
  StudioEvent,
} from '../../src/protocol/studio.ts';
import type { ConnectionRole, PairingStatus, XrAck, XrPacket } from '../../src/protocol/xr.ts';
import { HttpReadApi } from './http-read.ts';

/**
 * `connecting`: the first attempt; `open`: calls go out; `reconnecting`: lost, the next attempt is
 * scheduled with backoff; `closed`: `close()` was called, nothing more happens.
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A thrown value's message (a rejected call's reason, as shown to the user). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The renderer's one way to the studio: its calls, each answer parsed by the method's schema in
 * src/protocol (a studio of another version fails with a message naming the field instead of
 * drawing garbage), and its events, each parsed by StudioEvent. WsStudioClient goes over the
 * WebSocket RPC (the browser, the headset); IpcStudioClient over the desktop window's preload
 * bridge. createStudioClient picks one.
 */
export interface StudioClient {
  readonly state: ConnectionState;
  /** Listens to connection state changes; returns the unsubscribe function. */
  onState(listener: (state: ConnectionState) => void): () => void;
  /** Listens to the studio's events; returns the unsubscribe function. */
  on(listener: (event: StudioEvent) => void): () => void;
  /** Resolves once the connection is open (rejects after `timeoutMs` or on close()). */
  whenOpen(timeoutMs?: number): Promise<void>;
  /**
   * One call; resolves with the studio's result (unparsed), rejects with the studio's error
   * message (a refused command, a malformed call), a lost connection or a timeout.
   */
  call(call: StudioCallInput): Promise<unknown>;
  /** Stops for good: pending calls are rejected. */
  close(): void;

  /** The studio's version and database (the HTTP read API beside the RPC). */
  about(): Promise<StudioInfo>;
  status(): Promise<SessionStatus>;
  mode(command: ModeCommand): Promise<ModeAnswer>;
  teleop(packet: unknown): Promise<null>;
  episode(command: EpisodeCommand): Promise<EpisodeCounts>;
  start(): Promise<boolean>;
  stop(): Promise<boolean>;
  /** The run's learner metrics: every name or `names`, only the records after `afterStep`. */
  metrics(names?: string[], afterStep?: number): Promise<MetricSeries[]>;
  /** The robot's scene (null: the robot cannot describe itself). */
  scene(): Promise<SceneDescription | null>;
  /** Rolls the learner back to the policy from before the BC-warmup → autonomous hand-over. */
  rollback(): Promise<RollbackAnswer>;
  episodes(filter?: EpisodeQuery): Promise<Episode[]>;
  steps(episodeId: number): Promise<Step[]>;
  /** The episode re-simulated: the bodies' poses before the first step and after each. */
  replay(episodeId: number): Promise<ReplayAnswer>;
  annotate(episodeId: number, annotation: Annotation): Promise<Episode>;
  /** One headset frame; the ack echoes its seq and stamp (for the round trip). */
  xr(packet: XrPacket): Promise<XrAck>;
  /** Pairs this connection as a headset with the desktop's 6-digit code. */
  pair(code: string): Promise<StudioAnswerOf<'pair'>>;
  /** Presents a token from an earlier `pair` (after a reconnect). */
  hello(token: string): Promise<ConnectionRole>;
  /** Takes (true) or gives back control of the robot for this paired headset. */
  control(take: boolean): Promise<ConnectionRole>;
  /** The pairing code and the paired headsets (the studio's own machine only). */
  pairing(): Promise<PairingStatus>;
  revoke(pairingId: string): Promise<boolean>;
}

/**
 * What both clients share: the listeners, the connection state, event parsing and the typed
 * calls over `call`. A transport implements `call`, `close` and `whenOpen`'s wait, and hands
 * each raw event to `deliver`.
 */
export abstract class StudioClientBase implements StudioClient {
  readonly #readApi: HttpReadApi;
  #state: ConnectionState;
  readonly #eventListeners = new Set<(event: StudioEvent) => void>();
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();

  /** `httpBase`: the studio's HTTP origin, for `about` ('': the page's own). */
  constructor(state: ConnectionState, httpBase: string) {
    this.#state = state;
    this.#readApi = new HttpReadApi(httpBase);
  }

  abstract call(call: StudioCallInput): Promise<unknown>;
  abstract close(): void;
  /** Where the studio is, for messages ("at ws://…"). */
  protected abstract readonly where: string;

  get state(): ConnectionState {
    return this.#state;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  on(listener: (event: StudioEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  whenOpen(timeoutMs = 10_000): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'closed') return Promise.reject(new Error('the studio client was closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no connection to the studio ${this.where} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onState((state) => {
        if (state !== 'open' && state !== 'closed') return;
        clearTimeout(timer);
        off();
        if (state === 'open') resolve();
        else reject(new Error('the studio client was closed'));
      });
    });
  }

  protected setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    for (const listener of [...this.#stateListeners]) listener(state);
  }

  /** One event as it came: parsed by StudioEvent, then given to every listener. */
  protected deliver(raw: unknown): void {
    const event = StudioEvent.safeParse(raw);
    if (!event.success) {
      console.warn(`studio: ignored an unreadable event: ${z.prettifyError(event.error)}`);
      return;
    }
    for (const listener of [...this.#eventListeners]) {
      try {
        listener(event.data);
      } catch (err) {
        console.error('studio: an event listener failed:', err);
      }
    }
  }

  /** One call whose result is parsed by its method's answer schema (StudioAnswer). */
  async request<M extends StudioMethod>(call: CallOf<M>): Promise<StudioAnswerOf<M>> {
    const result = await this.call(call);
    const schema = StudioAnswer[call.method] as unknown as z.ZodType<StudioAnswerOf<M>>;
    const parsed = schema.safeParse(result);
    if (!parsed.success) {
      throw new Error(`${call.method}: unexpected answer: ${z.prettifyError(parsed.error)}`);
    }
    return parsed.data;
  }

  about(): Promise<StudioInfo> {
    return this.#readApi.status();
  }

  status(): Promise<SessionStatus> {
    return this.request({ method: 'status' });
  }

  mode(command: ModeCommand): Promise<ModeAnswer> {
    return this.request({ method: 'mode', command });
  }

  teleop(packet: unknown): Promise<null> {
    return this.request({ method: 'teleop', packet });
  }

  episode(command: EpisodeCommand): Promise<EpisodeCounts> {
    return this.request({ method: 'episode', command });
  }

  start(): Promise<boolean> {
    return this.request({ method: 'start' });
  }

  stop(): Promise<boolean> {
    return this.request({ method: 'stop' });
  }

  metrics(names?: string[], afterStep?: number): Promise<MetricSeries[]> {
    return this.request({ method: 'metrics', names, afterStep });
  }

  scene(): Promise<SceneDescription | null> {
    return this.request({ method: 'scene' });
  }

  /** Rolls the learner back to the policy from before the BC-warmup → autonomous hand-over. */
  rollback(): Promise<RollbackAnswer> {
    return this.request({ method: 'rollback' });
  }

  episodes(filter: EpisodeQuery = {}): Promise<Episode[]> {
    return this.request({ method: 'episodes', filter });
  }

  steps(episodeId: number): Promise<Step[]> {
    return this.request({ method: 'steps', episodeId });
  }

  replay(episodeId: number): Promise<ReplayAnswer> {
    return this.request({ method: 'replay', episodeId });
  }

  annotate(episodeId: number, annotation: Annotation): Promise<Episode> {
    return this.request({ method: 'annotate', episodeId, ...annotation });
  }

  xr(packet: XrPacket): Promise<XrAck> {
    return this.request({ method: 'xr', packet });
  }

  pair(code: string): Promise<StudioAnswerOf<'pair'>> {
    return this.request({ method: 'pair', code });
  }

  hello(token: string): Promise<ConnectionRole> {
    return this.request({ method: 'hello', token });
  }

  control(take: boolean): Promise<ConnectionRole> {
    return this.request({ method: 'control', take });
  }

  pairing(): Promise<PairingStatus> {
    return this.request({ method: 'pairing' });
  }

  revoke(pairingId: string): Promise<boolean> {
    return this.request({ method: 'revoke', pairingId });
  }
}
