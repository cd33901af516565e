// The main process's side of the preload bridge: calls from the studio's page are validated by
// StudioCall and forwarded over the main process's link to the studio (a StudioClient); the
// studio's events go to the page. Results and events pass as they came: the page's client parses
// them by their schemas.
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import type { StudioClient } from '../../renderer/api/client.ts';
import { CALL_CHANNEL, EVENT_CHANNEL, firstIssue, type IpcAnswer } from '../protocol/desktop.ts';
import { StudioCall, type StudioEvent } from '../protocol/studio.ts';
import { sameOrigin } from './security.ts';

/** Whether the frame that sent the call is the studio's page (not an iframe, not another site). */
export function fromOrigin(
  event: Pick<IpcMainInvokeEvent, 'senderFrame'>,
  origin: string,
): boolean {
  const frame = event.senderFrame;
  return frame !== null && frame.parent === null && sameOrigin(frame.url, origin);
}

/** One call from the page, answered as an IpcAnswer (a refused call is `ok: false`, not a throw). */
export async function answerCall(
  studio: Pick<StudioClient, 'call'>,
  raw: unknown,
): Promise<IpcAnswer> {
  const parsed = StudioCall.safeParse(raw);
  if (!parsed.success) return { ok: false, error: `malformed call: ${firstIssue(parsed.error)}` };
  try {
    return { ok: true, result: (await studio.call(parsed.data)) ?? null };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Answers CALL_CHANNEL invocations from pages of `origin` with the studio; returns the function
 * that removes the handler.
 */
export function serveCalls(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  studio: Pick<StudioClient, 'call'>,
  origin: string,
): () => void {
  ipcMain.handle(CALL_CHANNEL, async (event, raw: unknown): Promise<IpcAnswer> => {
    if (!fromOrigin(event, origin)) {
      return { ok: false, error: 'calls are taken only from the studio page' };
    }
    return answerCall(studio, raw);
  });
  return () => ipcMain.removeHandler(CALL_CHANNEL);
}

/** Sends every studio event to `contents` while it lives; returns the unsubscribe. */
export function forwardEvents(
  studio: Pick<StudioClient, 'on'>,
  contents: Pick<WebContents, 'send' | 'isDestroyed'>,
): () => void {
  return studio.on((event: StudioEvent) => {
    if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, event);
  });
}
