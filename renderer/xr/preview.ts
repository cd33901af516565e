import type { XrPacket } from '../../src/protocol/xr.ts';

/** Controller metres per pixel of mouse drag, and per wheel notch. */
const METRES_PER_PIXEL = 0.001;
const METRES_PER_NOTCH = 0.01;
/** Where the emulated right hand rests (WebXR local-floor: y up, −z forward). */
const REST: [number, number, number] = [0.25, 1.1, -0.3];

/**
 * The desktop preview's stand-in for a controller: the mouse is the right hand. Left button held =
 * grip (the clutch) and dragging moves the hand: left/right → right/left, up/down → forward/back;
 * the wheel raises and lowers it. Right button or T held = trigger (close the gripper); A and B
 * held = the A and B buttons. It makes the same frames a headset does, so the same mapping and
 * safety apply.
 */
export class MouseController {
  readonly position: [number, number, number] = [...REST];
  squeeze = false;
  trigger = false;
  a = false;
  b = false;
  #keys = { t: false, a: false, b: false };
  #mouseTrigger = false;
  #detach: (() => void) | undefined;

  /** Listens on `target` (the preview canvas) for the mouse and on the window for keys. */
  attach(target: HTMLElement): void {
    this.detach();
    const down = (e: PointerEvent) => {
      if (e.button === 0) {
        this.squeeze = true;
        target.setPointerCapture(e.pointerId);
      }
      if (e.button === 2) this.#mouseTrigger = true;
      this.#sync();
      e.preventDefault();
    };
    const up = (e: PointerEvent) => {
      if (e.button === 0) this.squeeze = false;
      if (e.button === 2) this.#mouseTrigger = false;
      this.#sync();
    };
    const move = (e: PointerEvent) => {
      if (!this.squeeze) return;
      this.position[0] += e.movementX * METRES_PER_PIXEL;
      this.position[2] += e.movementY * METRES_PER_PIXEL;
    };
    const wheel = (e: WheelEvent) => {
      this.position[1] -= Math.sign(e.deltaY) * METRES_PER_NOTCH;
      e.preventDefault();
    };
    const key = (pressed: boolean) => (e: KeyboardEvent) => {
      const k = e.key.toLowerCase();
      if (k === 't' || k === 'a' || k === 'b') {
        this.#keys[k] = pressed;
        this.#sync();
      }
    };
    const keydown = key(true);
    const keyup = key(false);
    const blur = () => {
      this.squeeze = false;
      this.#mouseTrigger = false;
      this.#keys = { t: false, a: false, b: false };
      this.#sync();
    };
    const menu = (e: Event) => e.preventDefault();
    target.addEventListener('pointerdown', down);
    target.addEventListener('pointerup', up);
    target.addEventListener('pointermove', move);
    target.addEventListener('wheel', wheel, { passive: false });
    target.addEventListener('contextmenu', menu);
    window.addEventListener('keydown', keydown);
    window.addEventListener('keyup', keyup);
    window.addEventListener('blur', blur);
    this.#detach = () => {
      target.removeEventListener('pointerdown', down);
      target.removeEventListener('pointerup', up);
      target.removeEventListener('pointermove', move);
      target.removeEventListener('wheel', wheel);
      target.removeEventListener('contextmenu', menu);
      window.removeEventListener('keydown', keydown);
      window.removeEventListener('keyup', keyup);
      window.removeEventListener('blur', blur);
    };
  }

  detach(): void {
    this.#detach?.();
    this.#detach = undefined;
  }

  /** This moment's frame (right hand only; the preview is always tracked). */
  packet(seq: number, t: number): XrPacket {
    const v = (on: boolean) => (on ? 1 : 0);
    const pose = {
      position: [...this.position] as [number, number, number],
      orientation: [0, 0, 0, 1] as [number, number, number, number],
    };
    return {
      seq,
      t,
      controllers: [
        {
          hand: 'right',
          grip: pose,
          ray: pose,
          buttons: [v(this.trigger), v(this.squeeze), 0, 0, v(this.a), v(this.b)],
          axes: [0, 0, 0, 0],
        },
      ],
      tracking: true,
    };
  }

  #sync(): void {
    this.trigger = this.#mouseTrigger || this.#keys.t;
    this.a = this.#keys.a;
    this.b = this.#keys.b;
  }
}
