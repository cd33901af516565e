import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachRpc, RPC_PATH } from '../../src/server/rpc.ts';
import { Store } from '../../src/store/index.ts';
import { Session } from '../../src/studio/session.ts';
import { type BenchResult, figure, median } from './harness.ts';

const CLIENT = fileURLToPath(new URL('./xr-client.ts', import.meta.url));
const FRAME_HZ = 90; // a Quest's default refresh rate

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))] ?? NaN;
}

interface Run {
  toCommand: number[];
  rtt: number[];
  /** At each tick the operator drove: the newest frame's age (arrival → tick) and stamp → tick. */
  tickWait: number[];
  stampToApplied: number[];
  sent: number;
  results: Record<string, number>;
}

/**
 * `seconds` of a live session (sim/panda-lift at 10 Hz, human operator in intervention, the learner
 * `learning` flat out or idle) driven by the headset stand-in in its own process over a real
 * WebSocket on loopback, through pairing, control and the clutch mapping.
 */
async function run(learning: boolean, seconds: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-xr-'));
  const store = Store.open(join(dir, 'xr.db'));
  const session = await Session.open(store, {
    task: { task: 'sim/panda-lift', options: {} },
    learner: { threads: 1, seed: 1 },
    autoResetMs: 0,
  });
  const server = createServer();
  const rpc = attachRpc(server, session);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}${RPC_PATH}`;
  const tickWait: number[] = [];
  const stampToApplied: number[] = [];
  // Ticks count from the first frame to the stand-in's last (before, no frame; after, aging ones).
  let streaming = true;
  session.on((e) => {
    const op = e.event === 'telemetry' ? e.data.operator : undefined;
    if (!streaming || op?.device !== 'headset') return;
    tickWait.push(op.ageMs);
    if (op.latencyMs !== undefined) stampToApplied.push(op.latencyMs);
  });
  try {
    session.command({ type: 'set-mode', mode: 'autonomous', origin: 'scripted' });
    session.command({ type: 'intervene', pressed: true, origin: 'ui' });
    session.startLive({ train: learning });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLIENT, url, rpc.pairing.code, String(FRAME_HZ), String(seconds)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('stopped')) streaming = false;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`the headset stand-in failed (exit ${code}): ${out}`);
    const client = JSON.parse(out.trim().split('\n').at(-1)!) as Omit<
      Run,
      'tickWait' | 'stampToApplied'
    >;
    await session.stopLive();
    return { ...client, tickWait, stampToApplied };
  } finally {
    await rpc.close();
    await new Promise((r) => server.close(r));
    await session.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchXr({ quick = false } = {}): Promise<BenchResult> {
  const seconds = quick ? 3 : 15;
  const repeats = quick ? 1 : 3;
  const busy: Run[] = [];
  const idle: Run[] = [];
  for (let r = 0; r < repeats; r++) {
    idle.push(await run(false, seconds));
    busy.push(await run(true, seconds));
    const b = busy.at(-1)!;
    console.log(
      `  repeat ${r + 1}/${repeats}: pose → command p99 ${quantile(b.toCommand, 0.99).toFixed(2)} ms learning, ${quantile(idle.at(-1)!.toCommand, 0.99).toFixed(2)} ms idle; ${b.toCommand.length} frames`,
    );
  }
  const per = (runs: Run[], key: 'toCommand' | 'rtt' | 'tickWait' | 'stampToApplied', q: number) =>
    runs.map((x) => quantile(x[key], q));
  const figures = [
    figure(
      'pose → command p99 (stamp → parsed and mapped in the studio), learner flat out',
      'ms',
      per(busy, 'toCommand', 0.99),
      20,
      true,
    ),
    figure('pose → command p50, learner flat out', 'ms', per(busy, 'toCommand', 0.5)),
    figure('pose → command p99, learner idle', 'ms', per(idle, 'toCommand', 0.99)),
    figure(
      'round trip (frame → ack at the headset) p50, learner flat out',
      'ms',
      per(busy, 'rtt', 0.5),
    ),
    figure('round trip p99, learner flat out', 'ms', per(busy, 'rtt', 0.99)),
    figure(
      'wait for the control tick (newest frame arrival → tick, 10 Hz) p50',
      'ms',
      per(busy, 'tickWait', 0.5),
    ),
    figure('wait for the control tick p99', 'ms', per(busy, 'tickWait', 0.99)),
    figure(
      'pose → applied at a tick (stamp → tick) p99, learner flat out',
      'ms',
      per(busy, 'stampToApplied', 0.99),
    ),
  ];
  const dropped = busy.reduce((n, x) => n + x.sent - (x.results.accepted ?? 0), 0);
  const sent = busy.reduce((n, x) => n + x.sent, 0);
  return {
    title: 'xr: headset pose → robot command latency on loopback',
    figures,
    comparisons: [
      {
        name: 'pose → command p99, learner flat out / idle',
        ratio: median(per(busy, 'toCommand', 0.99)) / median(per(idle, 'toCommand', 0.99)),
      },
    ],
    notes: [
      `a headset stand-in in its own Node process streams ${FRAME_HZ} Hz frames (clutch held, the hand circling) over a real WebSocket on loopback to tandem's RPC: pair, take control, then xr calls; the live session (sim/panda-lift, 10 Hz, intervention) maps each frame through the clutch at arrival and applies the newest at each tick; the learner trains flat out on one thread (or idles); ${repeats} repeats of ${seconds} s each`,
      "pose → command: the frame's stamp (the stand-in's epoch clock, performance.timeOrigin + now) to the studio's ack stamp after parsing and mapping (its epoch clock; same machine, so the clocks agree to well under a millisecond); the control tick then uses the newest frame, which the \"wait for the control tick\" rows measure separately",
      `${dropped} of ${sent} frames not accepted with the learner flat out (too fast or failed)`,
    ],
  };
}
