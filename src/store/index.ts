export { StoreError } from './errors.ts';
export { defaultDataDir, defaultDbPath } from './paths.ts';
export { decodeFloats, encodeFloats } from './blob.ts';
export { LATEST_SCHEMA } from './schema.ts';
export { EpisodeFilter } from './episode-filter.ts';
export { Metric, Run, StoredEvent } from './rows.ts';
export type { Dims } from './steps.ts';
export {
  Store,
  type EpisodePatch,
  type NewEvent,
  type NewMetric,
  type NewRun,
  type StoreOptions,
  type StoredCheckpoint,
} from './store.ts';
export {
  Recorder,
  type EpisodeEnd,
  type EpisodeStart,
  type RecorderOptions,
  type StepInput,
} from './recorder.ts';
export { ReceivedLog, type ReceivedRow } from './received.ts';
