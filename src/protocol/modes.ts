import { z } from 'zod';

/**
 * Who may drive the robot now (src/studio/modes.ts). `paused`: nobody, the robot holds still;
 * `autonomous`: the policy; `intervention`: the operator, taking over from the policy;
 * `bc-warmup`: the operator or the scripted expert, teaching the actor by behaviour cloning;
 * `e-stop`: nobody until an explicit reset.
 */
export const Mode = z.enum(['paused', 'autonomous', 'intervention', 'bc-warmup', 'e-stop']);
export type Mode = z.infer<typeof Mode>;

/** Where a command came from; `safety` is the studio itself (e.g. a watchdog's e-stop). */
export const CommandOrigin = z.enum(['ui', 'keyboard', 'gamepad', 'headset', 'scripted', 'safety']);
export type CommandOrigin = z.infer<typeof CommandOrigin>;

/** How `intervene` button events are read: held to intervene, or pressed once to toggle. */
export const InterventionStyle = z.enum(['hold', 'toggle']);
export type InterventionStyle = z.infer<typeof InterventionStyle>;

/**
 * A command to the mode machine.
 * - `set-mode`: go to `paused`, `autonomous` or `bc-warmup` now (ends an intervention); `e-stop`
 *   is the same as the `e-stop` command; `intervention` is refused (use `intervene`).
 * - `intervene`: the intervene button, `pressed` true on press and false on release; read by the
 *   machine's intervention style.
 * - `toggle-intervention`: start an intervention, or hand back if one runs (either style).
 * - `e-stop`: stop now, from any mode.
 * - `reset`: leave e-stop, to `paused`.
 */
export const ModeCommandType = z.enum([
  'set-mode',
  'intervene',
  'toggle-intervention',
  'e-stop',
  'reset',
]);
export type ModeCommandType = z.infer<typeof ModeCommandType>;

export const ModeCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('set-mode'), mode: Mode, origin: CommandOrigin }).strict(),
  z.object({ type: z.literal('intervene'), pressed: z.boolean(), origin: CommandOrigin }).strict(),
  z.object({ type: z.literal('toggle-intervention'), origin: CommandOrigin }).strict(),
  z.object({ type: z.literal('e-stop'), origin: CommandOrigin }).strict(),
  z.object({ type: z.literal('reset'), origin: CommandOrigin }).strict(),
]);
export type ModeCommand = z.infer<typeof ModeCommand>;

/**
 * What the mode machine reports: an accepted command that changed the mode (`transition`), or a
 * refused one with its reason (`refused`; `cause` is `invalid` and `origin` absent when the
 * command did not parse). `at`: epoch milliseconds, as given to `apply`.
 */
export const ModeEvent = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('transition'),
    from: Mode,
    to: Mode,
    cause: ModeCommandType,
    origin: CommandOrigin,
    at: z.number(),
  }),
  z.object({
    kind: z.literal('refused'),
    mode: Mode,
    cause: z.union([ModeCommandType, z.literal('invalid')]),
    origin: CommandOrigin.optional(),
    at: z.number(),
    reason: z.string().min(1),
  }),
]);
export type ModeEvent = z.infer<typeof ModeEvent>;
