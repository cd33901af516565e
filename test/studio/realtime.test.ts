import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { enterRealtime, leaveRealtime } from '../../src/studio/realtime.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The scheduling policy of this process's main thread, as the kernel reports it. */
function policy(): string {
  const out = spawnSync('chrt', ['-p', String(process.pid)], { encoding: 'utf8' }).stdout;
  return /policy: (\S+)/.exec(out)?.[1] ?? out;
}

const root = process.getuid?.() === 0;

describe(
  'the control thread on the real-time scheduler',
  { skip: process.platform !== 'linux' && 'Linux only' },
  () => {
    it(
      'with the right to, the main thread goes SCHED_FIFO and back',
      { skip: !root && 'not root here' },
      () => {
        const result = enterRealtime();
        try {
          assert.deepEqual(result, { ok: true, policy: 'SCHED_FIFO 10' });
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

    it(
      'without it, nothing changes and the reason says how to allow it',
      { skip: !root && 'needs root to run a child as nobody' },
      () => {
        const code = `import { enterRealtime } from './src/studio/realtime.ts';
      console.log(JSON.stringify(enterRealtime()));`;
        const run = spawnSync(
          'setpriv',
          [
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
        assert.equal(run.status, 0, run.stderr);
        const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
          ok: boolean;
          reason?: string;
        };
        assert.equal(result.ok, false);
        assert.match(result.reason ?? '', /Operation not permitted/);
        assert.match(result.reason ?? '', /ulimit -r|CAP_SYS_NICE|cap_sys_nice/);
      },
    );
  },
);
