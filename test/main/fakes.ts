// Stand-ins for the Electron objects the shell's glue takes as parameters: just enough behaviour
// (events, calls recorded) to check what the glue does with them.
import type { BrowserWindowConstructorOptions } from 'electron';

type Listener = (...args: unknown[]) => unknown;

export class Emitter {
  readonly listeners = new Map<string, Listener[]>();
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  once(event: string, listener: Listener): this {
    const wrapped: Listener = (...args) => {
      this.removeListener(event, wrapped);
      return listener(...args);
    };
    return this.on(event, wrapped);
  }
  removeListener(event: string, listener: Listener): this {
    this.listeners.set(
      event,
      (this.listeners.get(event) ?? []).filter((l) => l !== listener),
    );
    return this;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const l of this.listeners.get(event) ?? []) l(...args);
  }
  count(event: string): number {
    return this.listeners.get(event)?.length ?? 0;
  }
}

/** A navigation event as Electron passes it (url plus preventDefault). */
export function navigation(url: string): {
  url: string;
  prevented: boolean;
  preventDefault(): void;
} {
  return {
    url,
    prevented: false,
    preventDefault() {
      this.prevented = true;
    },
  };
}

export class FakeWebContents extends Emitter {
  openHandler?: (details: { url: string }) => { action: string };
  sent: [string, unknown][] = [];
  destroyed = false;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: string }): void {
    this.openHandler = handler;
  }
  send(channel: string, payload: unknown): void {
    this.sent.push([channel, payload]);
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

export class FakeWindow extends Emitter {
  static created: FakeWindow[] = [];
  readonly webContents = new FakeWebContents();
  loaded?: string;
  shown = false;
  focused = false;
  minimized = false;
  destroyed = false;
  constructor(readonly options: BrowserWindowConstructorOptions) {
    super();
    FakeWindow.created.push(this);
  }
  async loadURL(url: string): Promise<void> {
    this.loaded = url;
    this.emit('ready-to-show');
  }
  show(): void {
    this.shown = true;
  }
  focus(): void {
    this.focused = true;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  restore(): void {
    this.minimized = false;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

/** Apps on one machine share the single-instance lock. */
export class FakeApp extends Emitter {
  static lockHeld = false;
  hasLock = false;
  quitCalls = 0;
  exitCode?: number;
  requestSingleInstanceLock(): boolean {
    if (FakeApp.lockHeld) return false;
    FakeApp.lockHeld = this.hasLock = true;
    return true;
  }
  quit(): void {
    this.quitCalls++;
  }
  exit(code?: number): void {
    this.exitCode = code ?? 0;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
}

export class FakeSession {
  headersListener?: (
    details: { responseHeaders?: Record<string, string[]> },
    callback: (response: { responseHeaders?: Record<string, string | string[]> }) => void,
  ) => void;
  permissionRequest?: (contents: unknown, permission: string, cb: (ok: boolean) => void) => void;
  permissionCheck?: () => boolean;
  readonly webRequest = {
    onHeadersReceived: (listener: FakeSession['headersListener']) => {
      this.headersListener = listener;
    },
  };
  setPermissionRequestHandler(handler: FakeSession['permissionRequest']): void {
    this.permissionRequest = handler;
  }
  setPermissionCheckHandler(handler: FakeSession['permissionCheck']): void {
    this.permissionCheck = handler;
  }
  /** The headers a response would reach the page with. */
  respond(headers: Record<string, string[]>): Record<string, string | string[]> | undefined {
    let out: Record<string, string | string[]> | undefined;
    this.headersListener!({ responseHeaders: headers }, (r) => (out = r.responseHeaders));
    return out;
  }
}

export class FakeIpcMain {
  readonly handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
  handle(channel: string, handler: (event: unknown, ...args: unknown[]) => unknown): void {
    if (this.handlers.has(channel)) throw new Error(`a handler for ${channel} exists`);
    this.handlers.set(channel, handler);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  /** An invocation from a frame at `url` (top-level unless `child`). */
  invoke(channel: string, url: string, payload: unknown, child = false): Promise<unknown> {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    const event = { senderFrame: { url, parent: child ? {} : null } };
    return Promise.resolve(handler(event, payload));
  }
}

export class FakeIpcRenderer extends Emitter {
  invoked: [string, unknown][] = [];
  answer: (channel: string, payload: unknown) => unknown = () => ({ ok: true, result: null });
  async invoke(channel: string, payload: unknown): Promise<unknown> {
    this.invoked.push([channel, payload]);
    return this.answer(channel, payload);
  }
}

export class FakeContextBridge {
  readonly exposed = new Map<string, unknown>();
  exposeInMainWorld(key: string, api: unknown): void {
    this.exposed.set(key, api);
  }
}
