import type { Mode } from '../../src/protocol/modes.ts';
import type { ConnectionState } from '../api/client.ts';

/** What the headset's HUD shows. */
export interface HudState {
  connection: ConnectionState;
  /** `controller` in control, `controller` waiting, or only watching. */
  role: 'control' | 'paired' | 'watcher';
  mode: Mode | undefined;
  /** An episode is being recorded. */
  recording: boolean;
  /** How the last episode ended, e.g. "success (64 steps)". */
  lastOutcome: string | undefined;
  /** Median round trip of the page's frames (ms). */
  rttMs: number | undefined;
  /** Frame stamp → used at a control tick, as the studio measured it (ms). */
  latencyMs: number | undefined;
  clutch: boolean;
  gripper: boolean;
  /** The newest alarm, shown until the next one. */
  alarm: string | undefined;
}

export const INITIAL_HUD: HudState = {
  connection: 'connecting',
  role: 'watcher',
  mode: undefined,
  recording: false,
  lastOutcome: undefined,
  rttMs: undefined,
  latencyMs: undefined,
  clutch: false,
  gripper: false,
  alarm: undefined,
};

const ms = (v: number | undefined) => (v === undefined ? '–' : `${v.toFixed(1)} ms`);

/** The HUD's lines, top to bottom (the same text in the headset and the desktop preview). */
export function hudLines(s: HudState): string[] {
  const who =
    s.role === 'control'
      ? 'in control'
      : s.role === 'paired'
        ? 'paired: not in control'
        : 'watching only: pair to drive';
  return [
    `${(s.mode ?? '…').toUpperCase()}${s.recording ? '  ● REC' : ''}`,
    `${s.connection === 'open' ? who : `studio ${s.connection}`}`,
    `round trip ${ms(s.rttMs)} · to robot ${ms(s.latencyMs)}`,
    `clutch ${s.clutch ? 'held' : 'free'} · gripper ${s.gripper ? 'closing' : 'open'}`,
    `last episode: ${s.lastOutcome ?? '–'}`,
    ...(s.alarm ? [`⚠ ${s.alarm}`] : []),
  ];
}

/** Mode colours, as the desktop's mode bar. */
export const MODE_COLOURS: Record<Mode, string> = {
  paused: '#6b7280',
  autonomous: '#2563eb',
  intervention: '#d97706',
  'bc-warmup': '#7c3aed',
  'e-stop': '#dc2626',
};

/** Draws the HUD on a 2D canvas (the headset's panel texture). */
export function drawHud(ctx: CanvasRenderingContext2D, s: HudState): void {
  const { width, height } = ctx.canvas;
  ctx.fillStyle = 'rgba(17, 24, 39, 0.85)';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = s.mode ? MODE_COLOURS[s.mode] : '#374151';
  ctx.fillRect(0, 0, width, 14);
  const lines = hudLines(s);
  ctx.textBaseline = 'top';
  lines.forEach((line, i) => {
    ctx.font = i === 0 ? 'bold 44px sans-serif' : '30px sans-serif';
    ctx.fillStyle =
      i === 0 && s.recording ? '#f87171' : line.startsWith('⚠') ? '#fbbf24' : '#f9fafb';
    ctx.fillText(line, 24, i === 0 ? 28 : 40 + i * 42, width - 48);
  });
}
