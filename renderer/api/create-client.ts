import { DESKTOP_BRIDGE, type DesktopBridge } from '../../src/protocol/desktop.ts';
import type { StudioClient } from './client.ts';
import { IpcStudioClient } from './ipc-client.ts';
import { WsStudioClient, type WsStudioClientOptions } from './ws-client.ts';

/** The preload's bridge on `scope` (the page's window), if it is there. */
export function desktopBridge(scope: object = globalThis): DesktopBridge | undefined {
  const bridge: unknown = (scope as Record<string, unknown>)[DESKTOP_BRIDGE];
  if (typeof bridge !== 'object' || bridge === null) return undefined;
  const { call, on } = bridge as Record<string, unknown>;
  return typeof call === 'function' && typeof on === 'function'
    ? (bridge as DesktopBridge)
    : undefined;
}

/** Whether the page runs in the desktop app: the preload's bridge object is on its window. */
export function isDesktopApp(scope: object = globalThis): boolean {
  return desktopBridge(scope) !== undefined;
}

/**
 * The page's one client: over the preload bridge in the desktop app, else over the WebSocket RPC
 * (`ws`: its options).
 */
export function createStudioClient(
  scope: object = globalThis,
  ws: WsStudioClientOptions = {},
): StudioClient {
  const bridge = desktopBridge(scope);
  return bridge ? new IpcStudioClient(bridge) : new WsStudioClient(ws);
}
