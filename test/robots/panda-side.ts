import type { RclNode } from '../../src/robots/ros2/rcl.ts';

const JOINTS7 = Array.from({ length: 7 }, (_, i) => `panda_joint${i + 1}`);

/**
 * The Panda's sensor topics of assets/robots/ros2/panda.json, published by a robot-side `node`
 * every `ms` (a robot's node hears only what is published after it subscribes, so a timer, as a
 * driver has): the arm at zero, the fingers open, the tool point at (0.5, 0, 0.3). Returns the
 * function that stops it.
 */
export function feedPandaSensors(node: RclNode, ms = 10): () => void {
  const joints = node.createPublisher('sensor_msgs/msg/JointState', '/joint_states');
  const fingers = node.createPublisher(
    'sensor_msgs/msg/JointState',
    '/franka_gripper/joint_states',
  );
  const tool = node.createPublisher('geometry_msgs/msg/PoseStamped', '/tandem/ee_pose');
  const header = { stamp: { sec: 1, nanosec: 0 }, frame_id: '' };
  const publish = () => {
    const zeros = JOINTS7.map(() => 0);
    joints.publish({ header, name: JOINTS7, position: zeros, velocity: zeros, effort: [] });
    fingers.publish({
      header,
      name: ['panda_finger_joint1', 'panda_finger_joint2'],
      position: [0.04, 0.04],
      velocity: [],
      effort: [],
    });
    tool.publish({
      header: { ...header, frame_id: 'panda_link0' },
      pose: { position: { x: 0.5, y: 0, z: 0.3 }, orientation: { w: 1, x: 0, y: 0, z: 0 } },
    });
  };
  publish();
  const timer = setInterval(publish, ms);
  return () => clearInterval(timer);
}
