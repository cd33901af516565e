// A studio process that dies with its ROS 2 robot open, for test/robots/ros2-shutdown.test.ts. It
// builds the Panda robot (a TwistStamped command) on RclStandIn, with a robot side that feeds the
// sensors and writes every twist it receives to stdout as it arrives (one JSON line, written
// synchronously, so a process killed by a signal has already written it), moves once, prints
// "ready", and then dies as argv[2] says:
//   throw    an uncaught exception
//   reject   an unhandled rejection
//   signal   nothing: it waits for the parent's SIGTERM or SIGINT
//   host     waits for SIGTERM like `tandem serve` does: its own listener closes the robot and
//            lets the process end (exit 0), then prints how many listeners are left
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRos2Robot } from '../../src/robots/ros2/index.ts';
import { feedPandaSensors } from './panda-side.ts';
import { RclStandIn } from './ros2-standin.ts';

const PANDA = fileURLToPath(new URL('../../assets/robots/ros2/panda.json', import.meta.url));
const mode = process.argv[2];
const line = (value: unknown) => writeSync(1, `${JSON.stringify(value)}\n`);

const rcl = new RclStandIn();
await rcl.init();
const side = rcl.createNode('robot_side');
side.spin();
side.createSubscription(
  'geometry_msgs/msg/TwistStamped',
  '/servo_node/delta_twist_cmds',
  {},
  (m) => {
    const { x, y, z } = (m.twist as { linear: { x: number; y: number; z: number } }).linear;
    line({ twist: [x, y, z] });
  },
);
const stopFeeding = feedPandaSensors(side);

const robot = await createRos2Robot(PANDA, { rcl });
robot.reset(0);
const moved = robot.step([1, 0, 0, 1]); // 0.1 m/s along x
if (moved.info.held) throw new Error(`the robot held: ${String(moved.info.faults)}`);
line('ready');

if (mode === 'throw') {
  setTimeout(() => {
    throw new Error('the studio crashed');
  }, 0);
} else if (mode === 'reject') {
  void Promise.reject(new Error('a promise nobody awaited'));
} else if (mode === 'host') {
  process.once('SIGTERM', () => {
    stopFeeding();
    robot.close();
    side.destroy();
    const left = ['exit', 'SIGINT', 'SIGTERM', 'SIGHUP'].map((e) => process.listenerCount(e));
    line({ listeners: left });
  });
} else if (mode !== 'signal') {
  throw new Error(`unknown mode ${mode}`);
}
