import type { RobotSpec, Step, StepSafety, Transition } from '../protocol/index.ts';
import { decodeFloats } from './blob.ts';
import { StoreError } from './errors.ts';
import { StepRow, parseRow } from './rows.ts';

/** Lengths of the float arrays of a run, from its spec. */
export interface Dims {
  obs: number;
  action: number;
}

export function dimsOf(spec: RobotSpec): Dims {
  return { obs: spec.observation.names.length, action: spec.action.names.length };
}

export const STEP_COLUMNS =
  'idx, t, obs, action, proposed, reward, done, truncated, source, intervened, policy_version, safety';

/** A step's safety verdict as the `safety` column stores it. */
export function encodeSafety(safety: StepSafety | undefined): string | null {
  if (!safety) return null;
  return safety.reasons.length > 0
    ? `${safety.verdict}:${safety.reasons.join(',')}`
    : safety.verdict;
}

/** Decodes a float blob after checking it holds exactly `dim` floats. */
export function decodeBlob(blob: Buffer, dim: number, what: string): Float32Array {
  if (blob.byteLength !== dim * 4) {
    throw new StoreError(
      `${what} cannot be read: it has ${blob.byteLength} bytes, the run's spec needs ${dim * 4} (${dim} float32)`,
    );
  }
  return decodeFloats(blob);
}

export function parseStepRow(raw: unknown, episodeId: number, position: number): StepRow {
  return parseRow(StepRow, raw, `step ${position} of episode ${episodeId}`);
}

export function stepFromRow(raw: unknown, dims: Dims, episodeId: number, position: number): Step {
  const row = parseStepRow(raw, episodeId, position);
  const where = `step ${row.idx} of episode ${episodeId}`;
  return {
    index: row.idx,
    t: row.t,
    obs: Array.from(decodeBlob(row.obs, dims.obs, `${where}: obs`)),
    action: Array.from(decodeBlob(row.action, dims.action, `${where}: action`)),
    proposed:
      row.proposed && Array.from(decodeBlob(row.proposed, dims.action, `${where}: proposed`)),
    reward: row.reward,
    done: row.done,
    truncated: row.truncated,
    source: row.source,
    intervened: row.intervened,
    policyVersion: row.policy_version,
    ...(row.safety ? { safety: row.safety } : {}),
  };
}

/**
 * Pairs step i with step i+1 (its obs is the next observation); the last step pairs with
 * `finalObs`, or is dropped when there is none (an interrupted episode). Arrays may be shared
 * between neighbouring transitions: treat them as read-only.
 */
export function transitionsFromRows(
  raws: readonly unknown[],
  finalObs: Buffer | undefined,
  dims: Dims,
  episodeId: number,
): Transition[] {
  const rows = raws.map((raw, i) => {
    const row = parseStepRow(raw, episodeId, i);
    // Pairing by position is only right when no step is missing.
    if (row.idx !== i) throw new StoreError(`episode ${episodeId} has no step ${i}`);
    return row;
  });
  const obs = rows.map((r) =>
    decodeBlob(r.obs, dims.obs, `step ${r.idx} of episode ${episodeId}: obs`),
  );
  if (finalObs) obs.push(decodeBlob(finalObs, dims.obs, `episode ${episodeId}: final_obs`));
  const transitions: Transition[] = [];
  for (let i = 0; i + 1 < obs.length; i++) {
    const row = rows[i] as StepRow;
    transitions.push({
      obs: obs[i] as Float32Array,
      action: decodeBlob(
        row.action,
        dims.action,
        `step ${row.idx} of episode ${episodeId}: action`,
      ),
      proposed:
        row.proposed &&
        decodeBlob(row.proposed, dims.action, `step ${row.idx} of episode ${episodeId}: proposed`),
      reward: row.reward,
      nextObs: obs[i + 1] as Float32Array,
      // `done` means the task ended; a time limit (truncated alone) still bootstraps.
      done: row.done,
      truncated: row.truncated,
      intervened: row.intervened,
      source: row.source,
      policyVersion: row.policy_version,
      ...(row.safety ? { safety: row.safety } : {}),
    });
  }
  return transitions;
}
