// The slice of rclnodejs (https://github.com/RobotWebTools/rclnodejs) the ROS 2 robot uses, typed
// here because rclnodejs is an optional dependency that cannot be installed without ROS 2, so its
// own types are not there to import. Real rclnodejs satisfies this shape; so does the stand-in the
// tests use (test/robots/ros2-standin.ts).

/** A ROS 2 message as rclnodejs hands it over: plain objects; float arrays may be typed arrays. */
export type RosMessage = Record<string, unknown>;

export interface RclPublisher {
  publish(message: RosMessage): void;
}

/** Opaque to us: the robot keeps none (destroying the node ends them). */
export type RclSubscription = object;

export interface RclClient {
  /** True when a server answers on the service. */
  isServiceServerAvailable(): boolean;
  sendRequest(request: RosMessage, callback: (response: RosMessage) => void): void;
}

/** `options.qos`: a profile name (`'qos_profile_default'`) or a QoS object. */
export interface RclOptions {
  qos?: unknown;
}

export interface RclNode {
  createPublisher(type: string, topic: string, options?: RclOptions): RclPublisher;
  createSubscription(
    type: string,
    topic: string,
    options: RclOptions,
    callback: (message: RosMessage) => void,
  ): RclSubscription;
  createClient(type: string, service: string, options?: RclOptions): RclClient;
  /** Starts delivering messages on Node's event loop (returns at once). */
  spin(timeoutMs?: number): void;
  destroy(): void;
}

/** The rclnodejs module: `init` once per process, then nodes. */
export interface Rcl {
  init(): Promise<void>;
  createNode(name: string, namespace?: string): RclNode;
  shutdown(): void;
  isShutdown(): boolean;
  /**
   * Takes off the SIGINT handler rclnodejs installs when it is imported, which shuts down every
   * context (destroying the nodes the robot's last zero twist goes out on) and keeps the process
   * alive after Ctrl-C. Tandem stops its robots and ends the process itself (exit-stop.ts).
   */
  removeSignalHandlers?(): void;
  /** `new QoS(history, depth, reliability, durability)`; the enums are plain numbers. */
  QoS: new (history?: number, depth?: number, reliability?: number, durability?: number) => object;
}

/** rclnodejs's QoS enum values (rmw's), for the latched `robot_description` subscription. */
export const QOS = {
  historyKeepLast: 1,
  reliable: 1,
  transientLocal: 1,
} as const;
