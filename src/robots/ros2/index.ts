// The ROS 2 robot's entry: read the config, load rclnodejs by a guarded dynamic import (it is an
// optional dependency that installs only where ROS 2 is sourced), connect. Without ROS 2 this
// fails with one clear error and nothing else in the studio is touched.
import { loadRos2Config } from './config.ts';
import type { Rcl } from './rcl.ts';
import { Ros2Robot, type Ros2RobotOptions } from './robot.ts';

export { Ros2ConfigError, loadRos2Config, parseRos2Config, type Ros2Config } from './config.ts';
export { Ros2ConnectError, Ros2Robot, type RobotFault } from './robot.ts';

export const ROS2_FIX =
  'Source your ROS 2 setup (source /opt/ros/<distro>/setup.bash) and reinstall (npm install rclnodejs)';

/** rclnodejs cannot be loaded: ROS 2 is not installed, not sourced, or rclnodejs was built without it. */
export class Ros2UnavailableError extends Error {
  override name = 'Ros2UnavailableError';
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`ROS 2 not available: rclnodejs could not be loaded (${reason}). ${ROS2_FIX}`, options);
  }
}

/** The import's failure in a few words (the first line; "not installed" for a missing module). */
function importReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/Cannot find (module|package) ['"]?rclnodejs/.test(message)) {
    return 'rclnodejs is not installed: it is an optional dependency that installs only with ROS 2 sourced';
  }
  return message.split('\n')[0]!;
}

const importRclnodejs = () => import('rclnodejs' as string);

/** rclnodejs, initialised once per process (shared by every robot; shut down with the last). */
let shared: { rcl: Rcl; users: number } | undefined;

/** Loads and initialises rclnodejs, or throws Ros2UnavailableError saying why and how to fix it. */
export async function loadRcl(importer: () => Promise<unknown> = importRclnodejs): Promise<Rcl> {
  if (shared) return shared.rcl;
  let rcl: Rcl;
  try {
    const mod = (await importer()) as { default?: Rcl } & Rcl;
    rcl = mod.default ?? mod;
    rcl.removeSignalHandlers?.(); // Ctrl-C is Tandem's to handle: see Rcl.removeSignalHandlers
    await rcl.init();
  } catch (err) {
    throw new Ros2UnavailableError(importReason(err), { cause: err });
  }
  shared = { rcl, users: 0 };
  return rcl;
}

/** Whether rclnodejs loads here (without initialising it), for `tandem doctor`. */
export async function probeRcl(
  importer: () => Promise<unknown> = importRclnodejs,
): Promise<{ loaded: true } | { loaded: false; reason: string }> {
  try {
    await importer();
    return { loaded: true };
  } catch (err) {
    return { loaded: false, reason: importReason(err) };
  }
}

function release(rcl: Rcl): void {
  if (!shared || shared.rcl !== rcl) return;
  if (--shared.users > 0) return;
  shared = undefined;
  if (!rcl.isShutdown()) rcl.shutdown();
}

/**
 * The robot a `ros2` task's config file describes. The file is read and checked first, so a
 * mistake in it is reported even on a machine without ROS 2. `rcl` replaces rclnodejs (the tests'
 * stand-in; docs/ROS2.md).
 */
export async function createRos2Robot(
  configPath: string,
  opts: Ros2RobotOptions & { rcl?: Rcl } = {},
): Promise<Ros2Robot> {
  const config = loadRos2Config(configPath);
  const rcl = opts.rcl ?? (await loadRcl());
  if (opts.rcl) return Ros2Robot.connect(rcl, config, opts);
  shared!.users++;
  return Ros2Robot.connect(rcl, config, { ...opts, onClose: () => release(rcl) });
}
