import { useEffect, useMemo, useRef, useState } from 'react';
import type { ModeCommand } from '../../src/protocol/modes.ts';
import type { EpisodeCommand } from '../../src/protocol/studio.ts';
import { useStudioStatus } from '../api/studio-context.tsx';
import { isShortcut, listenKeys } from './keys.ts';
import {
  gamepadAction,
  GRIPPER_KEY,
  held,
  keyboardAction,
  MOVE_KEYS,
  nextTeleopSeq,
  PAD,
  type PadState,
  teleopHz,
  type TeleopLayout,
} from './operator-input.ts';

/**
 * Which of this page's devices drives: the one the operator touched last while driving, none
 * before that. Until then the page sends nothing, so a headset streaming at the same time (or a
 * script) keeps the robot.
 */
let active: 'keyboard' | 'gamepad' | undefined;

/**
 * Whether this page's keyboard and gamepad drive now (a human operator, the operator's turn), and
 * the robot's teleop layout. The layout is kept by value: every status answer is a new object, and
 * the senders below would otherwise restart with each one (the gamepad forgetting its held buttons).
 */
function useDriving() {
  const { client, status: s } = useStudioStatus();
  const driving =
    s !== undefined &&
    s.teleop !== null &&
    s.operator === 'human' &&
    (s.mode === 'intervention' || s.mode === 'bc-warmup');
  const layoutKey = JSON.stringify(s?.teleop ?? null);
  const layout = useMemo(() => JSON.parse(layoutKey) as TeleopLayout | null, [layoutKey]);
  return { client, driving, layout, hz: teleopHz(s?.rateHz ?? 10) };
}

/**
 * The keyboard as an operator: while the operator drives, the held movement keys (arrows: forward,
 * back, left, right; PageUp/E, PageDown/Q: up, down) are sent as teleop packets at twice the
 * control rate (teleopHz), G toggles the gripper. Keys are dropped on blur and when the page is hidden, so a lost
 * keyup never keeps moving.
 */
export function useKeyboardOperator(): { gripperClosed: boolean } {
  const { client, driving, layout, hz } = useDriving();
  const heldKeys = useRef(new Set<string>());
  const [gripperClosed, setGripperClosed] = useState(false);
  const gripperRef = useRef(gripperClosed);
  gripperRef.current = gripperClosed;
  const drivingRef = useRef(driving);
  drivingRef.current = driving;

  useEffect(() => {
    const down = (e: KeyboardEvent) => {
      if (!isShortcut(e)) return;
      if (e.key.toLowerCase() === GRIPPER_KEY && !e.repeat) {
        setGripperClosed((c) => !c);
        if (drivingRef.current) active = 'keyboard';
        return;
      }
      if (MOVE_KEYS[e.key] ?? MOVE_KEYS[e.key.toLowerCase()]) {
        e.preventDefault(); // arrows and PageUp/Down would scroll the page
        heldKeys.current.add(e.key);
        if (drivingRef.current) active = 'keyboard';
      }
    };
    const up = (e: KeyboardEvent) => heldKeys.current.delete(e.key);
    return listenKeys(down, up, () => heldKeys.current.clear());
  }, []);

  useEffect(() => {
    if (!driving) active = undefined; // the next turn starts with no device chosen
    if (!driving || !layout) return;
    const timer = setInterval(() => {
      if (active !== 'keyboard') return;
      const action = keyboardAction(heldKeys.current, gripperRef.current, layout);
      client.teleop({ seq: nextTeleopSeq(), action, device: 'keyboard' }).catch(() => undefined); // a refused packet moves nothing; the stale hold shows it
    }, 1000 / hz);
    return () => clearInterval(timer);
  }, [client, driving, layout, hz]);
  return { gripperClosed };
}

/** The first connected standard-mapping gamepad, or undefined. */
function firstPad(): PadState | undefined {
  if (typeof navigator === 'undefined' || !navigator.getGamepads) return undefined;
  return navigator.getGamepads().find((p) => p?.connected && p.mapping === 'standard') ?? undefined;
}

/**
 * A gamepad (the Gamepad API, standard mapping) as an operator: A held = intervene (hold-to-
 * intervene, read by the studio's intervention style), B = e-stop, X / Y = success / failure;
 * while the operator drives, the sticks and the right trigger are sent as teleop packets at twice
 * the control rate (teleopHz).
 */
export function useGamepadOperator(): { connected: boolean } {
  const { client, driving, layout, hz } = useDriving();
  const [connected, setConnected] = useState(false);
  const drivingRef = useRef(driving);
  drivingRef.current = driving;

  useEffect(() => {
    let frame = 0;
    let lastSent = 0;
    const was = { a: false, b: false, x: false, y: false };
    const mode = (command: ModeCommand) => void client.mode(command).catch(() => undefined);
    const episode = (command: EpisodeCommand) =>
      void client.episode(command).catch(() => undefined);
    const poll = () => {
      frame = requestAnimationFrame(poll);
      const pad = firstPad();
      setConnected(pad !== undefined);
      if (!pad) {
        if (was.a) mode({ type: 'intervene', pressed: false, origin: 'gamepad' });
        was.a = false;
        return;
      }
      const now = {
        a: held(pad, PAD.a),
        b: held(pad, PAD.b),
        x: held(pad, PAD.x),
        y: held(pad, PAD.y),
      };
      if (now.b && !was.b) mode({ type: 'e-stop', origin: 'gamepad' });
      if (now.a !== was.a) mode({ type: 'intervene', pressed: now.a, origin: 'gamepad' });
      if (now.a && !was.a) active = 'gamepad';
      if (now.x && !was.x) episode('success');
      if (now.y && !was.y) episode('failure');
      Object.assign(was, now);
      const t = performance.now();
      if (drivingRef.current && layout && t - lastSent >= 1000 / hz) {
        lastSent = t;
        const action = gamepadAction(pad, layout);
        const touched = action.some((v, i) => v !== 0 && i !== layout.gripper);
        if (touched || held(pad, PAD.rightTrigger)) active = 'gamepad';
        if (active === 'gamepad') {
          client.teleop({ seq: nextTeleopSeq(), action, device: 'gamepad' }).catch(() => undefined);
        }
      }
    };
    frame = requestAnimationFrame(poll);
    return () => cancelAnimationFrame(frame);
  }, [client, layout, hz]);
  return { connected };
}
