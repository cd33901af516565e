/**
 * Checkpoints of the RLPD learner: everything a Sac needs to continue training exactly where it
 * stopped, in one binary payload plus a JSON meta (both stored in the `checkpoints` table).
 *
 * What is saved: every variable of the actor, the critics, the target critics and log α; the
 * three Adam optimizers' iteration counts and first/second moment estimates; the step and
 * actor-update counters; the learner generator's state; the config; obs/action dims; the replay
 * buffers' capacity, size and cursor. The buffers' contents are not saved: they are refilled from
 * the episodes in SQLite, then `checkBuffers` confirms the refill matches.
 *
 * Tensors are keyed by position, never by tfjs name (a name is stored for the error messages only),
 * in this documented order — the order in which `Sac` hands its variables to the optimizers:
 *
 *   actor              `sac.actor.variables`
 *   critics            `sac.critics[0].variables`, then `sac.critics[1].variables`, …
 *   targets            `sac.targets[0].variables`, then `sac.targets[1].variables`, …
 *   logAlpha           `[sac.logAlpha]`
 *   criticOptimizer.m  Adam first moments of the critics' variables (same order as `critics`)
 *   criticOptimizer.v  Adam second moments, same order
 *   actorOptimizer.m/v the same for `actor`
 *   alphaOptimizer.m/v the same for `logAlpha`
 *   grasp, graspTarget `sac.grasp.net.variables`, `sac.grasp.target.variables` (a discrete
 *                      gripper only: empty otherwise, and absent from older checkpoints)
 *   graspOptimizer.m/v the same for `grasp`
 *
 * An optimizer that has not stepped yet has no moments (its groups are empty).
 *
 * With native critics (LearnerConfig.critics), reading `sac.critics`, `sac.targets` and
 * `sac.criticOptimizer` brings them up to date from the addon, and a restore hands them back to
 * it (`Sac.criticsChanged`): a checkpoint moves between native and tfjs critics either way.
 * The native actor (LearnerConfig.actor) likewise: `sac.actor`, `sac.logAlpha` and their
 * optimizers are read up to date, and `Sac.actorChanged` hands a restore back.
 *
 * Payload layout (version 1), all integers little-endian:
 *
 *   bytes 0–7     "TNDMCKPT"
 *   bytes 8–11    uint32 format version
 *   bytes 12–15   uint32 H: byte length of the header
 *   next H bytes  the meta as UTF-8 JSON, padded with spaces to a multiple of 4 bytes
 *   the rest      `meta.floats` little-endian float32: the tensors back to back, in index order
 *
 * The meta is also what the `meta` column holds, so a row can be inspected without its blob.
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { decodeFloats, encodeFloats } from '../store/blob.ts';
import type { Store } from '../store/store.ts';
import { LearnerConfig } from './config.ts';
import type { Adam } from './adam.ts';
import { Sac } from './sac.ts';

export const CHECKPOINT_FORMAT = 'tandem-rlpd-checkpoint';
export const CHECKPOINT_VERSION = 1;
const MAGIC = Buffer.from('TNDMCKPT', 'latin1');
const PREFIX_BYTES = 16;

/** A checkpoint that cannot be made or restored, told in one line. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*\n\s*/g, ' '), options);
  }
}

export const TENSOR_GROUPS = [
  'actor',
  'critics',
  'targets',
  'logAlpha',
  'criticOptimizer.m',
  'criticOptimizer.v',
  'actorOptimizer.m',
  'actorOptimizer.v',
  'alphaOptimizer.m',
  'alphaOptimizer.v',
  'grasp',
  'graspTarget',
  'graspOptimizer.m',
  'graspOptimizer.v',
] as const;
export type TensorGroup = (typeof TENSOR_GROUPS)[number];

const OPTIMIZERS = [
  'criticOptimizer',
  'actorOptimizer',
  'alphaOptimizer',
  'graspOptimizer',
] as const;
type OptimizerField = (typeof OPTIMIZERS)[number];

/** The learner's optimizer of a field (the grasp critic's only with a discrete gripper). */
function optimizerOf(sac: Sac, field: OptimizerField): Adam | undefined {
  return field === 'graspOptimizer' ? sac.grasp?.optimizer : sac[field];
}

/** Config fields that change what the saved tensors mean: they must be equal to restore. */
const STRUCTURAL: readonly (keyof LearnerConfig)[] = [
  'hidden',
  'ensembleSize',
  'logStdMin',
  'logStdMax',
  'criticLayerNorm',
  'gripper',
  'gripperAction',
];
/** Config fields a restore ignores: the generator's state is restored instead of its seed. */
const IGNORED: readonly (keyof LearnerConfig)[] = ['seed'];

const count = z.number().int().nonnegative();

const TensorEntry = z
  .object({
    group: z.enum(TENSOR_GROUPS),
    /** Position within the group. */
    index: count,
    /** The tfjs name when saved: for messages only, restoring never matches on it. */
    name: z.string(),
    shape: z.array(count),
    /** In floats, from the start of the data. */
    offset: count,
  })
  .strict();
export type TensorEntry = z.infer<typeof TensorEntry>;

const OptimizerState = z
  .object({
    iterations: count,
    learningRate: z.number(),
    beta1: z.number(),
    beta2: z.number(),
    epsilon: z.number(),
    /** How many variables have moments: 0 before the first update, else all of them. */
    moments: count,
  })
  .strict();

const BufferState = z.object({ capacity: count, size: count, cursor: count }).strict();

export const CheckpointMeta = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    version: z.literal(CHECKPOINT_VERSION),
    obsDim: z.number().int().positive(),
    actionDim: z.number().int().positive(),
    /** The LearnerConfig; ±Infinity and NaN as strings, since JSON has no such numbers. */
    config: z.record(z.string(), z.unknown()),
    steps: count,
    actorUpdates: count,
    /** Sac.bcFrom (absent in checkpoints from before it existed: 0). */
    bcFrom: count.default(0),
    rngState: count.max(0xffffffff),
    optimizers: z
      .object({
        criticOptimizer: OptimizerState,
        actorOptimizer: OptimizerState,
        alphaOptimizer: OptimizerState,
        /** A discrete gripper's grasp critic only. */
        graspOptimizer: OptimizerState.optional(),
      })
      .strict(),
    buffers: z.object({ online: BufferState, demo: BufferState }).strict(),
    tensors: z.array(TensorEntry),
    /** Float32 values in the data section. */
    floats: count,
    /** sha256 (hex) of the data section, and of each group's values as little-endian float32. */
    checksums: z
      // groups added since (the grasp critic's) may be absent from older checkpoints: empty
      .object({ data: z.string(), groups: z.partialRecord(z.enum(TENSOR_GROUPS), z.string()) })
      .strict(),
  })
  .strict();
export type CheckpointMeta = z.infer<typeof CheckpointMeta>;

export interface Checkpoint {
  meta: CheckpointMeta;
  payload: Buffer;
}

/** A payload read and checked by `parseCheckpoint`: its meta and the tensors' values. */
export interface ParsedCheckpoint {
  meta: CheckpointMeta;
  data: Float32Array;
}

export interface RestoreReport {
  meta: CheckpointMeta;
  /**
   * Config fields (besides the structural ones, which must match, and the seed) that differ
   * between the checkpoint and the learner restored into; training goes on with the learner's.
   */
  configChanges: string[];
}

/** The learner's variables of each parameter group, in checkpoint order. */
function parametersOf(
  sac: Sac,
): Record<'actor' | 'critics' | 'targets' | 'logAlpha' | 'grasp' | 'graspTarget', tf.Variable[]> {
  return {
    actor: sac.actor.variables,
    critics: sac.critics.flatMap((c) => c.variables),
    targets: sac.targets.flatMap((t) => t.variables),
    logAlpha: [sac.logAlpha],
    grasp: sac.grasp?.net.variables ?? [],
    graspTarget: sac.grasp?.target.variables ?? [],
  };
}

/** The variables each optimizer updates, in the order `Sac` passes their gradients. */
function trainedBy(sac: Sac): Record<OptimizerField, tf.Variable[]> {
  const p = parametersOf(sac);
  return {
    criticOptimizer: p.critics,
    actorOptimizer: p.actor,
    alphaOptimizer: p.logAlpha,
    graspOptimizer: p.grasp,
  };
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const showShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function hashFloats(arrays: readonly Float32Array[]): string {
  const hash = createHash('sha256');
  for (const a of arrays) hash.update(encodeFloats(a));
  return hash.digest('hex');
}

function encodeConfig(config: LearnerConfig): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(config)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? String(v) : v]),
  );
}

/**
 * The LearnerConfig a checkpoint was taken with. Non-finite values (gradClip's default, ∞) are put
 * back after parsing: zod's z.number() refuses ±Infinity, though the schema defaults to it.
 */
export function configOf(meta: CheckpointMeta): LearnerConfig {
  const finite: Record<string, unknown> = {};
  const nonFinite: Record<string, number> = {};
  for (const [k, v] of Object.entries(meta.config)) {
    if (v === 'Infinity' || v === '-Infinity' || v === 'NaN') nonFinite[k] = Number(v);
    else finite[k] = v;
  }
  const parsed = LearnerConfig.safeParse(finite);
  if (parsed.success) return { ...parsed.data, ...nonFinite };
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.');
  throw new CheckpointError(
    `checkpoint config is invalid: ${field ? `${field}: ` : ''}${issue?.message ?? 'unknown problem'}`,
  );
}

/** Everything needed to continue training `sac` exactly; take it between two `update` calls. */
export async function checkpointOf(sac: Sac): Promise<Checkpoint> {
  // All synchronous: an update cannot run in the middle of the snapshot.
  const groups: { group: TensorGroup; tensors: { name: string; values: Float32Array }[] }[] = [];
  for (const [group, vars] of Object.entries(parametersOf(sac))) {
    groups.push({
      group: group as TensorGroup,
      tensors: vars.map((v) => {
        if (v.dtype !== 'float32') {
          throw new CheckpointError(`${group} variable ${v.name} is ${v.dtype}, not float32`);
        }
        return { name: v.name, values: v.dataSync() as Float32Array };
      }),
    });
  }
  const optimizers = {} as CheckpointMeta['optimizers'];
  const trained = trainedBy(sac);
  for (const field of OPTIMIZERS) {
    const optimizer = optimizerOf(sac, field);
    const vars = trained[field];
    if (!optimizer) continue;
    const moments = momentsOf(field, optimizer, vars);
    const config = optimizer.getConfig();
    optimizers[field] = {
      iterations: optimizer.iterations,
      learningRate: config.learningRate,
      beta1: config.beta1,
      beta2: config.beta2,
      epsilon: config.epsilon,
      moments: moments ? vars.length : 0,
    };
    for (const suffix of ['m', 'v'] as const) {
      groups.push({
        group: `${field}.${suffix}`,
        tensors: (moments?.[suffix] ?? []).map((values, i) => ({
          name: `${vars[i]!.name}/${suffix}`,
          values,
        })),
      });
    }
  }
  groups.sort((a, b) => TENSOR_GROUPS.indexOf(a.group) - TENSOR_GROUPS.indexOf(b.group));
  const tensors: TensorEntry[] = [];
  const values: Float32Array[] = [];
  let floats = 0;
  const shapes = expectedTensors(sac, { optimizers });
  for (const { group, tensors: list } of groups) {
    list.forEach(({ name, values: v }, index) => {
      const shape = [...shapes[group][index]!.shape];
      tensors.push({ group, index, name, shape, offset: floats });
      values.push(v);
      floats += v.length;
    });
  }
  const all = new Float32Array(floats);
  values.forEach((v, i) => all.set(v, tensors[i]!.offset));
  const data = encodeFloats(all);
  const groupHashes = {} as Record<TensorGroup, string>;
  for (const group of TENSOR_GROUPS) {
    const entries = tensors.filter((t) => t.group === group);
    const start = entries[0]?.offset ?? 0;
    const end = entries.reduce((e, t) => t.offset + sizeOf(t.shape), start);
    groupHashes[group] = sha256(data.subarray(start * 4, end * 4));
  }
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    obsDim: sac.obsDim,
    actionDim: sac.taskActionDim,
    config: encodeConfig(sac.config),
    steps: sac.steps,
    actorUpdates: sac.actorUpdates,
    bcFrom: sac.bcFrom,
    rngState: sac.rng.state,
    optimizers,
    buffers: {
      online: { capacity: sac.online.capacity, size: sac.online.size, cursor: sac.online.cursor },
      demo: { capacity: sac.demo.capacity, size: sac.demo.size, cursor: sac.demo.cursor },
    },
    tensors,
    floats,
    checksums: { data: sha256(data), groups: groupHashes },
  };
  return { meta, payload: encodePayload(meta, data) };
}

/**
 * The optimizer's moments (undefined before its first update), checked to be one per variable
 * it trains, of that variable's size: Adam keeps them by the variable's position.
 */
function momentsOf(
  field: OptimizerField,
  optimizer: Adam,
  vars: tf.Variable[],
): { m: readonly Float32Array[]; v: readonly Float32Array[] } | undefined {
  const moments = optimizer.moments;
  if (!moments) return undefined;
  for (const [suffix, list] of [
    ['m', moments.m],
    ['v', moments.v],
  ] as const) {
    if (list.length !== vars.length) {
      throw new CheckpointError(
        `${field} holds ${suffix} moments for ${list.length} variables, but it trains ${vars.length}: cannot map them`,
      );
    }
    list.forEach((a, i) => {
      if (a.length !== vars[i]!.size) {
        throw new CheckpointError(
          `${field} moment ${suffix}${i} has ${a.length} values, its variable ${vars[i]!.name} ${showShape(vars[i]!.shape)}: the optimizer's variable order changed`,
        );
      }
    });
  }
  return moments;
}

function encodePayload(meta: CheckpointMeta, data: Buffer): Buffer {
  let header = Buffer.from(JSON.stringify(meta), 'utf8');
  const pad = (4 - (header.length % 4)) % 4;
  if (pad > 0) header = Buffer.concat([header, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CHECKPOINT_VERSION, 8);
  prefix.writeUInt32LE(header.length, 12);
  return Buffer.concat([prefix, header, data]);
}

/**
 * Reads and checks a payload: magic, format version, lengths, the meta's schema and index, and
 * the data checksum. Returns the meta and the tensors' values.
 */
export function parseCheckpoint(payload: Uint8Array): ParsedCheckpoint {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length < PREFIX_BYTES) {
    throw new CheckpointError(
      `checkpoint payload is truncated: ${bytes.length} bytes, not even its 16-byte prefix`,
    );
  }
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CheckpointError('checkpoint payload is not a Tandem learner checkpoint (bad magic)');
  }
  const version = bytes.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `checkpoint format version ${version} is ${version > CHECKPOINT_VERSION ? 'newer than' : 'not'} the one this Tandem reads (${CHECKPOINT_VERSION})`,
    );
  }
  const headerBytes = bytes.readUInt32LE(12);
  if (bytes.length < PREFIX_BYTES + headerBytes) {
    throw new CheckpointError(
      `checkpoint payload is truncated: ${bytes.length} bytes, its header alone needs ${PREFIX_BYTES + headerBytes}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes).toString('utf8'));
  } catch (err) {
    throw new CheckpointError(`checkpoint header is corrupt: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const meta = parseMeta(json);
  const dataStart = PREFIX_BYTES + headerBytes;
  const expected = dataStart + meta.floats * 4;
  if (bytes.length !== expected) {
    throw new CheckpointError(
      bytes.length < expected
        ? `checkpoint payload is truncated: ${bytes.length} bytes, its header says ${expected}`
        : `checkpoint payload has ${bytes.length - expected} bytes after its data (expected ${expected} bytes)`,
    );
  }
  const raw = bytes.subarray(dataStart);
  if (sha256(raw) !== meta.checksums.data) {
    throw new CheckpointError(
      'checkpoint payload is corrupt: its data does not match its checksum',
    );
  }
  return { meta, data: decodeFloats(raw) };
}

function parseMeta(json: unknown): CheckpointMeta {
  const head = z.object({ format: z.unknown(), version: z.unknown() }).safeParse(json);
  if (!head.success || head.data.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`checkpoint meta is not a ${CHECKPOINT_FORMAT}`);
  }
  if (head.data.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `checkpoint meta has format version ${String(head.data.version)}; this Tandem reads ${CHECKPOINT_VERSION}`,
    );
  }
  const parsed = CheckpointMeta.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.');
    throw new CheckpointError(
      `checkpoint meta is invalid: ${field ? `${field}: ` : ''}${issue?.message ?? 'unknown problem'}`,
    );
  }
  const meta = parsed.data;
  // The index must tile the data exactly, group by group in the documented order.
  let offset = 0;
  let groupRank = 0;
  let index = 0;
  for (const t of meta.tensors) {
    const rank = TENSOR_GROUPS.indexOf(t.group);
    if (rank !== groupRank) {
      if (rank < groupRank) {
        throw new CheckpointError(`checkpoint index is out of order at ${t.group} ${t.index}`);
      }
      groupRank = rank;
      index = 0;
    }
    if (t.index !== index || t.offset !== offset) {
      throw new CheckpointError(
        `checkpoint index is inconsistent at ${t.group} ${t.index} (offset ${t.offset}, expected tensor ${index} at ${offset})`,
      );
    }
    offset += sizeOf(t.shape);
    index++;
  }
  if (offset !== meta.floats) {
    throw new CheckpointError(
      `checkpoint index covers ${offset} floats, its data has ${meta.floats}`,
    );
  }
  return meta;
}

/** The learner's tensors each group of `meta` restores into (no moments where none were saved). */
function expectedTensors(
  sac: Sac,
  meta: Pick<CheckpointMeta, 'optimizers'>,
): Record<TensorGroup, tf.Variable[]> {
  const out: Partial<Record<TensorGroup, tf.Variable[]>> = { ...parametersOf(sac) };
  const trained = trainedBy(sac);
  for (const field of OPTIMIZERS) {
    const vars = (meta.optimizers[field]?.moments ?? 0) === 0 ? [] : trained[field];
    out[`${field}.m`] = vars;
    out[`${field}.v`] = vars;
  }
  return out as Record<TensorGroup, tf.Variable[]>;
}

/** Why `meta` cannot be restored into `sac`, if it cannot; checked before anything is changed. */
function misfit(sac: Sac, meta: CheckpointMeta, config: LearnerConfig): string | undefined {
  if (meta.obsDim !== sac.obsDim || meta.actionDim !== sac.taskActionDim) {
    return `checkpoint is for obs ${meta.obsDim} / action ${meta.actionDim}, this learner has obs ${sac.obsDim} / action ${sac.taskActionDim}`;
  }
  for (const key of STRUCTURAL) {
    if (!isDeepStrictEqual(config[key], sac.config[key])) {
      return `checkpoint has ${key} ${JSON.stringify(config[key])}, this learner has ${JSON.stringify(sac.config[key])}`;
    }
  }
  const targets = expectedTensors(sac, meta);
  for (const group of TENSOR_GROUPS) {
    const saved = meta.tensors.filter((t) => t.group === group);
    const vars = targets[group];
    if (saved.length !== vars.length) {
      return `checkpoint has ${saved.length} ${group} tensors, this learner has ${vars.length}`;
    }
    for (const [i, t] of saved.entries()) {
      const v = vars[i]!;
      if (!tf.util.arraysEqual(t.shape, v.shape)) {
        return `checkpoint ${group} tensor ${i} has shape ${showShape(t.shape)}, this learner's has ${showShape(v.shape)}`;
      }
    }
  }
  for (const field of OPTIMIZERS) {
    const saved = meta.optimizers[field];
    const optimizer = optimizerOf(sac, field);
    if (!saved || !optimizer) {
      if (saved || optimizer) return `checkpoint and learner differ in having a ${field}`;
      continue;
    }
    if (saved.moments !== 0 && saved.moments !== trainedBy(sac)[field].length) {
      return `checkpoint ${field} has moments for ${saved.moments} variables, this learner's trains ${trainedBy(sac)[field].length}`;
    }
    const now = optimizer.getConfig();
    for (const key of ['beta1', 'beta2', 'epsilon'] as const) {
      if (now[key] !== saved[key]) {
        return `checkpoint ${field} has ${key} ${saved[key]}, this learner's has ${String(now[key])}`;
      }
    }
  }
  return undefined;
}

/**
 * Restores a checkpoint (from `checkpointOf`, or a stored row) into `sac`. Everything is checked
 * before anything is changed: format version, dims, structural config, every shape; a mismatch
 * throws one CheckpointError line and leaves the learner untouched. After the restore, every
 * group's values are read back and compared with the saved checksums (so a restore that did not
 * take, e.g. an actor re-initialised behind it, throws rather than training on).
 */
export async function restoreCheckpoint(
  sac: Sac,
  checkpoint: { meta?: unknown; payload: Uint8Array },
): Promise<RestoreReport> {
  const parsed = parseCheckpoint(checkpoint.payload);
  if (checkpoint.meta !== undefined && !sameJson(checkpoint.meta, parsed.meta)) {
    throw new CheckpointError('checkpoint meta does not match the meta inside its payload');
  }
  return restoreParsed(sac, parsed);
}

/** Equal once written as JSON (which drops undefined fields and the sign of −0). */
function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a) ?? 'null'), JSON.parse(JSON.stringify(b)));
}

async function restoreParsed(sac: Sac, { meta, data }: ParsedCheckpoint): Promise<RestoreReport> {
  const config = configOf(meta);
  const problem = misfit(sac, meta, config);
  if (problem) throw new CheckpointError(problem);
  const configChanges = Object.keys({ ...config, ...sac.config })
    .filter((k) => !STRUCTURAL.includes(k as keyof LearnerConfig))
    .filter((k) => !IGNORED.includes(k as keyof LearnerConfig))
    .filter(
      (k) =>
        !isDeepStrictEqual(config[k as keyof LearnerConfig], sac.config[k as keyof LearnerConfig]),
    )
    .map((k) => {
      const show = (c: LearnerConfig) => String(JSON.stringify(encodeConfig(c)[k]));
      return `${k}: ${show(config)} in the checkpoint, ${show(sac.config)} in this learner`;
    });

  // A copy: a backend may keep the array it is given (the cpu one does), and `data` may be a
  // view over the caller's payload.
  const valuesOf = (t: TensorEntry) => data.slice(t.offset, t.offset + sizeOf(t.shape));
  const byGroup = (group: TensorGroup) => meta.tensors.filter((t) => t.group === group);

  // Parameters: assigned in place, so every reference to the variables stays valid.
  for (const [group, vars] of Object.entries(parametersOf(sac))) {
    byGroup(group as TensorGroup).forEach((t, i) => {
      const v = vars[i]!;
      tf.tidy(() => v.assign(tf.tensor(valuesOf(t), t.shape, 'float32')));
    });
  }

  // Optimizers: iteration count and moments, by position.
  for (const field of OPTIMIZERS) {
    const state = meta.optimizers[field];
    const optimizer = optimizerOf(sac, field);
    if (!state || !optimizer) continue; // misfit checked both or neither
    const moments =
      state.moments === 0
        ? undefined
        : {
            m: byGroup(`${field}.m`).map(valuesOf),
            v: byGroup(`${field}.v`).map(valuesOf),
          };
    optimizer.restore(state.iterations, moments);
  }
  // Native critics and actor (Sac.criticBackend, actorBackend) train from their own copy: it
  // takes the restored state.
  sac.criticsChanged();
  sac.actorChanged();

  sac.steps = meta.steps;
  sac.actorUpdates = meta.actorUpdates;
  sac.bcFrom = meta.bcFrom;
  sac.rng.restore(meta.rngState);
  await verify(sac, meta);
  return { meta, configChanges };
}

/** Reads the restored state back and compares it with what the checkpoint holds. */
async function verify(sac: Sac, meta: CheckpointMeta): Promise<void> {
  const groups: Partial<Record<TensorGroup, readonly Float32Array[]>> = {};
  for (const [group, vars] of Object.entries(parametersOf(sac))) {
    groups[group as TensorGroup] = await Promise.all(
      vars.map(async (v) => (await v.data()) as Float32Array),
    );
  }
  for (const field of OPTIMIZERS) {
    const optimizer = optimizerOf(sac, field);
    const moments = optimizer?.moments;
    groups[`${field}.m`] = moments?.m ?? [];
    groups[`${field}.v`] = moments?.v ?? [];
    if ((optimizer?.iterations ?? 0) !== (meta.optimizers[field]?.iterations ?? 0)) {
      throw new CheckpointError(`${field} did not take its restored iteration count`);
    }
  }
  for (const group of TENSOR_GROUPS) {
    if (hashFloats(groups[group] ?? []) !== (meta.checksums.groups[group] ?? hashFloats([]))) {
      throw new CheckpointError(
        `after the restore, the ${group} ${group.includes('.') ? 'moments' : 'weights'} differ from the checkpoint's: the restore did not take`,
      );
    }
  }
  if (
    sac.steps !== meta.steps ||
    sac.actorUpdates !== meta.actorUpdates ||
    sac.bcFrom !== meta.bcFrom ||
    sac.rng.state !== meta.rngState
  ) {
    throw new CheckpointError(
      'after the restore, the learner counters or generator state differ from the checkpoint',
    );
  }
}

/**
 * After the replay buffers were refilled from SQLite, throws unless their capacity, size and
 * cursor are those of the checkpoint (else sampling would not continue as before).
 */
export function checkBuffers(sac: Sac, meta: CheckpointMeta): void {
  for (const which of ['online', 'demo'] as const) {
    const saved = meta.buffers[which];
    const b = sac[which];
    if (b.capacity !== saved.capacity || b.size !== saved.size || b.cursor !== saved.cursor) {
      throw new CheckpointError(
        `the refilled ${which} buffer has capacity ${b.capacity}, size ${b.size}, cursor ${b.cursor}; the checkpoint had ${saved.capacity}, ${saved.size}, ${saved.cursor}`,
      );
    }
  }
}

/**
 * A learner restored from a stored checkpoint: the run's latest (highest step), or one by id.
 * It is built with the checkpoint's dims and config. The replay buffers are empty: refill them
 * from the run's episodes, then call `checkBuffers`.
 */
export async function loadLearner(
  store: Store,
  from: { runId: number } | { checkpointId: number },
): Promise<Sac> {
  const row =
    'runId' in from ? store.latestCheckpoint(from.runId) : store.getCheckpoint(from.checkpointId);
  if (!row) {
    throw new CheckpointError(
      'runId' in from
        ? `run ${from.runId} has no checkpoint in ${store.path}`
        : `there is no checkpoint ${from.checkpointId} in ${store.path}`,
    );
  }
  const parsed = parseCheckpoint(row.payload);
  if (!sameJson(row.meta, parsed.meta)) {
    throw new CheckpointError(
      `checkpoint ${row.id}: its meta does not match the meta inside its payload`,
    );
  }
  return learnerFrom(parsed);
}

/**
 * A learner built with a parsed checkpoint's dims and config and restored from it (replay
 * buffers empty: refill them, then call `checkBuffers`). Where the critics and the actor train
 * is this run's choice, not the checkpoint's: `critics` and `actor` are 'auto' (native when the
 * addon is built) unless `placement` says otherwise, so a checkpoint resumes on any backend.
 */
export async function learnerFrom(
  parsed: ParsedCheckpoint,
  placement: (config: LearnerConfig) => LearnerConfig = (c) => c,
): Promise<Sac> {
  const config = placement({ ...configOf(parsed.meta), critics: 'auto', actor: 'auto' });
  const sac = new Sac(parsed.meta.obsDim, parsed.meta.actionDim, config);
  try {
    await restoreParsed(sac, parsed);
    return sac;
  } catch (err) {
    sac.dispose();
    throw err;
  }
}
