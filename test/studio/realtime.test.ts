import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { enterRealtime, leaveRealtime, REALTIME_PRIORITY } from '../../src/studio/realtime.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const linux = process.platform === 'linux';

/** The scheduling policy of a process's main thread, as the kernel reports it. */
function policy(pid = process.pid): string {
  const out = spawnSync('chrt', ['-p', String(pid)], { encoding: 'utf8' }).stdout;
  return /policy: (\S+)/.exec(out)?.[1] ?? out;
}

/**
 * Why this process may go SCHED_FIFO at REALTIME_PRIORITY (CAP_SYS_NICE, or a real-time
 * priority limit that high), or undefined where it may not.
 */
function rightToRealtime(): string | undefined {
  if (!linux) return undefined;
  const caps = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  const CAP_SYS_NICE = 23n;
  if (caps && (BigInt(`0x${caps}`) >> CAP_SYS_NICE) & 1n) return 'CAP_SYS_NICE';
  const limit = /^Max realtime priority\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (limit && Number(limit[1]) >= REALTIME_PRIORITY) return `ulimit -r ${limit[1]}`;
  return undefined;
}

const hasChrt = linux && !spawnSync('chrt', ['--version']).error;
const right = rightToRealtime();
const root = process.getuid?.() === 0;
const hasSetpriv = linux && !spawnSync('setpriv', ['--version']).error;

/** The refusal: nothing changed, and the reason says what was refused and how to allow it. */
function assertRefused(result: { ok: boolean; reason?: string }, policyAfter: string): void {
  assert.equal(result.ok, false);
  assert.match(result.reason ?? '', /Operation not permitted/);
  assert.match(result.reason ?? '', /ulimit -r|CAP_SYS_NICE|cap_sys_nice/);
  assert.equal(policyAfter, 'SCHED_OTHER', 'the policy is unchanged');
}

describe(
  'the control thread on the real-time scheduler',
  { skip: (!linux && 'Linux only') || (!hasChrt && 'needs chrt (util-linux)') },
  () => {
    it(
      'with the right to, the main thread goes SCHED_FIFO and back',
      {
        skip:
          !right &&
          `needs the right to real-time scheduling, which this process lacks (no CAP_SYS_NICE, ulimit -r below ${REALTIME_PRIORITY}); the refusal is tested instead`,
      },
      () => {
        const result = enterRealtime();
        try {
          assert.deepEqual(result, { ok: true, policy: `SCHED_FIFO ${REALTIME_PRIORITY}` });
          assert.match(
            policy(),
            /^SCHED_FIFO\|SCHED_RESET_ON_FORK$/,
            'threads started later go back to normal',
          );
        } finally {
          leaveRealtime();
        }
        assert.equal(policy(), 'SCHED_OTHER');
      },
    );

    if (!right) {
      it('without the right to, nothing changes and the reason says how to allow it', () => {
        const result = enterRealtime();
        assertRefused(result, policy());
      });
      return;
    }

    // This process may: the refusal runs in a child that may not, as the `nobody` user (which
    // needs root to switch to) with no real-time priority limit.
    it(
      'without the right to (a child as nobody), nothing changes and the reason says how to allow it',
      {
        skip:
          (!root &&
            `this process has the right to real-time scheduling (${right}) and is not root, so it cannot start a child without it`) ||
          (!hasSetpriv && 'needs setpriv (util-linux) to run a child as nobody'),
      },
      () => {
        const code = `import { spawnSync } from 'node:child_process';
import { enterRealtime } from './src/studio/realtime.ts';
const result = enterRealtime();
const out = spawnSync('chrt', ['-p', String(process.pid)], { encoding: 'utf8' }).stdout;
console.log(JSON.stringify({ result, policy: /policy: (\\S+)/.exec(out)?.[1] ?? out }));`;
        const run = spawnSync(
          'prlimit',
          [
            '--rtprio=0:0',
            'setpriv',
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            process.execPath,
            '--import',
            'tsx',
            '--input-type=module',
            '-e',
            code,
          ],
          { cwd: ROOT, encoding: 'utf8' },
        );
        assert.ifError(run.error);
        assert.equal(run.status, 0, run.stderr);
        const child = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
          result: { ok: boolean; reason?: string };
          policy: string;
        };
        assertRefused(child.result, child.policy);
      },
    );
  },
);
