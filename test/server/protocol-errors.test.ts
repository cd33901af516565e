import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../cli/helpers.ts';
import { frame, OP, RawWebSocket, textFrame } from './raw-ws.ts';
import { RpcTestClient } from './rpc-studio.ts';
import { type ServeChild, startServe, until, within } from './serve-child.ts';

interface LoopFigures {
  ticks: number;
  missed: number;
  latenessP99: number;
  /** The latest tick start in the loop's window (in the status since it was added). */
  latenessMax?: number;
}

/** How many times over the barrage sends every malformed frame, each on its own connection. */
const BARRAGE = 3;

/**
 * Malformed frames, each on its own connection, as `ws` refuses them: the close code that ws
 * sends back (RFC 6455 §7.4.1), or null where no close frame can come (the peer hung up).
 */
const MALFORMED: { what: string; bytes: () => Buffer; code: number | null; end?: boolean }[] = [
  {
    what: 'a text frame of invalid UTF-8',
    bytes: () => frame({ opcode: OP.text, payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x7d]) }),
    code: 1007,
  },
  {
    what: 'a 1 MB frame (maxPayload is 64 KiB)',
    bytes: () => frame({ opcode: OP.text, payload: Buffer.alloc(1 << 20, 0x20) }),
    code: 1009,
  },
  {
    what: 'a 50 MB frame',
    bytes: once(() => frame({ opcode: OP.binary, payload: Buffer.alloc(50 << 20) })),
    code: 1009,
  },
  {
    what: 'an unmasked client frame',
    bytes: () => frame({ opcode: OP.text, payload: Buffer.from('{"id":1}'), mask: false }),
    code: 1002,
  },
  {
    what: 'RSV1 set with no extension negotiated',
    bytes: () => frame({ opcode: OP.text, payload: Buffer.from('{"id":1}'), rsv: 4 }),
    code: 1002,
  },
  {
    what: 'the reserved opcode 0x3',
    bytes: () => frame({ opcode: OP.reserved, payload: Buffer.from('{"id":1}') }),
    code: 1002,
  },
  {
    what: 'a length header cut short, then the client hangs up',
    // FIN text, masked, 127: a 64-bit length follows; only 3 of its 8 bytes come.
    bytes: () => Buffer.from([0x81, 0xff, 0, 0, 1]),
    code: null,
    end: true,
  },
];

/** `make`'s value, made on the first call (the 50 MB frame is built once for all the sends). */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

describe('tandem serve: a malformed WebSocket frame closes that connection, nothing else', () => {
  const tmp = tempDir();
  let serve: ServeChild;
  let watcher: RpcTestClient;
  let start: { at: number; loop: LoopFigures };
  const status = async () =>
    (await within(watcher.ask({ method: 'status' }), 10_000, 'status')) as { loop: LoopFigures };
  const telemetry = () => watcher.events.filter((e) => e.event === 'telemetry').length;

  before(async () => {
    serve = await startServe(tmp.dir, ['--db', join(tmp.dir, 'protocol.db')]);
    // The well-behaved client, connected throughout the barrage.
    watcher = await RpcTestClient.connect(serve.url);
    await until(telemetry, 30_000, () => 'no telemetry before the barrage');
    start = { at: Date.now(), loop: (await status()).loop };
  });
  after(async () => {
    await watcher?.close();
    await serve?.stop();
    tmp.cleanup();
  });

  for (const c of MALFORMED) {
    it(`${c.what}: ${c.code ?? 'closed'}; serve and the other client go on`, async () => {
      const raw = await RawWebSocket.connect(serve.port);
      try {
        // A good request first: the connection works until the bad frame.
        await raw.write(textFrame(JSON.stringify({ id: 1, method: 'status' })));
        await raw.nextText((t) => t.startsWith('{"id":1,'));
        // The peer may close before all of a big frame is written: the write then fails.
        await raw.write(c.bytes()).catch(() => {});
        if (c.end) raw.socket.end();
        const closed = await raw.waitClosed(20_000, c.what);
        if (c.code !== null) {
          assert.equal(closed?.code, c.code, `close frame ${JSON.stringify(closed)}`);
        }
      } finally {
        raw.destroy();
      }
      await assertServing();
    });
  }

  it('a request that is not HTTP at all is refused (400) and serve goes on', async () => {
    const socket = connect({ port: serve.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('\x16\x03\x01 not a request line\r\n\r\n');
    await closed;
    assert.match(reply, /^HTTP\/1\.1 400/);
    await assertServing();
  });

  it(`a barrage: every malformed frame at once, ${BARRAGE} times over; serve goes on`, async () => {
    const bad = Array.from({ length: BARRAGE }, () => MALFORMED).flat();
    const raws = await Promise.all(bad.map(() => RawWebSocket.connect(serve.port)));
    try {
      await Promise.all(
        raws.map(async (raw, i) => {
          await raw.write(bad[i]!.bytes()).catch(() => {});
          if (bad[i]!.end) raw.socket.end();
          const closed = await raw.waitClosed(30_000, bad[i]!.what);
          if (bad[i]!.code !== null) assert.equal(closed?.code, bad[i]!.code, bad[i]!.what);
        }),
      );
    } finally {
      for (const raw of raws) raw.destroy();
    }
    await assertServing();
  });

  it('the control loop kept its timing through it all; one log line per bad connection', async () => {
    const { loop } = await status();
    const elapsed = Date.now() - start.at;
    const ticks = loop.ticks - start.loop.ticks;
    const missed = loop.missed - start.loop.missed;
    // 10 Hz. Generous for a loaded 2-core machine: a stalled loop shows as missed deadlines, and
    // no tick may start a whole period late (the latest start in the window, where it is told).
    assert.ok(ticks >= (elapsed / 100) * 0.8, `${ticks} ticks in ${elapsed} ms`);
    assert.ok(missed <= Math.max(3, ticks * 0.05), `${missed} deadlines missed in ${ticks} ticks`);
    const late = loop.latenessMax ?? loop.latenessP99;
    assert.ok(late < 100, `a tick started ${late} ms late: ${JSON.stringify(loop)}`);
    const lines = serve
      .stderr()
      .split('\n')
      .filter((l) => l.includes('closed the RPC connection from 127.0.0.1'));
    const withCode = MALFORMED.filter((c) => c.code !== null).length * (1 + BARRAGE);
    assert.equal(lines.length, withCode, serve.stderr());
    assert.doesNotMatch(serve.stderr(), /\n\s+at /, 'no stack trace');
  });

  /** The serve process is alive, answers the watcher's status, and its telemetry still flows. */
  async function assertServing(): Promise<void> {
    assert.equal(serve.exitCode(), undefined, `tandem serve exited: ${serve.stderr()}`);
    const seen = telemetry();
    const died = serve.exited.then((code) => {
      throw new Error(`tandem serve exited ${code}: ${serve.stderr()}`);
    });
    const answer = await Promise.race([status(), died]);
    assert.ok(answer.loop.ticks > 0);
    await until(
      () => telemetry() > seen,
      10_000,
      () => 'no telemetry after the bad frame',
    );
    assert.equal(serve.exitCode(), undefined, `tandem serve exited: ${serve.stderr()}`);
  }
});
