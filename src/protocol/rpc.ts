import { z } from 'zod';
import { Episode, EpisodeKind, EpisodeOutcome, Step } from './episode.ts';
import { Mode } from './modes.ts';
import { SceneDescription } from './scene.ts';
import { MetricSeries, RollbackAnswer, SessionStatus, StudioCall } from './studio.ts';
import { ConnectionRole, PairAnswer, PairingStatus, XrAck } from './xr.ts';

/** A call as a client writes it (defaults not filled in yet). */
export type StudioCallInput = z.input<typeof StudioCall>;
export type StudioMethod = StudioCall['method'];
/** The call of one method, as a client writes it. */
export type CallOf<M extends StudioMethod> = Extract<StudioCallInput, { method: M }>;

/** What `mode` answers when the command was taken (a refused one is an error answer). */
export const ModeAnswer = z.object({ ok: z.literal(true), from: Mode, to: Mode });
export type ModeAnswer = z.infer<typeof ModeAnswer>;

/** The episode counts `episode` answers with. */
export const EpisodeCounts = SessionStatus.shape.episodes;
export type EpisodeCounts = z.infer<typeof EpisodeCounts>;

/** `replay`: the episode re-simulated, the bodies' poses before the first step and after each. */
export const ReplayAnswer = z.object({ poses: z.array(z.array(z.number())) });
export type ReplayAnswer = z.infer<typeof ReplayAnswer>;

/**
 * The answer to each call, one schema per method: every client parses a result by its method's
 * schema (whichever way it came: WebSocket or the desktop bridge).
 */
export const StudioAnswer = {
  status: SessionStatus,
  mode: ModeAnswer,
  episode: EpisodeCounts,
  teleop: z.null(),
  xr: XrAck,
  pair: PairAnswer,
  hello: ConnectionRole,
  control: ConnectionRole,
  pairing: PairingStatus,
  revoke: z.boolean(),
  start: z.boolean(),
  stop: z.boolean(),
  scene: SceneDescription.nullable(),
  rollback: RollbackAnswer,
  metrics: z.array(MetricSeries),
  episodes: z.array(Episode),
  steps: z.array(Step),
  replay: ReplayAnswer,
  annotate: Episode,
} as const satisfies Record<StudioMethod, z.ZodType>;
export type StudioAnswerOf<M extends StudioMethod> = z.infer<(typeof StudioAnswer)[M]>;

/**
 * Which recorded episodes `episodes` lists (the `filter` of the call), and what the store's
 * `listEpisodes` takes (its EpisodeFilter). Times are epoch ms on the start time, `until` excluded.
 */
export const EpisodeQuery = z
  .object({
    runId: z.number().int().positive().optional(),
    task: z.string().optional(),
    kind: EpisodeKind.optional(),
    outcome: EpisodeOutcome.optional(),
    /** true: episodes with at least one intervened step; false: episodes with none. */
    intervened: z.boolean().optional(),
    label: z.enum(['success', 'failure']).optional(),
    since: z.number().optional(),
    until: z.number().optional(),
    includeDeleted: z.boolean().optional(),
    order: z.enum(['newest', 'oldest', 'longest', 'return']).optional(),
    limit: z.number().int().nonnegative().optional(),
    offset: z.number().int().nonnegative().optional(),
  })
  .strict();
export type EpisodeQuery = z.infer<typeof EpisodeQuery>;

/** What `annotate` may change of an episode: label, notes, soft delete, trim (null clears it). */
export type Annotation = Omit<CallOf<'annotate'>, 'method' | 'episodeId'>;

/** The HTTP read API's `GET /api/status`: what the studio reports about itself. */
export const StudioInfo = z.object({
  version: z.string(),
  dbPath: z.string(),
  episodes: z.number().int().nonnegative(),
});
export type StudioInfo = z.infer<typeof StudioInfo>;
