import { spawnSync } from 'node:child_process';

/** The SCHED_FIFO priority the control thread asks for: above every normal thread, low among real-time ones. */
export const REALTIME_PRIORITY = 10;

export type RealtimeResult = { ok: true; policy: string } | { ok: false; reason: string };

/**
 * Puts this process's main thread (the control loop's: in Linux its thread id is the process id)
 * on the real-time SCHED_FIFO policy, so the kernel runs it the moment its timer fires instead of
 * after whatever learner or renderer thread holds the core. Threads and processes it starts later
 * get the normal policy back (reset-on-fork). Done with util-linux's `chrt`, as Node has no call
 * for it. Needs CAP_SYS_NICE or a real-time priority limit (`ulimit -r`); without them it says so
 * and changes nothing.
 */
export function enterRealtime(priority = REALTIME_PRIORITY): RealtimeResult {
  if (process.platform !== 'linux') {
    return {
      ok: false,
      reason: `real-time scheduling is only set up on Linux (this is ${process.platform})`,
    };
  }
  const run = spawnSync(
    'chrt',
    ['--fifo', '--reset-on-fork', '-p', String(priority), String(process.pid)],
    {
      encoding: 'utf8',
    },
  );
  if (run.error) {
    return { ok: false, reason: `chrt (util-linux) could not be run: ${run.error.message}` };
  }
  if (run.status !== 0) {
    const why = run.stderr.trim().split('\n').at(-1) ?? `exit ${run.status}`;
    return {
      ok: false,
      reason: `${why}; to allow it: run as a user with a real-time limit (ulimit -r ${priority} or more, e.g. in /etc/security/limits.conf) or give node CAP_SYS_NICE (sudo setcap cap_sys_nice+ep "$(readlink -f "$(which node)")")`,
    };
  }
  return { ok: true, policy: `SCHED_FIFO ${priority}` };
}

/** Back to the normal policy (SCHED_OTHER) for the main thread; quietly does nothing if it fails. */
export function leaveRealtime(): void {
  if (process.platform !== 'linux') return;
  spawnSync('chrt', ['--other', '-p', '0', String(process.pid)], { stdio: 'ignore' });
}
