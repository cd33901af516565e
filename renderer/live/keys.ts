import { useEffect, useRef } from 'react';

export interface ModeKeyActions {
  /** Space pressed (true) or released (false). */
  intervene(pressed: boolean): void;
  /** S, F, R (the mode bar reads R as the e-stop's reset while it is engaged). */
  episode(command: 'success' | 'failure' | 'reset'): void;
}

const EPISODE_KEYS: Record<string, 'success' | 'failure' | 'reset'> = {
  s: 'success',
  f: 'failure',
  r: 'reset',
};

/** True while the user types: keys then belong to the field. */
function isTyping(target: EventTarget | null): boolean {
  if (typeof HTMLElement === 'undefined' || !(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** A key press meant for the page's shortcuts: no Ctrl, Alt or Meta, and not typed into a field. */
export function isShortcut(e: KeyboardEvent): boolean {
  return !(e.ctrlKey || e.altKey || e.metaKey || isTyping(e.target));
}

/**
 * Listens to the window's keys. `release` runs on blur, when the page is hidden and on cleanup, so
 * that a lost keyup never leaves a key held. Returns the cleanup.
 */
export function listenKeys(
  down: (e: KeyboardEvent) => void,
  up: (e: KeyboardEvent) => void,
  release: () => void,
): () => void {
  const hidden = () => {
    if (document.visibilityState === 'hidden') release();
  };
  window.addEventListener('keydown', down);
  window.addEventListener('keyup', up);
  window.addEventListener('blur', release);
  document.addEventListener('visibilitychange', hidden);
  return () => {
    window.removeEventListener('keydown', down);
    window.removeEventListener('keyup', up);
    window.removeEventListener('blur', release);
    document.removeEventListener('visibilitychange', hidden);
    release();
  };
}

function isSpace(e: KeyboardEvent): boolean {
  return e.code === 'Space' || e.key === ' ';
}

/**
 * The live keys, on the window: Space held = intervene (one press on keydown, one release on keyup,
 * on blur or when the page is hidden, so a lost keyup cannot leave the operator "holding"); S / F /
 * R = episode success / failure / reset. Ignored while typing and with Ctrl, Alt or Meta.
 */
export function useModeKeys(actions: ModeKeyActions): void {
  const latest = useRef(actions);
  useEffect(() => {
    latest.current = actions;
  });
  useEffect(() => {
    let spaceHeld = false;
    const release = () => {
      if (!spaceHeld) return;
      spaceHeld = false;
      latest.current.intervene(false);
    };
    const down = (e: KeyboardEvent) => {
      if (!isShortcut(e)) return;
      if (isSpace(e)) {
        // Also keeps a focused button from being clicked by the Space key.
        e.preventDefault();
        if (e.repeat || spaceHeld) return;
        spaceHeld = true;
        latest.current.intervene(true);
        return;
      }
      const command = EPISODE_KEYS[e.key.toLowerCase()];
      if (command && !e.repeat) {
        e.preventDefault();
        latest.current.episode(command);
      }
    };
    const up = (e: KeyboardEvent) => {
      if (!isSpace(e) || !spaceHeld) return;
      e.preventDefault();
      release();
    };
    return listenKeys(down, up, release);
  }, []);
}

/** Esc = e-stop, on every screen and also while typing: stopping the robot never waits. */
export function useEstopKey(estop: () => void): void {
  const latest = useRef(estop);
  useEffect(() => {
    latest.current = estop;
  });
  useEffect(() => {
    const down = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.repeat) return;
      latest.current();
    };
    window.addEventListener('keydown', down);
    return () => window.removeEventListener('keydown', down);
  }, []);
}
