// The studio's window and the single-instance rule. Electron's classes and app are parameters.
import type { App, BrowserWindow, BrowserWindowConstructorOptions } from 'electron';
import { guardNavigation, secureWebPreferences } from './security.ts';

/** The options of the studio's window: the secure web preferences, shown once painted. */
export function mainWindowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    title: 'Tandem',
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    show: false,
    backgroundColor: '#101418',
    autoHideMenuBar: true,
    webPreferences: secureWebPreferences(preload),
  };
}

/** What createMainWindow needs of Electron: the BrowserWindow class. */
export interface WindowFactory {
  BrowserWindow: new (options: BrowserWindowConstructorOptions) => BrowserWindow;
}

/**
 * Opens the studio's window on `url` (the studio's own origin), guarded against navigation away
 * and new windows; shown when ready. Resolves once the page has loaded.
 */
export async function createMainWindow(
  electron: WindowFactory,
  opts: { url: string; preload: string },
): Promise<BrowserWindow> {
  const window = new electron.BrowserWindow(mainWindowOptions(opts.preload));
  guardNavigation(window.webContents, new URL(opts.url).origin);
  window.once('ready-to-show', () => window.show());
  await window.loadURL(opts.url);
  return window;
}

export type FocusableWindow = Pick<
  BrowserWindow,
  'isDestroyed' | 'isMinimized' | 'restore' | 'show' | 'focus'
>;

/**
 * One studio per user: the first instance takes the lock; a second one quits at once and the first
 * brings its window to the front (restored if minimised). False in the second instance.
 */
export function claimSingleInstance(
  app: Pick<App, 'requestSingleInstanceLock' | 'quit' | 'on'>,
  currentWindow: () => FocusableWindow | undefined,
): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => {
    const window = currentWindow();
    if (!window || window.isDestroyed()) return;
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
  });
  return true;
}
