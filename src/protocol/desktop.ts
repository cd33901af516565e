// The desktop window's bridge: what the preload puts on the page's `window`, and the IPC channels
// and answer envelope the preload and the main process agree on. No Electron here: the renderer
// reads the bridge's key and type, the main process and the preload the rest.
import { z } from 'zod';
import type { StudioCall, StudioEvent } from './studio.ts';

/** The key of the bridge on the page's window (`window.tandem`): there only in the desktop app. */
export const DESKTOP_BRIDGE = 'tandem';

/** invoke(CALL_CHANNEL, StudioCall) → IpcAnswer. */
export const CALL_CHANNEL = 'tandem:call';
/** main → page: one StudioEvent per message. */
export const EVENT_CHANNEL = 'tandem:event';

/** The main process's answer to a call: never a thrown error (its text would be mangled). */
export const IpcAnswer = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: z.string() }).strict(),
]);
export type IpcAnswer = z.infer<typeof IpcAnswer>;

/**
 * `window.tandem`: the studio's calls and events across the preload bridge. `call` resolves with
 * the studio's result (unparsed: the client parses it by its method's answer schema) and rejects
 * with the studio's reason for a refused or malformed call; `on` returns the unsubscribe.
 */
export interface DesktopBridge {
  call(call: StudioCall): Promise<unknown>;
  on(listener: (event: StudioEvent) => void): () => void;
}

/** The first zod issue as one line: "path: message". */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return `${issue.path.join('.') || '(call)'}: ${issue.message}`;
}
