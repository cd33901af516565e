// The headset stand-in of the xr bench, in its own process (as a headset is its own machine): pairs
// with the studio at argv[2] using the code argv[3], takes control, streams frames at argv[4] Hz for
// argv[5] seconds with the clutch held, moving the hand in a slow circle, and prints one JSON line:
// the round trips and the stamp → parsed-and-mapped times from the acks.
import type { XrAck } from '../../src/protocol/index.ts';
import { xrFrame } from '../operator/xr-frames.ts';
import { RpcTestClient } from '../server/rpc-studio.ts';

const [url, code, hzArg, secondsArg] = process.argv.slice(2);
const hz = Number(hzArg);
const seconds = Number(secondsArg);
const epoch = () => performance.timeOrigin + performance.now();

const client = await RpcTestClient.connect(url!);
await client.ask({ method: 'pair', code });
await client.ask({ method: 'control', take: true });

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
    client.ask({ method: 'xr', packet }).then(
      (answer) => {
        const ack = answer as XrAck;
        results[ack.result] = (results[ack.result] ?? 0) + 1;
        if (ack.result !== 'accepted') return;
        rtt.push(epoch() - t);
        toCommand.push(ack.receivedAt - t);
      },
      () => (results.error = (results.error ?? 0) + 1),
    );
  }, 1000 / hz);
});
await new Promise((r) => setTimeout(r, 200)); // the last acks
console.log(JSON.stringify({ sent: seq, results, rtt, toCommand }));
await client.close();
