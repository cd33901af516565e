// The ROS 2 robot's side when the studio dies with it open: the process-death hook publishes the
// zero twist (src/robots/ros2/exit-stop.ts) and leaves the death as it was. The stand-in is
// in-process, so each death is a child process (ros2-shutdown-child.ts) whose robot side writes
// every twist it receives to stdout; the parent reads what the robot heard last. Stand-in only:
// killing a process is the same on real ROS 2, what its middleware then sends is docs/ROS2.md's
// "When Tandem dies".
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRos2Robot, type Ros2Robot } from '../../src/robots/ros2/index.ts';
import { stopsOnExit } from '../../src/robots/ros2/exit-stop.ts';
import { feedPandaSensors } from './panda-side.ts';
import { RclStandIn } from './ros2-standin.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./ros2-shutdown-child.ts', import.meta.url));
const PANDA = fileURLToPath(new URL('../../assets/robots/ros2/panda.json', import.meta.url));
const EVENTS = ['exit', 'SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const listeners = () => EVENTS.map((e) => process.listenerCount(e));

interface Death {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Every twist's linear velocity the robot side received, in order. */
  twists: number[][];
  lines: unknown[];
  stderr: string;
}

/** Runs the child in `mode`; sends it `signal` once it is ready (moved once). */
function die(mode: string, signal?: NodeJS.Signals): Promise<Death> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child (${mode}) did not end in 30 s:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      const was = stdout;
      stdout += d.toString();
      if (signal && !was.includes('"ready"') && stdout.includes('"ready"\n')) child.kill(signal);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown);
      const twists = lines
        .filter(
          (l): l is { twist: number[] } => typeof l === 'object' && l !== null && 'twist' in l,
        )
        .map((l) => l.twist);
      resolve({ code, signal: sig, twists, lines, stderr });
    });
  });
}

/** The robot moved (0.1 m/s along x), then heard zero last, in `copies` copies or more. */
function stoppedAfterMoving(death: Death, copies = 3): void {
  assert.ok(death.lines.includes('ready'), `the child never got ready:\n${death.stderr}`);
  assert.deepEqual(death.twists[0], [0.1, 0, 0]);
  const zeros = death.twists.slice(1);
  assert.ok(zeros.length >= copies, `${zeros.length} twists after the motion`);
  for (const t of zeros) assert.deepEqual(t, [0, 0, 0]);
}

describe('ROS 2 robot: when the studio process dies (RclStandIn, child processes)', () => {
  it('an uncaught exception: zero twist last, and the crash is still a crash (stack, exit 1)', async () => {
    const death = await die('throw');
    stoppedAfterMoving(death);
    assert.equal(death.code, 1);
    assert.match(death.stderr, /Error: the studio crashed/);
  });

  it('an unhandled rejection: zero twist last, exit 1', async () => {
    const death = await die('reject');
    stoppedAfterMoving(death);
    assert.equal(death.code, 1);
    assert.match(death.stderr, /a promise nobody awaited/);
  });

  it('SIGTERM and SIGINT with no host handling them: zero twist last, and the process dies of the signal', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const death = await die('signal', signal);
      stoppedAfterMoving(death);
      assert.deepEqual([death.code, death.signal], [null, signal], death.stderr);
    }
  });

  it('SIGTERM with a host handling it (as tandem serve does): the host closes the robot, the process ends as the host says', async () => {
    const death = await die('host', 'SIGTERM');
    // The hook's three zeros at the signal, then close()'s three.
    stoppedAfterMoving(death, 6);
    assert.deepEqual([death.code, death.signal], [0, null], death.stderr);
    // Closed: no listener is left on the process.
    assert.deepEqual(death.lines.at(-1), { listeners: [0, 0, 0, 0] });
  });
});

describe('ROS 2 robot: the process-death hook', () => {
  it('is one set of process listeners however many robots are open, and none once they close', async () => {
    const before = listeners();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const rcl = new RclStandIn();
    await rcl.init();
    const side = rcl.createNode('robot_side');
    side.spin();
    const stopFeeding = feedPandaSensors(side, 5);
    const robots: Ros2Robot[] = [];
    try {
      for (let i = 0; i < 15; i++) robots.push(await createRos2Robot(PANDA, { rcl }));
      assert.equal(stopsOnExit(), 15);
      assert.deepEqual(
        listeners(),
        before.map((n) => n + 1),
      );
    } finally {
      stopFeeding();
      for (const robot of robots) robot.close();
      process.removeListener('warning', onWarning);
    }
    assert.equal(stopsOnExit(), 0);
    assert.deepEqual(listeners(), before);
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
      [],
    );
  });
});
