import { useCallback, useEffect, useRef, useState } from 'react';
import type { ModeCommand } from '../../src/protocol/modes.ts';
import type { EpisodeCommand } from '../../src/protocol/studio.ts';
import { useStudioStatus } from '../api/studio-context.tsx';
import { errorMessage } from '../api/client.ts';

/** How long a refused command's reason stays on screen (ms). */
const NOTICE_MS = 4000;

/**
 * Mode and episode commands to the studio. A refused or failed one leaves its reason in `notice`
 * for a few seconds (unless sent `quiet`); an accepted one refreshes the status at once.
 */
export function useCommands() {
  const { client, refreshStatus } = useStudioStatus();
  const [notice, setNotice] = useState<string>();
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => () => clearTimeout(timer.current), []);

  const fail = useCallback((err: unknown) => {
    setNotice(errorMessage(err));
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setNotice(undefined), NOTICE_MS);
  }, []);

  const mode = useCallback(
    (command: ModeCommand, options: { quiet?: boolean } = {}) => {
      client.mode(command).then(refreshStatus, options.quiet ? () => undefined : fail);
    },
    [client, refreshStatus, fail],
  );

  const episode = useCallback(
    (command: EpisodeCommand) => {
      client.episode(command).then(refreshStatus, fail);
    },
    [client, refreshStatus, fail],
  );

  return { mode, episode, notice };
}
