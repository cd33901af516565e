// The remote learner's service on real gRPC over loopback, in process: what reaches its log, what
// it refuses (and that a refusal changes nothing), its token and TLS.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { RemoteLearner } from '../../src/learner/remote/client.ts';
import { LearnerServeError } from '../../src/learner/remote/server.ts';
import { encodeBatch, type WireSource } from '../../src/learner/remote/wire.ts';
import { packTransitions } from '../../src/learner/link.ts';
import type { RobotSpec, Transition } from '../../src/protocol/index.ts';
import { ensureCertificate } from '../../src/server/certificate.ts';
import { Random } from '../../src/util/random.ts';
import { cleanup, probeSpec, rawClient, startLearner } from './helpers.ts';

let spec: RobotSpec;
let obsDim = 0;
let actionDim = 0;
before(async () => {
  spec = await probeSpec();
  obsDim = spec.observation.names.length;
  actionDim = spec.action.names.length;
});

function transitions(n: number, seed: number, source: Transition['source'] = 'policy') {
  const rng = new Random(seed);
  const vec = (k: number) => Float32Array.from({ length: k }, () => rng.uniform(-1, 1));
  return Array.from({ length: n }, (): Transition => ({
    obs: vec(obsDim),
    action: vec(actionDim),
    proposed: null,
    reward: rng.normal(),
    nextObs: vec(obsDim),
    done: rng.next() < 0.05,
    truncated: false,
    source,
    intervened: false,
    policyVersion: 0,
  }));
}

/** A wire batch of `n` rows from `firstSeq`, as a raw client sends it. */
function wireBatch(actor: string, firstSeq: number, n: number, sources?: WireSource[]) {
  const rows = transitions(n, firstSeq);
  return encodeBatch(
    actor,
    firstSeq,
    packTransitions(rows, obsDim, actionDim),
    sources ?? rows.map(() => 'policy'),
  );
}

const code = (err: unknown) => (err as grpc.ServiceError).code;
const rowsIn = (store: { db: { prepare: (s: string) => { get: () => unknown } } }) =>
  (store.db.prepare('SELECT COUNT(*) AS n FROM received').get() as { n: number }).n;

describe('remote learner on loopback', () => {
  it('stores each of an actor’s transitions once, in order, tagged, and sends its weights back', async () => {
    const l = await startLearner(spec);
    try {
      const weights: number[] = [];
      const link = await RemoteLearner.connect({
        url: `grpc://127.0.0.1:${l.server.port}`,
        actor: 'sim-1',
        task: spec.task,
        obsDim,
        actionDim,
        onWeights: (w) => weights.push(w.version),
      });
      try {
        link.feed(transitions(60, 1));
        link.feed(transitions(40, 2, 'human'));
        link.add('demo', packTransitions(transitions(10, 3), obsDim, actionDim));
        assert.ok(await link.flush(10_000), 'all rows stored');
        const rows = l.store.db
          .prepare('SELECT actor, seq, source FROM received ORDER BY id')
          .all() as { actor: string; seq: number; source: string }[];
        assert.deepEqual(
          rows.map((r) => r.seq),
          Array.from({ length: 110 }, (_, i) => i + 1),
        );
        assert.ok(rows.every((r) => r.actor === 'sim-1'));
        assert.deepEqual(l.server.log.counts(), [
          { actor: 'sim-1', source: 'demo', n: 10 },
          { actor: 'sim-1', source: 'human', n: 40 },
          { actor: 'sim-1', source: 'policy', n: 60 },
        ]);
        // It trains on them (≤ 1 step per online row) and publishes to the actor.
        const until = Date.now() + 20_000;
        while ((weights.at(-1) ?? 0) < 20 && Date.now() < until)
          await new Promise((r) => setTimeout(r, 50));
        assert.ok((weights.at(-1) ?? 0) >= 20, `weights up to version ${weights.at(-1)}`);
        assert.equal(link.acked, 110);
      } finally {
        await link.close();
      }
    } finally {
      await l.close();
      cleanup(l.dir);
    }
  });

  it('takes a resend or a replay of stored rows as duplicates, and refuses a gap', async () => {
    const l = await startLearner(spec);
    const c = rawClient(l.server.port);
    try {
      const push = (first: number, n: number) =>
        c.call<{ acked: number; accepted: number; duplicates: number }>(
          'Push',
          wireBatch('a', first, n),
        );
      assert.deepEqual(
        (({ acked, accepted, duplicates }) => ({ acked, accepted, duplicates }))(await push(1, 10)),
        { acked: 10, accepted: 10, duplicates: 0 },
      );
      const again = await push(1, 10);
      assert.equal(again.accepted, 0);
      assert.equal(again.duplicates, 10);
      const overlap = await push(5, 10);
      assert.equal(overlap.accepted, 4);
      assert.equal(overlap.duplicates, 6);
      assert.equal(overlap.acked, 14);
      await assert.rejects(push(20, 5), (err) => {
        assert.equal(code(err), grpc.status.FAILED_PRECONDITION);
        assert.match((err as Error).message, /stands at 14: send from 15/);
        return true;
      });
      assert.equal(rowsIn(l.store), 14);
      assert.deepEqual([...l.server.acked], [['a', 14]]);
    } finally {
      c.close();
      await l.close();
      cleanup(l.dir);
    }
  });

  it('refuses malformed messages with the reason, and stores nothing of them', async () => {
    const l = await startLearner(spec);
    const c = rawClient(l.server.port);
    try {
      const refused = async (
        request: unknown,
        method: string,
        pattern: RegExp,
        status = grpc.status.INVALID_ARGUMENT,
      ) =>
        assert.rejects(c.call(method, request), (err) => {
          assert.equal(code(err), status, (err as Error).message);
          assert.match((err as Error).message, pattern);
          return true;
        });
      const good = wireBatch('a', 1, 4);
      await refused(
        { ...good, obs: good.obs.subarray(4) },
        'Push',
        /obs: \d+ bytes where \d+ float32/,
      );
      const nan = Buffer.from(good.reward);
      nan.writeFloatLE(Number.NaN, 4);
      await refused({ ...good, reward: nan }, 'Push', /reward\[1\] is not finite/);
      await refused({ ...good, source: Buffer.from([0, 0, 9, 0]) }, 'Push', /source\[2\] is 9/);
      await refused({ ...good, done: Buffer.from([0, 2, 0, 0]) }, 'Push', /done\[1\] is 2/);
      await refused({ ...good, actor: 'no spaces' }, 'Push', /actor: an actor id/);
      await refused({ ...good, count: 0 }, 'Push', /count/);
      await refused({ ...good, firstSeq: 0 }, 'Push', /firstSeq/);
      await refused(
        { actor: 'a', task: spec.task, obsDim: obsDim + 1, actionDim },
        'Hello',
        /this learner trains probe \(obs \d+, action \d+\); actor a runs probe/,
        grpc.status.FAILED_PRECONDITION,
      );
      await refused(
        { actor: 'a', sinceVersion: 0, sinceMetrics: 0, waitMs: 60_000, sinceSteps: 0 },
        'Poll',
        /waitMs/,
      );
      await refused({ loss: 'dance' }, 'SetActorLoss', /loss/);
      assert.equal(rowsIn(l.store), 0);
      // …and the next good batch goes in as the first.
      const ok = await c.call<{ acked: number }>('Push', good);
      assert.equal(ok.acked, 4);
    } finally {
      c.close();
      await l.close();
      cleanup(l.dir);
    }
  });

  it('refuses a client without the token, and one with a wrong one', async () => {
    const l = await startLearner(spec, { token: 'correct horse battery' });
    const c = rawClient(l.server.port);
    const hello = { actor: 'a', task: spec.task, obsDim, actionDim };
    try {
      for (const token of [undefined, 'wrong horse battery', 'correct horse batter']) {
        await assert.rejects(c.call('Hello', hello, token), (err) => {
          assert.equal(code(err), grpc.status.UNAUTHENTICATED);
          assert.match((err as Error).message, /needs its token/);
          return true;
        });
        await assert.rejects(c.call('Push', wireBatch('a', 1, 2), token), /needs its token/);
      }
      await assert.rejects(
        RemoteLearner.connect({
          url: `grpc://127.0.0.1:${l.server.port}`,
          actor: 'a',
          token: 'wrong horse battery',
          task: spec.task,
          obsDim,
          actionDim,
        }),
        /refused this actor: the learner needs its token/,
      );
      assert.equal(rowsIn(l.store), 0);
      const reply = await c.call<{ acked: number }>('Hello', hello, 'correct horse battery');
      assert.equal(reply.acked, 0);
    } finally {
      c.close();
      await l.close();
      cleanup(l.dir);
    }
  });

  it('refuses a 100 MB message and garbage bytes, and goes on serving', async () => {
    const l = await startLearner(spec);
    const big = rawClient(l.server.port, { 'grpc.max_send_message_length': -1 });
    const c = rawClient(l.server.port);
    try {
      const huge = { ...wireBatch('a', 1, 1), obs: Buffer.alloc(100 * 1024 * 1024) };
      await assert.rejects(big.call('Push', huge), (err) => {
        assert.equal(code(err), grpc.status.RESOURCE_EXHAUSTED, (err as Error).message);
        return true;
      });
      // Garbage on the port: an HTTP/1 request, then random bytes.
      await new Promise<void>((resolve) => {
        const socket = connect(l.server.port, '127.0.0.1', () => {
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          const rng = new Random(5);
          socket.write(
            Buffer.from(Array.from({ length: 65_536 }, () => Math.floor(rng.next() * 256))),
          );
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        setTimeout(() => socket.destroy(), 1000);
      });
      assert.equal(rowsIn(l.store), 0);
      const ok = await c.call<{ acked: number }>('Push', wireBatch('a', 1, 3));
      assert.equal(ok.acked, 3);
    } finally {
      big.close();
      c.close();
      await l.close();
      cleanup(l.dir);
    }
  });

  it('listens beyond loopback only with TLS and a token; a plain client cannot talk to a TLS learner', async () => {
    await assert.rejects(startLearner(spec, { host: '0.0.0.0' }), (err) => {
      assert.ok(err instanceof LearnerServeError);
      assert.match(err.message, /listening on 0\.0\.0\.0 needs TLS and a token/);
      return true;
    });
    const l0 = await startLearner(spec, { port: 0 });
    const tlsDir = join(l0.dir, 'tls');
    await l0.close();
    const cert = await ensureCertificate(tlsDir);
    const token = 'a token of some length';
    const l = await startLearner(
      spec,
      { token, tls: { cert: Buffer.from(cert.cert), key: Buffer.from(cert.key) } },
      l0.dir,
    );
    const common = {
      actor: 'a',
      token,
      task: spec.task,
      obsDim,
      actionDim,
      connectTimeoutMs: 1500,
    };
    try {
      await assert.rejects(
        RemoteLearner.connect({ ...common, url: `grpc://127.0.0.1:${l.server.port}` }),
        /cannot be reached/,
      );
      const link = await RemoteLearner.connect({
        ...common,
        url: `grpcs://127.0.0.1:${l.server.port}`,
        caPath: cert.certPath,
      });
      try {
        link.feed(transitions(5, 9));
        assert.ok(await link.flush(10_000));
        assert.equal(rowsIn(l.store), 5);
      } finally {
        await link.close();
      }
    } finally {
      await l.close();
      cleanup(l.dir);
    }
  });
});

after(() => {});
