import { z } from 'zod';

/** What the review thread is started with: the session's SQLite file, which it opens read-only. */
export const ReviewInit = z.object({ path: z.string().min(1) });
export type ReviewInit = z.infer<typeof ReviewInit>;

/** The review thread's two kinds of work: an episode re-simulated, or its recorded steps read. */
export const ReviewKind = z.enum(['replay', 'steps']);
export type ReviewKind = z.infer<typeof ReviewKind>;

export const ReviewRequest = z.object({
  id: z.number().int().positive(),
  kind: ReviewKind,
  episodeId: z.number().int(),
});
export type ReviewRequest = z.infer<typeof ReviewRequest>;

/**
 * One answer per request, in request order. The result is checked by the asking side against the
 * answer schema of its kind (ReplayAnswer, Step[]), as any client checks a studio answer.
 */
export const ReviewReply = z.discriminatedUnion('ok', [
  z.object({ id: z.number().int().positive(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().int().positive(), ok: z.literal(false), error: z.string() }),
]);
export type ReviewReply = z.infer<typeof ReviewReply>;
