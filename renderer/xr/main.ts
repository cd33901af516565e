// The headset's teleop page (/xr): pairs with the studio, shows the robot and a HUD, and streams
// the controllers' poses and buttons every XR frame (or the mouse's, in the desktop preview).
import WebXRPolyfill from 'webxr-polyfill';
import { CanvasTexture, Mesh, MeshBasicMaterial, PlaneGeometry, SRGBColorSpace } from 'three';
import type { StudioEvent } from '../../src/protocol/studio.ts';
import type { XrPacket } from '../../src/protocol/xr.ts';
import { errorMessage } from '../api/client.ts';
import { WsStudioClient } from '../api/ws-client.ts';
import { fetchScene } from '../scene/fetch-scene.ts';
import { SceneRenderer } from '../scene/scene.ts';
import { drawHud, type HudState, hudLines, INITIAL_HUD } from './hud.ts';
import { epochNow, packetFromFrame } from './frame.ts';
import { MouseController } from './preview.ts';
import { XrStream } from './stream.ts';
import '../styles.css';

/** Where the token from pairing is kept on this headset. */
const TOKEN_KEY = 'tandem.headsetToken';
/**
 * Where the robot's base stands in the room (local-floor, metres): ahead of the operator at table
 * height, so the operator looks over its shoulder at the workspace.
 */
const ROBOT_PLACE: [number, number, number] = [0, 0.7, -0.6];
/** Buttons in the WebXR gamepad order: trigger, squeeze. */
const TRIGGER = 0;
const SQUEEZE = 1;

// WebXR where the browser has none (the polyfill only adds shims where it has).
if (!('xr' in navigator)) new WebXRPolyfill();

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $<HTMLSpanElement>('xr-status');
const pairForm = $<HTMLFormElement>('xr-pair');
const codeInput = $<HTMLInputElement>('xr-code');
const pairError = $<HTMLSpanElement>('xr-pair-error');
const enterButton = $<HTMLButtonElement>('xr-enter');
const supportEl = $<HTMLSpanElement>('xr-support');
const canvas = $<HTMLCanvasElement>('xr-canvas');
const hudEl = $<HTMLPreElement>('xr-hud');

// The headset is a browser of its own: always over the WebSocket (pairing is per connection).
const client = new WsStudioClient();
const scene = new SceneRenderer();
scene.mount(canvas);
const mouse = new MouseController();
mouse.attach(canvas);
const stream = new XrStream((p) => client.xr(p), epochNow);

let hud: HudState = { ...INITIAL_HUD };
/** The newest observation (for tests and the console). */
let lastObs: readonly number[] = [];
let seq = 0;
let xrSession: XRSession | undefined;
let lastClaim = -Infinity;

// The HUD panel in the headset: a canvas texture on a plane, ahead of the operator, above the robot.
const hudCanvas = document.createElement('canvas');
hudCanvas.width = 1024;
hudCanvas.height = 320;
const hudTexture = new CanvasTexture(hudCanvas);
hudTexture.colorSpace = SRGBColorSpace;
const hudPanel = new Mesh(
  new PlaneGeometry(0.8, 0.25),
  new MeshBasicMaterial({ map: hudTexture, transparent: true }),
);
hudPanel.position.set(0, 1.55, -1.0);
hudPanel.visible = false;
scene.add(hudPanel);

function render(patch: Partial<HudState>): void {
  hud = { ...hud, ...patch };
  const lines = hudLines(hud);
  hudEl.textContent = lines.join('\n');
  statusEl.textContent = lines[1] ?? '';
  document.body.dataset.role = hud.role;
  document.body.dataset.mode = hud.mode ?? '';
  const ctx = hudCanvas.getContext('2d');
  if (ctx && xrSession) {
    drawHud(ctx, hud);
    hudTexture.needsUpdate = true;
  }
}

/** Presents our token (if any) and takes control when paired; otherwise asks for the code. */
async function standing(): Promise<void> {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    pairForm.hidden = false;
    render({ role: 'watcher' });
    return;
  }
  const role = await client.hello(token);
  if (role.role !== 'controller') {
    localStorage.removeItem(TOKEN_KEY); // revoked, or paired with another studio
    pairForm.hidden = false;
    render({ role: 'watcher' });
    return;
  }
  pairForm.hidden = true;
  await claim();
}

async function claim(): Promise<void> {
  lastClaim = performance.now();
  try {
    const role = await client.control(true);
    render({ role: role.control ? 'control' : 'paired', alarm: undefined });
  } catch (err) {
    render({ role: 'paired', alarm: errorMessage(err) });
  }
}

pairForm.addEventListener('submit', (e) => {
  e.preventDefault();
  pairError.textContent = '';
  client.pair(codeInput.value.trim()).then(
    async ({ token }) => {
      localStorage.setItem(TOKEN_KEY, token);
      pairForm.hidden = true;
      await claim();
    },
    (err: unknown) => {
      pairError.textContent = errorMessage(err);
    },
  );
});

client.onState((state) => {
  render({ connection: state });
  // Each connection presents its token again: the studio knows connections, not headsets.
  if (state === 'open') standing().catch((err: unknown) => render({ alarm: String(err) }));
  else render({ role: hud.role === 'watcher' ? 'watcher' : 'paired' });
});

client.on((event: StudioEvent) => {
  switch (event.event) {
    case 'telemetry': {
      const t = event.data;
      lastObs = t.obs;
      if (t.poses) scene.setPoses(t.poses);
      render({
        mode: t.mode,
        recording: t.episodeId !== undefined,
        ...(t.operator?.latencyMs !== undefined ? { latencyMs: t.operator.latencyMs } : {}),
        rttMs: stream.stats().rttP50,
      });
      break;
    }
    case 'episode':
      render({ lastOutcome: `${event.data.outcome} (${event.data.steps} steps)` });
      break;
    case 'alarm':
      render({ alarm: event.data.message });
      break;
    case 'mode':
      if (event.data.kind === 'transition') render({ mode: event.data.to });
      break;
  }
});

fetchScene(client).then(
  (desc) => desc && scene.setScene(desc),
  (err: unknown) => render({ alarm: `no scene: ${String(err)}` }),
);

/** Streams one frame while this headset is in control; re-claims control after losing it. */
function send(packet: XrPacket): void {
  const right = packet.controllers.find((c) => c.hand === 'right');
  const clutch = (right?.buttons[SQUEEZE] ?? 0) > 0.5;
  const gripper = (right?.buttons[TRIGGER] ?? 0) > 0.5;
  if (clutch !== hud.clutch || gripper !== hud.gripper) render({ clutch, gripper });
  if (hud.role !== 'control') {
    if (hud.role === 'paired' && performance.now() - lastClaim > 1000) void claim();
    return;
  }
  stream.offer(packet, (message) => {
    if (/in control|pair/.test(message)) render({ role: 'paired', alarm: message });
  });
}

// The desktop preview: the mouse is the right controller, a frame per animation frame.
function previewLoop(): void {
  if (!xrSession) send(mouse.packet(++seq, epochNow()));
  requestAnimationFrame(previewLoop);
}
requestAnimationFrame(previewLoop);

async function enterVr(): Promise<void> {
  const xr = navigator.xr;
  if (!xr) throw new Error('this browser has no WebXR');
  const session = await xr.requestSession('immersive-vr', { optionalFeatures: ['local-floor'] });
  xrSession = session;
  document.body.dataset.xr = 'immersive';
  hudPanel.visible = true;
  // The robot ahead of the operator, its +x (forward) along the operator's forward (−z).
  scene.place(ROBOT_PLACE, Math.PI / 2);
  session.addEventListener('end', () => {
    xrSession = undefined;
    document.body.dataset.xr = '';
    hudPanel.visible = false;
    scene.place([0, 0, 0], 0);
  });
  render({});
  await scene.presentXr(session, (frame, space) => {
    send(packetFromFrame(frame, space, ++seq, epochNow()));
  });
}

enterButton.addEventListener('click', () => {
  enterVr().catch((err: unknown) => {
    render({ alarm: `could not enter VR: ${errorMessage(err)}` });
  });
});

navigator.xr?.isSessionSupported('immersive-vr').then(
  (ok) => {
    enterButton.disabled = !ok;
    supportEl.textContent = ok ? '' : 'no VR headset here: use the preview below';
  },
  () => (supportEl.textContent = 'WebXR unavailable: use the preview below'),
);

// Leaving the page gives control back at once (else the studio waits for the stream to go stale).
window.addEventListener('pagehide', () => {
  if (hud.role === 'control') void client.control(false).catch(() => undefined);
});

declare global {
  interface Window {
    /** For tests: the HUD state, the stream's counters, the newest observation. */
    __tandemXr?: {
      hud: () => HudState;
      stream: () => ReturnType<XrStream['stats']>;
      obs: () => readonly number[];
    };
  }
}
window.__tandemXr = { hud: () => hud, stream: () => stream.stats(), obs: () => lastObs };
