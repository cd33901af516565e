import type { DesktopBridge } from '../../src/protocol/desktop.ts';
import type { StudioCallInput } from '../../src/protocol/rpc.ts';
import type { StudioCall } from '../../src/protocol/studio.ts';
import { errorMessage, StudioClientBase } from './client.ts';

/**
 * The studio over the desktop window's preload bridge (`window.tandem`): each call goes through
 * IPC to the main process's link to the studio, each event comes back the same way. The bridge is
 * the page's to trust no more than a socket: results are parsed by their method's schema and
 * events by StudioEvent here, as WsStudioClient does. The link is the main process's, so this
 * client is open from the start until `close()`; the page's `about()` reads the HTTP read API on
 * its own origin (the studio's).
 */
export class IpcStudioClient extends StudioClientBase {
  readonly #bridge: DesktopBridge;
  readonly #unsubscribe: () => void;
  /** Calls sent, waiting for the answer (rejected by close()). */
  readonly #pending = new Set<(error: Error) => void>();

  constructor(bridge: DesktopBridge) {
    super('open', '');
    this.#bridge = bridge;
    this.#unsubscribe = bridge.on((raw: unknown) => {
      if (this.state !== 'closed') this.deliver(raw);
    });
  }

  protected get where(): string {
    return 'over the desktop bridge';
  }

  call(call: StudioCallInput): Promise<unknown> {
    if (this.state === 'closed') return Promise.reject(new Error('the studio client is closed'));
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        this.#pending.delete(fail);
        reject(error);
      };
      this.#pending.add(fail);
      // The preload checks the call against StudioCall (its defaults filled in) before it leaves.
      this.#bridge.call(call as StudioCall).then(
        (result) => {
          if (!this.#pending.delete(fail)) return;
          resolve(result);
        },
        (err: unknown) => {
          if (this.#pending.has(fail)) fail(new Error(errorMessage(err)));
        },
      );
    });
  }

  /** Stops listening; calls still waiting are rejected. */
  close(): void {
    if (this.state === 'closed') return;
    this.#unsubscribe();
    this.setState('closed');
    for (const fail of [...this.#pending]) {
      fail(new Error('the studio client was closed'));
    }
  }
}
