// The headset stand-in of the xr bench, in its own process (as a headset is its own machine): pairs
// with the studio at argv[2] using the code argv[3], takes control, streams frames at argv[4] Hz for
// argv[5] seconds with the clutch held, moving the hand in a slow circle, and prints one JSON line:
// the round trips and the stamp → parsed-and-mapped times from the acks.
import { WebSocket } from 'ws';
import { xrFrame } from '../operator/xr-frames.ts';

const [url, code, hzArg, secondsArg] = process.argv.slice(2);
const hz = Number(hzArg);
const seconds = Number(secondsArg);
const epoch = () => performance.timeOrigin + performance.now();

const ws = new WebSocket(url!);
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
let id = 0;
const waiting = new Map<
  number,
  (answer: { ok: boolean; result?: unknown; error?: string }) => void
>();
ws.on('message', (data) => {
  const m = JSON.parse(String(data)) as { id?: number; ok: boolean; event?: string };
  if (m.event === undefined && typeof m.id === 'number') waiting.get(m.id)?.(m);
});
function call(
  body: Record<string, unknown>,
): Promise<{ ok: boolean; result?: unknown; error?: string }> {
  const n = ++id;
  return new Promise((resolve) => {
    waiting.set(n, (a) => {
      waiting.delete(n);
      resolve(a);
    });
    ws.send(JSON.stringify({ id: n, ...body }));
  });
}

const paired = await call({ method: 'pair', code });
if (!paired.ok) throw new Error(`pairing failed: ${paired.error}`);
const control = await call({ method: 'control', take: true });
if (!control.ok) throw new Error(`control refused: ${control.error}`);

const rtt: number[] = [];
const toCommand: number[] = [];
const results: Record<string, number> = {};
const start = performance.now();
let seq = 0;
await new Promise<void>((done) => {
  const timer = setInterval(() => {
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed > seconds) {
      clearInterval(timer);
      console.log('stopped'); // the studio's tick figures end here
      done();
      return;
    }
    const angle = elapsed * 0.5;
    const t = epoch();
    const packet = xrFrame({
      seq: ++seq,
      t,
      position: [0.05 * Math.cos(angle), 1.1, -0.3 + 0.05 * Math.sin(angle)],
      squeeze: true,
    });
    void call({ method: 'xr', packet }).then((a) => {
      const ack = a.result as { result: string; receivedAt: number } | undefined;
      results[ack?.result ?? 'error'] = (results[ack?.result ?? 'error'] ?? 0) + 1;
      if (!a.ok || !ack || ack.result !== 'accepted') return;
      rtt.push(epoch() - t);
      toCommand.push(ack.receivedAt - t);
    });
  }, 1000 / hz);
});
await new Promise((r) => setTimeout(r, 200)); // the last acks
console.log(JSON.stringify({ sent: seq, results, rtt, toCommand }));
ws.close();
