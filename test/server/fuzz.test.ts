// A fuzzer against a live `tandem serve` on loopback, bounded in count and time for CI: seeded
// malformed frames, JSON, types, sizes and sequences from a client on the studio's own machine
// (the most trusted kind: it may drive), while the operator's turn runs. Asserts what a user needs:
// the process lives, `status` answers, memory stays bounded, and no step recorded with motion came
// from invalid input (the only valid teleop packets it sends are zero motion).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { Store } from '../../src/store/index.ts';
import { Random } from '../../src/util/random.ts';
import { tempDir } from '../cli/helpers.ts';
import { frame, OP, RawWebSocket, textFrame } from './raw-ws.ts';
import { RpcTestClient } from './rpc-studio.ts';
import { type ServeChild, startServe, until, within } from './serve-child.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SEED = Number(process.env.TANDEM_FUZZ_SEED ?? 20261206);
const MESSAGES = 10_000;
const RAW_CONNECTIONS = 100;
/** Requests in flight at once from the fuzzer (well under the server's per-connection bound). */
const WINDOW = 16;
/**
 * Messages a second: some tens per control tick (10 Hz), so that what the newest packet is at a
 * tick varies, and an invalid one taken as input would drive some ticks.
 */
const RATE = 400;
const ZERO = [0, 0, 0, -1];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values of every JSON type, including ones that break naive parsers and checks. */
function junk(rng: Random, depth = 0): Json {
  const pick = rng.int(depth > 2 ? 8 : 11);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rng.next() < 0.5;
    case 2:
      return [0, -1, 1.5, -0, 2 ** 53, -(2 ** 60), 1e308, 4294967296][rng.int(8)]!;
    case 3:
      return ['', 'NaN', 'Infinity', '1', '\u0000', '\ud800', 'x'.repeat(rng.int(3000))][
        rng.int(7)
      ]!;
    case 4:
      return 'ä😀'.repeat(rng.int(50));
    case 5:
      return rng.uniform(-1e6, 1e6);
    case 6:
      return [];
    case 7:
      return {};
    case 8:
      return Array.from({ length: rng.int(80) }, () => junk(rng, depth + 1));
    case 9: {
      const o: { [key: string]: Json } = {};
      for (let i = rng.int(6); i > 0; i--) {
        o[
          ['seq', 'action', 'device', 'method', 'id', 'type', '__proto__', 'constructor'][
            rng.int(8)
          ]!
        ] = junk(rng, depth + 1);
      }
      return o;
    }
    default:
      return [[[[[[[[[[junk(rng, 9)]]]]]]]]]];
  }
}

/**
 * The fuzzer's state of the one valid teleop stream it keeps (zero-motion packets): the newest
 * seq sent, so that it can replay and reorder around it.
 */
interface Stream {
  /** The newest number used, and the newest a good packet had (the newest the studio took). */
  seq: number;
  good: number;
  /** Resets sent (after each, the fuzzer's next message is a good packet), and good ones since. */
  resets: number;
  anchored: number;
}

/** A valid packet, zero motion: the only operator input that may drive. */
function goodPacket(id: number, stream: Stream): string {
  return JSON.stringify({
    id,
    method: 'teleop',
    packet: { seq: (stream.good = ++stream.seq), action: ZERO, device: 'keyboard' },
  });
}

const METHODS = [
  'status',
  'mode',
  'episode',
  'teleop',
  'xr',
  'pair',
  'hello',
  'control',
  'scene',
  'metrics',
  'episodes',
  'steps',
  'replay',
  'annotate',
  'start',
  'stop',
  'pairing',
  'revoke',
  'nope',
];

/**
 * The largest text frame the fuzzer sends on its own connection: a bigger one closes it (1009),
 * which the raw connections test; here the connection must live for the whole run.
 */
const MAX_TEXT = 60_000;

/** One message as text: mostly invalid in some way; some valid zero-motion packets and commands. */
function message(rng: Random, id: number, stream: Stream): string {
  if (stream.resets > stream.anchored) {
    stream.anchored = stream.resets;
    return goodPacket(id, stream);
  }
  const text = anyMessage(rng, id, stream);
  return Buffer.byteLength(text) <= MAX_TEXT
    ? text
    : JSON.stringify({ id, method: 'teleop', packet: 'x'.repeat(MAX_TEXT - 60) });
}

function anyMessage(rng: Random, id: number, stream: Stream): string {
  const moving = [1, -1, 0.5, 1]; // what an invalid packet asks for: it must never be executed
  const kind = rng.int(20);
  switch (kind) {
    case 0:
      return ['', '{', 'null', '[]', '"x"', '{"id":', '}{', 'undefined', '\u0000'][rng.int(9)]!;
    case 1:
      return JSON.stringify(junk(rng));
    case 2: // a good packet in a request without a numeric id
      return JSON.stringify({
        id: [null, '7', [], {}, true][rng.int(5)],
        method: 'teleop',
        packet: { seq: ++stream.seq, action: moving },
      });
    case 3:
      return JSON.stringify({
        id,
        method: METHODS[rng.int(METHODS.length)],
        ...(junk(rng) as object),
      });
    case 4: // a replayed or reordered packet: numbered at or before the stream's newest
      return JSON.stringify({
        id,
        method: 'teleop',
        packet: { seq: stream.good - rng.int(3), action: moving, device: 'keyboard' },
      });
    case 5: // a sequence number far past the stream's: it must not poison the stream
      return JSON.stringify({
        id,
        method: 'teleop',
        packet: {
          seq: [Number.MAX_SAFE_INTEGER, stream.good + 2 ** 40][rng.int(2)],
          action: moving,
        },
      });
    case 6: // wrong sizes and types of action
      return JSON.stringify({
        id,
        method: 'teleop',
        packet: {
          seq: ++stream.seq,
          action: [
            [],
            [1, 1, 1],
            [1, 1, 1, 1, 1],
            Array(65).fill(1),
            ['1', 0, 0, 0],
            [1, null, 0, 0],
            [{}, 0, 0, 0],
          ][rng.int(7)],
        },
      });
    case 7: // non-finite numbers (1e999 parses to Infinity) and a negative or fractional seq
      return [
        `{"id":${id},"method":"teleop","packet":{"seq":${++stream.seq},"action":[1e999,0,0,1]}}`,
        `{"id":${id},"method":"teleop","packet":{"seq":${++stream.seq},"action":[-1e999,1,0,1]}}`,
        `{"id":${id},"method":"teleop","packet":{"seq":-${stream.seq},"action":[1,1,1,1]}}`,
        `{"id":${id},"method":"teleop","packet":{"seq":${stream.seq}.5,"action":[1,1,1,1]}}`,
      ][rng.int(4)]!;
    case 8: // extra fields are refused, not ignored
      return JSON.stringify({
        id,
        method: 'teleop',
        packet: { seq: ++stream.seq, action: moving, extra: junk(rng) },
      });
    case 9:
      return JSON.stringify({ id, method: 'teleop', packet: junk(rng) });
    case 10:
      return JSON.stringify({ id, method: 'xr', packet: junk(rng) });
    case 11:
      return JSON.stringify({ id, method: 'mode', command: junk(rng) });
    case 12:
      return JSON.stringify({ id, method: 'episode', command: junk(rng) });
    case 13:
      return JSON.stringify({ id, method: 'steps', episodeId: junk(rng) });
    case 14:
      return JSON.stringify({ id, method: 'metrics', names: junk(rng), afterStep: junk(rng) });
    case 15: // valid mode commands, now and then: the studio keeps changing whose turn it is
      if (rng.next() < 0.9) return goodPacket(id, stream);
      return JSON.stringify({
        id,
        method: 'mode',
        command: [
          { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
          { type: 'e-stop', origin: 'keyboard' },
          { type: 'intervene', pressed: true, origin: 'keyboard' },
          { type: 'set-mode', mode: 'paused', origin: 'ui' },
        ][rng.int(4)],
      });
    case 16: // a reset restarts the numbering: a good packet goes first, as a sender's would
      if (rng.next() < 0.9) return goodPacket(id, stream);
      stream.resets++;
      return JSON.stringify({ id, method: 'mode', command: { type: 'reset', origin: 'ui' } });
    default:
      return goodPacket(id, stream);
  }
}

/** Frames no conforming client sends; each must close only its own connection. */
function badFrame(rng: Random): Buffer {
  switch (rng.int(7)) {
    case 0:
      return frame({ opcode: OP.text, payload: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]) });
    case 1:
      return frame({ opcode: OP.text, payload: Buffer.alloc(70_000 + rng.int(500_000), 0x20) });
    case 2:
      return frame({
        opcode: OP.text,
        payload: Buffer.from('{"id":1,"method":"status"}'),
        mask: false,
      });
    case 3:
      return frame({
        opcode: OP.text,
        payload: Buffer.from('{"id":1,"method":"status"}'),
        rsv: 1 + rng.int(7),
      });
    case 4:
      return frame({ opcode: OP.reserved + rng.int(5), payload: Buffer.from('x') });
    case 5: // a continuation frame with nothing to continue
      return frame({ opcode: 0x0, payload: Buffer.from('x') });
    default: // a control frame longer than 125 bytes
      return frame({ opcode: 0x9, payload: Buffer.alloc(200) });
  }
}

/** A client that sends text and counts answers (every request gets exactly one). */
class Fuzzer {
  readonly ws: WebSocket;
  answers = 0;
  refused = 0;
  #waiters: (() => void)[] = [];
  #closing = false;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('close', (code, reason) => {
      if (this.#closing) return;
      throw new Error(`the server closed the fuzzer's connection: ${code} ${String(reason)}`);
    });
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id?: unknown; ok?: boolean; event?: string };
      if (m.event !== undefined) return;
      this.answers++;
      if (m.ok === false) this.refused++;
      this.#waiters.shift()?.();
    });
  }

  static async open(url: string): Promise<Fuzzer> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Fuzzer(ws);
  }

  close(): void {
    this.#closing = true;
    this.ws.close();
  }

  /** Sends a text frame (a Buffer: a binary frame, which is refused) and waits for its answer. */
  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.ws.send(data, { binary: typeof data !== 'string' });
    });
  }
}

describe('fuzzing a live tandem serve (loopback, bounded)', () => {
  const tmp = tempDir();
  let serve: ServeChild;
  let watcher: RpcTestClient;

  before(async () => {
    serve = await startServe(tmp.dir);
    watcher = await RpcTestClient.connect(serve.url);
  });
  after(async () => {
    watcher?.ws.close();
    await serve?.stop();
    tmp.cleanup();
  });

  it(`${MESSAGES} malformed and hostile messages and ${RAW_CONNECTIONS} malformed frames: alive, answering, bounded, no motion from them (seed ${SEED})`, async () => {
    const rng = new Random(SEED);
    await watcher.ask({
      method: 'mode',
      command: { type: 'set-mode', mode: 'bc-warmup', origin: 'ui' },
    });
    // Warm up what a session grows into anyway (the review thread with its sim, the learner's
    // first batches), so that the memory measured is what the fuzz costs.
    const first = await until(
      async () => ((await watcher.ask({ method: 'episodes' })) as { id: number }[])[0],
      30_000,
      () => 'no episode began in BC-warmup',
    );
    await watcher.ask({ method: 'replay', episodeId: first.id });
    await watcher.ask({ method: 'steps', episodeId: first.id });
    const rssBefore = serve.rssBytes();
    const started = Date.now();
    const fuzzer = await Fuzzer.open(serve.url);
    const stream: Stream = { seq: 0, good: 0, resets: 0, anchored: 0 };
    await fuzzer.send(goodPacket(0, stream));
    let sent = 1;
    let raw = 0;
    while (sent < MESSAGES) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < WINDOW && sent < MESSAGES; i++, sent++) {
        batch.push(fuzzer.send(message(rng, sent, stream)));
      }
      // Now and then, a binary frame on the fuzzer's connection and a malformed frame on a new one.
      if (rng.next() < 0.1) {
        sent++;
        batch.push(fuzzer.send(Buffer.from(message(rng, sent, stream))));
      }
      if (raw < RAW_CONNECTIONS && rng.next() < (RAW_CONNECTIONS * WINDOW) / MESSAGES) {
        raw++;
        const bad = await RawWebSocket.connect(serve.port);
        await bad.write(badFrame(rng)).catch(() => undefined); // the server may cut it mid-write
        batch.push(
          bad.waitClosed(10_000, 'a connection sent a malformed frame').then(() => undefined),
        );
      }
      await within(
        Promise.all(batch),
        20_000,
        `the server stopped answering after ${sent} messages`,
      );
      assert.equal(serve.exitCode(), undefined, `tandem serve exited: ${serve.stderr()}`);
      const ahead = started + (1000 * sent) / RATE - Date.now();
      if (ahead > 0) await sleep(ahead);
    }
    // Whatever the fuzzer did to the modes, one more well-formed frame on a raw connection works.
    const last = await RawWebSocket.connect(serve.port);
    const answer = last.nextText((t) => t.includes('"id":7'));
    await last.write(textFrame('{"id":7,"method":"status"}'));
    assert.match(await within(answer, 10_000, 'status on a raw connection'), /"ok":true/);
    last.destroy();

    const status = (await within(watcher.ask({ method: 'status' }), 10_000, 'status')) as {
      loop: { ticks: number };
      runId: number;
    };
    const rssAfter = serve.rssBytes();
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `  fuzz: ${sent} messages (${fuzzer.refused} refused) and ${raw} malformed frames in ${seconds.toFixed(1)} s; ` +
        `${status.loop.ticks} ticks; RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MB`,
    );
    assert.equal(fuzzer.answers, sent, 'every message was answered');
    assert.ok(fuzzer.refused > sent / 2, `only ${fuzzer.refused} of ${sent} refused`);
    assert.ok(
      rssAfter - rssBefore < 150 * 2 ** 20,
      `RSS grew by ${(rssAfter - rssBefore) / 2 ** 20} MB`,
    );

    fuzzer.close();
    // What was recorded: every operator step executed no motion (the valid packets were zero).
    await within(
      watcher.ask({ method: 'mode', command: { type: 'e-stop', origin: 'ui' } }),
      10_000,
      'e-stop',
    );
    await serve.stop();
    const store = Store.open(join(tmp.dir, 'tandem.db'), { readonly: true });
    try {
      const episodes = store.listEpisodes({ runId: status.runId, includeDeleted: true });
      const steps = episodes
        .flatMap((e) => store.readSteps(e.id))
        .filter((s) => s.source === 'human');
      assert.ok(steps.length > 20, `${steps.length} operator steps recorded`);
      const moved = steps.filter((s) => Math.hypot(...s.action.slice(0, 3)) > 1e-6);
      assert.equal(
        moved.length,
        0,
        `${moved.length} operator steps moved the arm, e.g. ${JSON.stringify(moved[0])}`,
      );
    } finally {
      store.close();
    }
  });
});
