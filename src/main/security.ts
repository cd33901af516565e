// The desktop window's security settings: web preferences, the CSP header, navigation and
// permission guards. Electron objects are passed in (types only are imported), so this runs and
// is tested in plain Node.
import type { Session, WebContents, WebPreferences } from 'electron';

/**
 * The renderer's web preferences: an isolated, sandboxed page without Node. The preload is the
 * only bridge, and it exposes only `window.tandem` (preload-api.ts).
 */
export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

/**
 * The Content-Security-Policy for the studio served at `origin` (http://127.0.0.1:PORT): scripts
 * and everything else only from the studio itself, WebSocket to the studio only, no plugins, no
 * framing, no forms, no <base>. Inline styles stay allowed (React style attributes, uPlot).
 */
export function contentSecurityPolicy(origin: string): string {
  const url = new URL(origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`the studio must be served over http(s), not ${url.protocol}`);
  }
  const ws = `${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ${ws}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export type CspSession = { webRequest: Pick<Session['webRequest'], 'onHeadersReceived'> };

/**
 * Sets `policy` as the Content-Security-Policy header of every response in `session`, replacing
 * any the server sent (whatever its case).
 */
export function installCsp(session: CspSession, policy: string): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      if (name.toLowerCase() !== 'content-security-policy') headers[name] = value;
    }
    headers['Content-Security-Policy'] = [policy];
    callback({ responseHeaders: headers });
  });
}

/** Refuses every permission request and check (camera, microphone, notifications, …). */
export function denyPermissions(
  session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>,
): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

/** Same scheme, host and port. */
export function sameOrigin(url: string, origin: string): boolean {
  try {
    return new URL(url).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}

export type GuardedContents = Pick<WebContents, 'setWindowOpenHandler' | 'on'>;

/**
 * The page may not open windows, navigate away from the studio's origin or attach webviews.
 */
export function guardNavigation(contents: GuardedContents, origin: string): void {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event) => {
    if (!sameOrigin(event.url, origin)) event.preventDefault();
  });
  contents.on('will-redirect', (event) => {
    if (!sameOrigin(event.url, origin)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}
