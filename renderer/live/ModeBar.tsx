import { memo, type PointerEvent, useCallback, useEffect, useRef } from 'react';
import type { CommandOrigin, Mode } from '../../src/protocol/modes.ts';
import type { SessionStatus } from '../../src/protocol/studio.ts';
import { useStudioStatus } from '../api/studio-context.tsx';
import { useCommands } from './commands.ts';
import { count, percent } from './format.ts';
import { useModeKeys } from './keys.ts';

const WHO_DRIVES: Record<Mode, string> = {
  paused: 'nobody drives: the robot holds still',
  autonomous: 'the policy drives',
  intervention: 'the operator has taken over',
  'bc-warmup': 'the operator drives: the policy learns by imitation',
  'e-stop': 'stopped: reset to continue',
};

/**
 * The live mode bar: the mode in large coloured words, the mode buttons, the e-stop (always
 * visible) and the session's counts. Keys: Space held = intervene, S / F = episode success /
 * failure, R = reset (the e-stop when engaged, else the episode); Esc = e-stop is bound by the
 * app, on every screen.
 */
export const ModeBar = memo(function ModeBar() {
  const { status, connection } = useStudioStatus();
  const commands = useCommands();
  const { mode: send, episode } = commands;
  const mode = connection === 'open' ? status?.mode : undefined;
  const stopped = mode === 'e-stop';

  // A refused release (say, after an e-stop ended the intervention) is no news: not shown.
  const intervene = useCallback(
    (pressed: boolean, origin: CommandOrigin) =>
      send({ type: 'intervene', pressed, origin }, { quiet: !pressed }),
    [send],
  );
  useModeKeys({
    intervene: (pressed) => intervene(pressed, 'keyboard'),
    // R leaves an e-stop (to paused: nothing moves) and otherwise resets the episode.
    episode: (command) =>
      command === 'reset' && stopped
        ? send({ type: 'reset', origin: 'keyboard' })
        : episode(command),
  });

  // The on-screen intervene button: held while the pointer is down on it.
  const held = useRef(false);
  const press = (e: PointerEvent<HTMLButtonElement>) => {
    if (e.button !== 0 || held.current) return;
    held.current = true;
    intervene(true, 'ui');
  };
  const release = useCallback(() => {
    if (!held.current) return;
    held.current = false;
    intervene(false, 'ui');
  }, [intervene]);
  const offline = connection !== 'open';
  // A disabled button hears no pointerup: e-stop and a lost connection end the hold here.
  useEffect(() => {
    if (offline || stopped) held.current = false;
  }, [offline, stopped]);
  useEffect(() => release, [release]);

  const modeButton = (to: 'autonomous' | 'bc-warmup' | 'paused', testId: string, label: string) => (
    <button
      data-testid={testId}
      className={mode === to ? 'active' : ''}
      disabled={offline || stopped}
      onClick={() => send({ type: 'set-mode', mode: to, origin: 'ui' })}
    >
      {label}
    </button>
  );

  return (
    <section className={`mode-bar mode-bar--${mode ?? 'unknown'}`} aria-label="Mode">
      <div className="mode-bar__state">
        <div
          className={`mode-label mode-${mode ?? 'unknown'}`}
          data-testid="mode"
          data-mode={mode ?? ''}
          aria-live="assertive"
        >
          {mode ?? (offline ? 'disconnected' : '…')}
        </div>
        <div className="mode-bar__who">
          {mode ? WHO_DRIVES[mode] : offline ? `studio ${connection}` : 'waiting for the studio'}
        </div>
      </div>
      <div className="mode-bar__buttons">
        {modeButton('autonomous', 'mode-autonomous', 'Autonomous')}
        <button
          data-testid="mode-intervene"
          className={`hold ${mode === 'intervention' ? 'active' : ''}`}
          disabled={offline || stopped}
          title="Hold to take over (or hold Space)"
          onPointerDown={press}
          onPointerUp={release}
          onPointerLeave={release}
          onPointerCancel={release}
          onContextMenu={(e) => e.preventDefault()}
        >
          Intervene <kbd>Space</kbd>
        </button>
        {modeButton('bc-warmup', 'mode-bc-warmup', 'BC warm-up')}
        {modeButton('paused', 'mode-pause', 'Pause')}
        {stopped && (
          <button
            data-testid="mode-reset"
            className="reset"
            onClick={() => send({ type: 'reset', origin: 'ui' })}
          >
            Reset e-stop <kbd>R</kbd>
          </button>
        )}
        <button
          data-testid="mode-estop"
          className="estop"
          onClick={() => send({ type: 'e-stop', origin: 'ui' })}
        >
          E-STOP <kbd>Esc</kbd>
        </button>
      </div>
      <div className="mode-bar__episode">
        <button data-testid="episode-success" disabled={offline} onClick={() => episode('success')}>
          Success <kbd>S</kbd>
        </button>
        <button data-testid="episode-failure" disabled={offline} onClick={() => episode('failure')}>
          Failure <kbd>F</kbd>
        </button>
        <button data-testid="episode-reset" disabled={offline} onClick={() => episode('reset')}>
          Reset episode <kbd>R</kbd>
        </button>
      </div>
      {status && <SessionStats status={status} />}
      {commands.notice && (
        <div className="notice" role="alert" data-testid="mode-notice">
          {commands.notice}
        </div>
      )}
    </section>
  );
});

/** Episodes, success and intervention rates, the policy's version and the learner's pace. */
function SessionStats({ status }: { status: SessionStatus }) {
  const { episodes, interventions, learner, episode } = status;
  const judged = episodes.total - episodes.discarded;
  return (
    <dl className="stats">
      <Stat id="episodes" label="episodes" value={count(episodes.total)} />
      <Stat
        id="success-rate"
        label="success"
        value={percent(episodes.success, judged)}
        title={`${episodes.success} of ${judged} (discarded ones not counted)`}
      />
      <Stat
        id="intervention-rate"
        label="intervened"
        value={percent(interventions.steps, learner.online)}
        title={`${interventions.steps} of ${learner.online} steps, ${interventions.count} take-overs`}
      />
      <Stat id="policy-version" label="policy" value={`v${status.policyVersion}`} />
      <Stat id="updates" label="updates/s" value={learner.updatesPerS.toFixed(1)} />
      <Stat
        id="episode"
        label="episode"
        value={episode ? `#${episode.id} · step ${episode.steps}` : '–'}
        title={episode ? `${episode.kind}, return ${episode.return.toFixed(2)}` : 'none running'}
      />
    </dl>
  );
}

function Stat({
  id,
  label,
  value,
  title,
}: {
  id: string;
  label: string;
  value: string;
  title?: string;
}) {
  return (
    <div className="stat" title={title}>
      <dt>{label}</dt>
      <dd data-testid={`stat-${id}`}>{value}</dd>
    </div>
  );
}
