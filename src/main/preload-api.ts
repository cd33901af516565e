// The preload's logic: `window.tandem` = { call, on } (the DesktopBridge), validated with zod both
// ways. Electron's contextBridge and ipcRenderer are parameters (preload.ts passes the real ones).
import type { ContextBridge, IpcRenderer, IpcRendererEvent } from 'electron';
import {
  CALL_CHANNEL,
  DESKTOP_BRIDGE,
  type DesktopBridge,
  EVENT_CHANNEL,
  firstIssue,
  IpcAnswer,
} from '../protocol/desktop.ts';
import { StudioCall, StudioEvent } from '../protocol/studio.ts';

export type PreloadIpc = Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>;

/**
 * The bridge over `ipc`: a call is checked by StudioCall before it leaves the page (a malformed one
 * rejects and sends nothing), the answer by IpcAnswer; an event reaches listeners only if it
 * parses as a StudioEvent (others are dropped and reported once per kind on the console).
 */
export function createApi(
  ipc: PreloadIpc,
  warn: (message: string) => void = console.warn,
): DesktopBridge {
  const warned = new Set<string>();
  return {
    async call(call: StudioCall): Promise<unknown> {
      const parsed = StudioCall.safeParse(call);
      if (!parsed.success) throw new Error(`malformed call: ${firstIssue(parsed.error)}`);
      const answer = IpcAnswer.safeParse(await ipc.invoke(CALL_CHANNEL, parsed.data));
      if (!answer.success) {
        throw new Error(`malformed answer from the studio: ${firstIssue(answer.error)}`);
      }
      if (!answer.data.ok) throw new Error(answer.data.error);
      return answer.data.result;
    },
    on(listener: (event: StudioEvent) => void): () => void {
      const handler = (_event: IpcRendererEvent, raw: unknown) => {
        const parsed = StudioEvent.safeParse(raw);
        if (parsed.success) {
          listener(parsed.data);
          return;
        }
        const kind = String((raw as { event?: unknown } | null)?.event);
        if (!warned.has(kind)) {
          warned.add(kind);
          warn(`tandem: dropped a malformed ${kind} event: ${firstIssue(parsed.error)}`);
        }
      };
      ipc.on(EVENT_CHANNEL, handler);
      return () => {
        ipc.removeListener(EVENT_CHANNEL, handler);
      };
    },
  };
}

/** Puts the bridge on the page's `window.tandem` (in the isolated world's bridge). */
export function exposeApi(
  contextBridge: Pick<ContextBridge, 'exposeInMainWorld'>,
  ipc: PreloadIpc,
): void {
  contextBridge.exposeInMainWorld(DESKTOP_BRIDGE, createApi(ipc));
}
