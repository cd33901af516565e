import {
  CommandOrigin,
  ModeCommand,
  type InterventionStyle,
  type Mode,
  type ModeCommandType,
  type ModeEvent,
} from '../protocol/index.ts';

/** Who drives the robot now. */
export type Driver = 'policy' | 'operator' | 'none';

/** What `apply` answers. `from === to` when an accepted command changed nothing. */
export interface ModeResult {
  ok: boolean;
  from: Mode;
  to: Mode;
  /** Why the command was refused (only when `ok` is false). */
  reason?: string;
}

export interface ModeMachineOptions {
  /** How `intervene` button events are read (default `hold`). */
  style?: InterventionStyle;
  /** The mode to start in (default `paused`; `intervention` and `e-stop` are not allowed). */
  initial?: 'paused' | 'autonomous' | 'bc-warmup';
  /** Told of every transition and every refused command, after the state changed. */
  listener?: (event: ModeEvent) => void;
}

/**
 * Origins that are programs, not buttons: their `intervene` states what they want (pressed: take
 * over, released: hand back) whatever the style, so the scripted operator works in both styles.
 */
const STATES_INTENT: ReadonlySet<CommandOrigin> = new Set(['scripted', 'safety']);

/** The modes an intervention can start from, and hands back to. */
type Base = 'paused' | 'autonomous';

/**
 * Who may drive the robot: `paused` (nobody), `autonomous` (policy), `intervention` (operator,
 * taking over), `bc-warmup` (operator or scripted expert) and `e-stop` (nobody). Pure: no clock,
 * no I/O; the session feeds it commands with their time and stores what the listener is told.
 *
 * - `e-stop` is reached from every mode; in e-stop every command but `reset` is refused, and
 *   `reset` goes to `paused` (it is refused outside e-stop).
 * - An intervention starts from `autonomous` or from `paused` and hands back to the mode it came
 *   from. From `paused` it lets the operator reposition the robot, and releasing leaves it still
 *   again. From `bc-warmup` it is refused: the operator already drives there.
 * - `intervene` button events, style `hold`: a press starts an intervention, which lasts while
 *   any origin holds the button (keyboard and gamepad may both hold it); the last release hands
 *   back. Style `toggle`: a press starts or ends it, releases are ignored. The `scripted` and
 *   `safety` origins are read as `hold` in both styles. `toggle-intervention` starts or ends one
 *   in either style.
 * - `set-mode` to `paused`, `autonomous` or `bc-warmup` takes effect at once, also during an
 *   intervention (which it ends); `set-mode` to `e-stop` is an e-stop; to `intervention` it is
 *   refused (use `intervene` or `toggle-intervention`).
 * - Input that does not parse as a ModeCommand is refused and changes nothing.
 */
export class ModeMachine {
  readonly style: InterventionStyle;
  #mode: Mode;
  #returnTo: Base = 'paused';
  /** Origins holding the intervene button down (style `hold`). */
  #held = new Set<CommandOrigin>();
  readonly #listener: ((event: ModeEvent) => void) | undefined;

  constructor(options: ModeMachineOptions = {}) {
    this.style = options.style ?? 'hold';
    this.#mode = options.initial ?? 'paused';
    this.#listener = options.listener;
  }

  get mode(): Mode {
    return this.#mode;
  }

  /** The mode a running intervention hands back to (undefined when none runs). */
  get returnTo(): Base | undefined {
    return this.#mode === 'intervention' ? this.#returnTo : undefined;
  }

  /** Who drives now: the policy (autonomous), the operator (intervention, bc-warmup) or nobody. */
  driver(): Driver {
    switch (this.#mode) {
      case 'autonomous':
        return 'policy';
      case 'intervention':
      case 'bc-warmup':
        return 'operator';
      case 'paused':
      case 'e-stop':
        return 'none';
    }
  }

  /** Applies one command (validated here: it may come straight off the wire) at time `now`. */
  apply(input: unknown, now: number): ModeResult {
    const parsed = ModeCommand.safeParse(input);
    if (!parsed.success) {
      const origin = CommandOrigin.safeParse((input as { origin?: unknown } | null)?.origin);
      const issues = parsed.error.issues
        .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
        .join('; ');
      return this.#refuse(
        'invalid',
        origin.success ? origin.data : undefined,
        now,
        `malformed mode command: ${issues}`,
      );
    }
    const command = parsed.data;
    const { origin } = command;
    const mode = this.#mode;

    if (command.type === 'e-stop' || (command.type === 'set-mode' && command.mode === 'e-stop')) {
      this.#held.clear();
      return this.#go(command.type, origin, now, 'e-stop');
    }
    if (mode === 'e-stop') {
      if (command.type === 'reset') return this.#go('reset', origin, now, 'paused');
      return this.#refuse(command.type, origin, now, 'e-stop is engaged: send reset first');
    }

    switch (command.type) {
      case 'reset':
        return this.#refuse(
          'reset',
          origin,
          now,
          `not in e-stop (mode is ${mode}): nothing to reset`,
        );
      case 'set-mode':
        if (command.mode === 'intervention') {
          return this.#refuse(
            'set-mode',
            origin,
            now,
            'an intervention starts with intervene or toggle-intervention, not set-mode',
          );
        }
        this.#held.clear();
        return this.#go('set-mode', origin, now, command.mode);
      case 'toggle-intervention':
        return mode === 'intervention'
          ? this.#handBack('toggle-intervention', origin, now)
          : this.#startIntervention('toggle-intervention', origin, now);
      case 'intervene':
        if (this.style === 'toggle' && !STATES_INTENT.has(origin)) {
          if (!command.pressed) return this.#unchanged();
          return mode === 'intervention'
            ? this.#handBack('intervene', origin, now)
            : this.#startIntervention('intervene', origin, now);
        }
        if (command.pressed) {
          if (mode === 'intervention') {
            this.#held.add(origin);
            return this.#unchanged();
          }
          const result = this.#startIntervention('intervene', origin, now);
          if (result.ok) this.#held.add(origin);
          return result;
        }
        // A release ends the intervention when it was the last origin holding the button.
        if (mode !== 'intervention' || !this.#held.delete(origin) || this.#held.size > 0) {
          return this.#unchanged();
        }
        return this.#handBack('intervene', origin, now);
    }
  }

  #startIntervention(
    cause: 'intervene' | 'toggle-intervention',
    origin: CommandOrigin,
    now: number,
  ): ModeResult {
    const mode = this.#mode;
    if (mode !== 'autonomous' && mode !== 'paused') {
      return this.#refuse(
        cause,
        origin,
        now,
        `an intervention starts from autonomous or paused, not ${mode}` +
          (mode === 'bc-warmup' ? ' (the operator already drives in bc-warmup)' : ''),
      );
    }
    this.#returnTo = mode;
    return this.#go(cause, origin, now, 'intervention');
  }

  #handBack(
    cause: 'intervene' | 'toggle-intervention',
    origin: CommandOrigin,
    now: number,
  ): ModeResult {
    this.#held.clear();
    return this.#go(cause, origin, now, this.#returnTo);
  }

  #unchanged(): ModeResult {
    return { ok: true, from: this.#mode, to: this.#mode };
  }

  #go(cause: ModeCommandType, origin: CommandOrigin, at: number, to: Mode): ModeResult {
    const from = this.#mode;
    if (from === to) return { ok: true, from, to };
    this.#mode = to;
    this.#listener?.({ kind: 'transition', from, to, cause, origin, at });
    return { ok: true, from, to };
  }

  #refuse(
    cause: ModeEvent['cause'],
    origin: CommandOrigin | undefined,
    at: number,
    reason: string,
  ): ModeResult {
    const mode = this.#mode;
    this.#listener?.({
      kind: 'refused',
      mode,
      cause,
      ...(origin === undefined ? {} : { origin }),
      at,
      reason,
    });
    return { ok: false, from: mode, to: mode, reason };
  }
}
