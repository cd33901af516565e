// The ROS 2 robot's last word when the process dies without closing it: an uncaught error, an
// unhandled rejection, SIGINT/SIGTERM/SIGHUP, or process.exit() with a robot still open. A velocity
// command must not keep running after Tandem is gone, so every live robot gets to publish its stop
// (Ros2Robot's zero twist) first. The hook is one set of process listeners shared by every robot
// in the process (installed with the first, removed with the last), so creating many robots never
// piles up listeners. kill -9 and power loss run no code at all: docs/ROS2.md, "When Tandem dies",
// says what the robot side must do about those.
import { constants } from 'node:os';

/** Publishes a robot's stop now, synchronously (an 'exit' listener cannot await). */
export type StopNow = () => void;

/** The signals that end a studio from outside: Ctrl-C, kill, a closed terminal. */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Signal = (typeof SIGNALS)[number];

const live = new Set<StopNow>();
let installed = false;

/** Every live robot's stop; a robot whose stop throws does not keep the others from theirs. */
function stopAll(): void {
  for (const stop of [...live]) {
    try {
      stop();
    } catch {
      // Nothing to do about it here: the process is going, and the robot's watchdog remains.
    }
  }
}

/**
 * 'exit' also runs after an uncaught exception or an unhandled rejection, once Node has printed it
 * and set the exit code: no 'uncaughtException' listener is needed, so the crash stays a crash.
 */
const onExit = () => stopAll();

/**
 * Stops every robot, then lets the signal do what it would have done. A host that handles the
 * signal itself (`tandem serve` closes its session, which closes the robot) keeps the process;
 * where this is the only listener, ours are removed and the signal raised again, so the process
 * still dies of it (exit status 128 + n), as it would have without the hook.
 */
function onSignal(signal: Signal): void {
  stopAll();
  if (process.listenerCount(signal) > 1) return;
  uninstall();
  try {
    process.kill(process.pid, signal);
  } catch {
    process.exit(128 + (constants.signals[signal] ?? 0)); // a signal this platform cannot raise
  }
}

const handlers = new Map<Signal, () => void>(SIGNALS.map((s) => [s, () => onSignal(s)]));

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  // First in line: a later listener (rclnodejs's own SIGINT handler, where it was not removed)
  // may destroy the nodes the stop is published on.
  for (const [signal, handler] of handlers) process.prependListener(signal, handler);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', onExit);
  for (const [signal, handler] of handlers) process.removeListener(signal, handler);
}

/**
 * Runs `stop` if the process dies while the robot is open; returns the function that takes it off
 * again (the robot's close(), which publishes the stop itself). Idempotent.
 */
export function stopOnExit(stop: StopNow): () => void {
  live.add(stop);
  install();
  return () => {
    live.delete(stop);
    if (live.size === 0) uninstall();
  };
}

/** How many robots the hook would stop now (for the tests). */
export function stopsOnExit(): number {
  return live.size;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the thread for `ms` milliseconds: between the stop's copies and before the node goes, so
 * a middleware that sends from a background thread (Fast DDS's asynchronous publication mode)
 * gets the time to put them on the wire. The only wait an 'exit' listener can make.
 */
export function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
