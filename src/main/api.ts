// What the preload and the main process agree on: the IPC channels, the answer envelope, and the
// API the preload puts on `window.tandem`. No Electron import here: the renderer may import the
// types, the tests the schemas.
import { z } from 'zod';
import type { StudioCall, StudioEvent } from '../protocol/studio.ts';

/** invoke(CALL_CHANNEL, StudioCall) → IpcAnswer. */
export const CALL_CHANNEL = 'tandem:call';
/** main → renderer: one StudioEvent per message. */
export const EVENT_CHANNEL = 'tandem:event';

/** The main process's answer to a call: never a thrown error (its text would be mangled). */
export const IpcAnswer = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: z.string() }).strict(),
]);
export type IpcAnswer = z.infer<typeof IpcAnswer>;

/**
 * The studio's calls and events, the same as the WebSocket RPC's: as the main process reaches it
 * (the studio process's RPC, or a Session). `call` rejects with the studio's reason for a refused
 * or malformed call; `on` returns the function that unsubscribes.
 */
export interface StudioBackend {
  call(call: StudioCall): Promise<unknown>;
  on(listener: (event: StudioEvent) => void): () => void;
}

/** `window.tandem` in the desktop app: the same API, across the preload bridge. */
export type TandemApi = StudioBackend;

/** The first zod issue as one line: "path: message". */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return `${issue.path.join('.') || '(call)'}: ${issue.message}`;
}
