// RclStandIn: a STAND-IN for the slice of rclnodejs that src/robots/ros2 uses (src/robots/ros2/
// rcl.ts), not ROS 2. Topics are in-process: a publish reaches every subscription on the same topic
// and type, on a node that spins, as rclnodejs would hand it over (a copy; float64[] / float32[]
// fields as Float64Array / Float32Array, as with rclnodejs's default enableTypedArray). A publisher
// or subscription with transient-local durability latches the topic's last message, as
// robot_state_publisher's robot_description does. Services answer synchronously.
// docs/ROS2.md says how to run the same tests against real rclnodejs (TANDEM_ROS2_REAL=1).
import type {
  Rcl,
  RclClient,
  RclNode,
  RclOptions,
  RclPublisher,
  RclSubscription,
  RosMessage,
} from '../../src/robots/ros2/rcl.ts';

/** rclnodejs's QoS, as far as the stand-in reads it (durability 1: transient local). */
class StandInQoS {
  constructor(
    readonly history = 0,
    readonly depth = 0,
    readonly reliability = 0,
    readonly durability = 0,
  ) {}
}

const latched = (options?: RclOptions) =>
  options?.qos instanceof StandInQoS && options.qos.durability === 1;

/** Which fields rclnodejs delivers as typed arrays, per message type. */
const TYPED: Record<
  string,
  [field: string, type: Float64ArrayConstructor | Float32ArrayConstructor][]
> = {
  'sensor_msgs/msg/JointState': [
    ['position', Float64Array],
    ['velocity', Float64Array],
    ['effort', Float64Array],
  ],
  'std_msgs/msg/Float64MultiArray': [['data', Float64Array]],
  'std_msgs/msg/Float32MultiArray': [['data', Float32Array]],
};

/** The message as a subscriber receives it: a deep copy, typed arrays where rclnodejs uses them. */
function onTheWire(type: string, message: RosMessage): RosMessage {
  const copy = structuredClone(message);
  for (const [f, Typed] of TYPED[type] ?? []) {
    const v = copy[f];
    if (Array.isArray(v) || ArrayBuffer.isView(v)) copy[f] = Typed.from(v as ArrayLike<number>);
  }
  return copy;
}

interface Subscription {
  node: StandInNode;
  type: string;
  topic: string;
  callback: (message: RosMessage) => void;
}

export class StandInNode implements RclNode {
  readonly publishers: { type: string; topic: string }[] = [];
  readonly subscriptions: { type: string; topic: string }[] = [];
  readonly clients: { type: string; service: string }[] = [];
  spinning = false;
  destroyed = false;
  /** Messages that arrived before spin(): delivered when it starts. */
  readonly #pending: (() => void)[] = [];

  constructor(
    readonly bus: RclStandIn,
    readonly name: string,
    readonly namespace: string,
  ) {}

  createPublisher(type: string, topic: string, options?: RclOptions): RclPublisher {
    this.#alive();
    this.publishers.push({ type, topic });
    return { publish: (message) => this.bus.deliver(type, topic, message, latched(options)) };
  }

  createSubscription(
    type: string,
    topic: string,
    options: RclOptions,
    callback: (message: RosMessage) => void,
  ): RclSubscription {
    this.#alive();
    this.subscriptions.push({ type, topic });
    const sub: Subscription = { node: this, type, topic, callback };
    this.bus.subscribe(sub, latched(options));
    return sub;
  }

  createClient(type: string, service: string): RclClient {
    this.#alive();
    this.clients.push({ type, service });
    return {
      isServiceServerAvailable: () => this.bus.services.has(service),
      sendRequest: (request, callback) => {
        const handler = this.bus.services.get(service);
        if (!handler) throw new Error(`no service ${service}`);
        callback(handler(structuredClone(request)));
      },
    };
  }

  /** The robot side's service (not part of the slice the studio uses). */
  createService(service: string, handler: (request: RosMessage) => RosMessage): void {
    this.bus.services.set(service, handler);
  }

  spin(): void {
    this.#alive();
    this.spinning = true;
    for (const run of this.#pending.splice(0)) run();
  }

  destroy(): void {
    this.destroyed = true;
    this.spinning = false;
    this.bus.dropNode(this);
  }

  /** Hands a message to a callback now, or when the node spins. */
  receive(run: () => void): void {
    if (this.destroyed) return;
    if (this.spinning) run();
    else this.#pending.push(run);
  }

  #alive(): void {
    if (this.destroyed) throw new Error(`node ${this.name} was destroyed`);
  }
}

/** The stand-in rclnodejs module: `init`, nodes, QoS, shutdown. */
export class RclStandIn implements Rcl {
  readonly QoS = StandInQoS;
  readonly nodes: StandInNode[] = [];
  readonly services = new Map<string, (request: RosMessage) => RosMessage>();
  /** Every message published, per topic (what the robot side would see on `ros2 topic echo`). */
  readonly log = new Map<string, RosMessage[]>();
  initialised = false;
  #shutdown = false;
  readonly #subs = new Set<Subscription>();
  readonly #latched = new Map<string, { type: string; message: RosMessage }>();

  async init(): Promise<void> {
    this.initialised = true;
  }

  createNode(name: string, namespace = ''): StandInNode {
    if (!this.initialised || this.#shutdown) throw new Error('rclnodejs.init() was not called');
    const node = new StandInNode(this, name, namespace);
    this.nodes.push(node);
    return node;
  }

  shutdown(): void {
    this.#shutdown = true;
    for (const node of this.nodes) node.destroy();
  }

  isShutdown(): boolean {
    return this.#shutdown;
  }

  deliver(type: string, topic: string, message: RosMessage, latch: boolean): void {
    const log = this.log.get(topic) ?? [];
    log.push(structuredClone(message));
    this.log.set(topic, log);
    if (latch) this.#latched.set(topic, { type, message: structuredClone(message) });
    for (const sub of this.#subs) {
      if (sub.topic !== topic || sub.type !== type) continue;
      const wire = onTheWire(type, message);
      sub.node.receive(() => sub.callback(wire));
    }
  }

  subscribe(sub: Subscription, latch: boolean): void {
    this.#subs.add(sub);
    const last = this.#latched.get(sub.topic);
    if (latch && last && last.type === sub.type) {
      const wire = onTheWire(last.type, last.message);
      sub.node.receive(() => sub.callback(wire));
    }
  }

  dropNode(node: StandInNode): void {
    for (const sub of this.#subs) if (sub.node === node) this.#subs.delete(sub);
  }
}
