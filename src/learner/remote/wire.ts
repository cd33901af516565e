import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { z } from 'zod';
import type { ActionSource } from '../../protocol/index.ts';
import { decodeFloats, encodeFloats } from '../../store/index.ts';
import { ActorLoss } from '../config.ts';
import type { PolicyWeights, TransitionBatch } from '../messages.ts';

/** The service's definition, read from learner.proto beside this file. */
const PROTO = fileURLToPath(new URL('./learner.proto', import.meta.url));

const packageDefinition = protoLoader.loadSync(PROTO, {
  keepCase: false,
  longs: Number,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  tandem: { learner: { v1: { Learner: grpc.ServiceClientConstructor } } };
};

/** The gRPC service (for `Server.addService`) and its client constructor. */
export const LearnerGrpc = loaded.tandem.learner.v1.Learner;
export const LEARNER_SERVICE = LearnerGrpc.service;

/**
 * The largest message either side takes (bytes): a batch of thousands of transitions, or the
 * weights of a 256×256 actor, fit many times over; anything larger is refused by gRPC itself
 * (RESOURCE_EXHAUSTED) before it is decoded.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** The most rows one Push may carry. */
export const MAX_BATCH_ROWS = 4096;

/** Who acted in a row, as one byte on the wire: policy, human, scripted; a recorded demo. */
export const SOURCE_CODES = ['policy', 'human', 'scripted', 'demo'] as const;
export type WireSource = (typeof SOURCE_CODES)[number];

export const sourceCode = (s: ActionSource | 'demo'): number => SOURCE_CODES.indexOf(s);

/** An actor's name: letters, digits, '.', '_', '-' (it tags every row it sends). */
export const ActorId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'an actor id is 1–64 letters, digits, ".", "_" or "-"');

const count = z.number().int().nonnegative();
const bytes = z.instanceof(Buffer);

export const HelloRequest = z.object({
  actor: ActorId,
  task: z.string().min(1).max(200),
  obsDim: z.number().int().positive(),
  actionDim: z.number().int().positive(),
});
export type HelloRequest = z.infer<typeof HelloRequest>;

export const HelloReply = z.object({
  run: count,
  instance: z.string().min(1),
  backend: z.string(),
  configJson: z.string(),
  steps: count,
  acked: count,
});
export type HelloReply = z.infer<typeof HelloReply>;

export const WireBatch = z.object({
  actor: ActorId,
  firstSeq: z.number().int().positive(),
  count: z.number().int().positive().max(MAX_BATCH_ROWS),
  obs: bytes,
  action: bytes,
  reward: bytes,
  nextObs: bytes,
  done: bytes,
  source: bytes,
});
export type WireBatch = z.infer<typeof WireBatch>;

export const PushReply = z.object({
  acked: count,
  accepted: count,
  duplicates: count,
  steps: count,
  online: count,
  idle: z.boolean(),
});
export type PushReply = z.infer<typeof PushReply>;

export const PollRequest = z.object({
  actor: ActorId,
  sinceVersion: count,
  sinceMetrics: count,
  waitMs: z.number().int().nonnegative().max(30_000),
  sinceSteps: count,
  idle: z.boolean(),
});
export type PollRequest = z.infer<typeof PollRequest>;

const WireTensor = z.object({ shape: z.array(z.number().int().positive()).min(1), data: bytes });
const WireWeights = z.object({
  version: count,
  publishedAt: z.number(),
  tensors: z.array(WireTensor),
});
type WireWeights = z.infer<typeof WireWeights>;

export const MetricsRecord = z.object({
  seq: z.number().int().positive(),
  values: z.record(z.string(), z.number()),
});
export type MetricsRecord = z.infer<typeof MetricsRecord>;

export const PollReply = z.object({
  weights: WireWeights.nullable().optional(),
  metrics: z.array(MetricsRecord),
  steps: count,
  received: count,
  online: count,
  instance: z.string(),
  idle: z.boolean(),
});
export type PollReply = z.infer<typeof PollReply>;

export const SetActorLossRequest = z.object({ loss: ActorLoss });
export const CheckpointReply = z.object({ id: z.number().int().positive(), steps: count });
export type CheckpointReply = z.infer<typeof CheckpointReply>;

/** Bytes as `n` float32 (little-endian, copied: they go to the worker), or an error naming the field. */
function floats(b: Buffer, n: number, what: string): Float32Array<ArrayBuffer> {
  if (b.byteLength !== n * 4)
    throw new WireError(
      `${what}: ${b.byteLength} bytes where ${n} float32 (${n * 4} bytes) are due`,
    );
  const out = new Float32Array(n);
  out.set(decodeFloats(b));
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i]!)) throw new WireError(`${what}[${i}] is not finite`);
  }
  return out;
}

/** A message that decoded but does not fit the run (sizes, values): refused, nothing changes. */
export class WireError extends Error {}

/** One decoded batch: the rows packed for the learner, who acted in each, the terminal flags. */
export interface DecodedBatch {
  actor: string;
  firstSeq: number;
  batch: TransitionBatch;
  sources: WireSource[];
}

/** Checks a batch's sizes against the run's dims and every number; throws WireError. */
export function decodeBatch(m: WireBatch, dims: { obs: number; action: number }): DecodedBatch {
  const n = m.count;
  const batch: TransitionBatch = {
    count: n,
    obs: floats(m.obs, n * dims.obs, 'obs'),
    action: floats(m.action, n * dims.action, 'action'),
    reward: floats(m.reward, n, 'reward'),
    nextObs: floats(m.nextObs, n * dims.obs, 'next_obs'),
    done: new Float32Array(n),
  };
  if (m.done.byteLength !== n)
    throw new WireError(`done: ${m.done.byteLength} bytes for ${n} rows`);
  if (m.source.byteLength !== n)
    throw new WireError(`source: ${m.source.byteLength} bytes for ${n} rows`);
  const sources: WireSource[] = [];
  for (let i = 0; i < n; i++) {
    const d = m.done[i]!;
    if (d > 1) throw new WireError(`done[${i}] is ${d}, not 0 or 1`);
    batch.done[i] = d;
    const s = SOURCE_CODES[m.source[i]!];
    if (!s) throw new WireError(`source[${i}] is ${m.source[i]}, not one of 0–3`);
    sources.push(s);
  }
  return { actor: m.actor, firstSeq: m.firstSeq, batch, sources };
}

/** A packed batch for the wire (its rows first_seq …). */
export function encodeBatch(
  actor: string,
  firstSeq: number,
  batch: TransitionBatch,
  sources: readonly WireSource[],
): WireBatch {
  return {
    actor,
    firstSeq,
    count: batch.count,
    obs: encodeFloats(batch.obs),
    action: encodeFloats(batch.action),
    reward: encodeFloats(batch.reward),
    nextObs: encodeFloats(batch.nextObs),
    done: Buffer.from(Array.from(batch.done, (d) => (d ? 1 : 0))),
    source: Buffer.from(sources.map((s) => SOURCE_CODES.indexOf(s))),
  };
}

export function encodeWeights(w: PolicyWeights): WireWeights {
  return {
    version: w.version,
    publishedAt: w.publishedAt ?? Date.now(),
    tensors: w.tensors.map((t) => ({ shape: t.shape, data: encodeFloats(t.data) })),
  };
}

export function decodeWeights(w: WireWeights): PolicyWeights {
  return {
    version: w.version,
    publishedAt: w.publishedAt,
    tensors: w.tensors.map((t, k) => ({
      shape: t.shape,
      data: floats(
        t.data,
        t.shape.reduce((a, b) => a * b, 1),
        `tensor ${k}`,
      ),
    })),
  };
}

/** Where an actor finds the learner: grpc://host:port (plain) or grpcs://host:port (TLS). */
export interface LearnerAddress {
  host: string;
  port: number;
  tls: boolean;
  /** host:port as gRPC takes it. */
  target: string;
}

export function parseLearnerAddress(url: string): LearnerAddress {
  const m = /^(grpcs?):\/\/(\[[0-9a-fA-F:]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(url);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new WireError(
      `"${url}" is not a learner address: give grpc://HOST:PORT, or grpcs://HOST:PORT for TLS`,
    );
  }
  return { host: m[2]!, port, tls: m[1] === 'grpcs', target: `${m[2]}:${port}` };
}

/** The token as call metadata. */
export function tokenMetadata(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}
