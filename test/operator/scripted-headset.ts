// A scripted headset: the stand-in for a person in a headset, for tests. It watches the studio's
// telemetry over its own WebSocket like the headset page does, runs the task's scripted expert on
// each tick's observation and moves its emulated right controller (grip held = clutch, trigger =
// gripper) so that the clutch mapping turns the hand's motion into the expert's action. Everything
// goes through the headset path: pairing, control, XR frames, the clutch mapping, the safety layer.
import type { RobotSpec, StudioEvent, XrAck } from '../../src/protocol/index.ts';
import { PandaLiftExpert } from '../../src/robots/sim/expert.ts';
import { xrFrame } from './xr-frames.ts';
import type { RpcTestClient } from '../server/rpc-studio.ts';

type Vec3 = [number, number, number];
/** Where the hand rests when the clutch engages (WebXR local-floor). */
const HOME: Vec3 = [0.2, 1.1, -0.3];
/** Ticks at the start of an episode with the clutch released, so the arm is still when it latches. */
const SETTLE_TICKS = 2;

/** Robot base (x forward, y left, z up) to WebXR (x right, y up, −z forward), yaw 0: xrToRobot⁻¹. */
function robotToXr(v: Vec3): Vec3 {
  return [-v[1], v[2], -v[0]];
}

export class ScriptedHeadset {
  /** Episodes it has driven to their end (the studio's episode events). */
  readonly finished: { id: number; outcome: string; steps: number }[] = [];
  readonly acks: XrAck[] = [];
  readonly #client: RpcTestClient;
  readonly #expert: PandaLiftExpert;
  readonly #metresPerUnit: number;
  readonly #tcp: number;
  #seq = 0;
  #episode: number | undefined;
  #settle = 0;
  #latchTcp: Vec3 | undefined;

  /**
   * `client`: a connection already paired and in control. `spec`: the robot's (panda-lift's),
   * `actionScale` its metres per action unit.
   */
  constructor(client: RpcTestClient, spec: RobotSpec, actionScale: number) {
    this.#client = client;
    this.#expert = new PandaLiftExpert(spec, actionScale);
    this.#metresPerUnit = actionScale;
    this.#tcp = spec.observation.names.indexOf('tcp.x');
    client.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Partial<StudioEvent>;
      if (m.event === 'telemetry') this.#onTick(m.data!);
      if (m.event === 'episode') {
        const { id, outcome, steps } = m.data!;
        this.finished.push({ id, outcome, steps });
      }
    });
  }

  #onTick(t: Extract<StudioEvent, { event: 'telemetry' }>['data']): void {
    if (t.episodeId === undefined || t.driver !== 'operator') return;
    const tcp = t.obs.slice(this.#tcp, this.#tcp + 3) as Vec3;
    if (t.episodeId !== this.#episode) {
      // A new episode: the studio unlatched the clutch at its reset. Let the arm settle, then latch.
      this.#episode = t.episodeId;
      this.#expert.reset();
      this.#settle = SETTLE_TICKS;
      this.#latchTcp = undefined;
    }
    if (this.#settle > 0) {
      this.#settle--;
      this.#send(HOME, false, false);
      return;
    }
    if (!this.#latchTcp) {
      // Grip pressed with the hand at HOME: the next tick latches HOME and this (still) tool point.
      this.#latchTcp = tcp;
      this.#send(HOME, true, false);
      return;
    }
    const action = this.#expert.act(t.obs);
    // Where the tool point should be after this tick, and the hand position that maps there.
    const target = tcp.map((v, i) => v + action[i]! * this.#metresPerUnit) as Vec3;
    const hand = robotToXr(target.map((v, i) => v - this.#latchTcp![i]!) as Vec3);
    this.#send(HOME.map((h, i) => h + hand[i]!) as Vec3, true, action[3]! > 0);
  }

  #send(position: Vec3, squeeze: boolean, trigger: boolean): void {
    const packet = xrFrame({ seq: ++this.#seq, position, squeeze, trigger });
    this.#client.ask({ method: 'xr', packet }).then(
      (ack) => this.acks.push(ack as XrAck),
      () => undefined, // a refused frame moves nothing; the test checks the outcomes
    );
  }
}
