import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { box, type RobotSpec, type Step } from '../../src/protocol/index.ts';
import { Recorder, Store } from '../../src/store/index.ts';

/** A fresh folder under the OS temp dir, removed when the test ends. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store on a fresh file, closed when the test ends. */
export function openTemp(t: TestContext): Store {
  const store = Store.open(join(tempDir(t), 'tandem.db'));
  t.after(() => store.close());
  return store;
}

export function testSpec(obsDim = 4, actionDim = 2): RobotSpec {
  const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  return {
    task: 'probe',
    observation: box(names('o', obsDim), -10, 10),
    action: box(names('a', actionDim), -1, 1),
    rateHz: 10,
    maxSteps: 200,
  };
}

export function createTestRun(store: Store, obsDim = 4, actionDim = 2): number {
  return store.createRun({
    command: 'record',
    task: 'probe',
    config: { command: 'record', task: { task: 'probe' } },
    spec: testSpec(obsDim, actionDim),
    codeVersion: 'test',
  });
}

/** A valid step with deterministic, non-float32-exact values derived from `index`. */
export function makeStep(index: number, obsDim = 4, actionDim = 2, over: Partial<Step> = {}): Step {
  const wave = (n: number, k: number) =>
    Array.from({ length: n }, (_, i) => Math.sin(index * 7.1 + i * k) / 3);
  return {
    index,
    t: index * 0.1,
    obs: wave(obsDim, 1.3),
    action: wave(actionDim, 2.9),
    proposed: wave(actionDim, 4.7),
    reward: index * 0.25,
    done: false,
    truncated: false,
    source: 'policy',
    intervened: false,
    policyVersion: 1,
    ...over,
  };
}

export interface EpisodeOptions {
  kind?: 'demo' | 'train' | 'eval';
  outcome?: 'success' | 'failure' | 'timeout';
  task?: string;
  /** Every n-th step (from 0) is a human intervention. */
  intervenedEvery?: number;
  /** The same reward on every step (else makeStep's). */
  reward?: number;
}

/** Records a whole episode of `steps` makeStep steps (obs 4, action 2); returns its id. */
export function recordEpisode(
  recorder: Recorder,
  runId: number,
  steps: number,
  opts: EpisodeOptions = {},
): number {
  const id = recorder.beginEpisode({
    runId,
    task: opts.task ?? 'probe',
    kind: opts.kind ?? 'train',
    seed: 7,
    obsDim: 4,
    actionDim: 2,
  });
  for (let i = 0; i < steps; i++) {
    const intervened = opts.intervenedEvery !== undefined && i % opts.intervenedEvery === 0;
    const step = makeStep(i, 4, 2, { intervened, source: intervened ? 'human' : 'policy' });
    if (opts.reward !== undefined) step.reward = opts.reward;
    recorder.record(id, step);
  }
  recorder.endEpisode(id, { outcome: opts.outcome ?? 'success', finalObs: FINAL_OBS });
  return id;
}

export const FINAL_OBS = [9, 8, 7, 6];

/** The bytes of `path` and the names in its folder, to prove that nothing was touched. */
export function snapshot(path: string, dir: string): { bytes: Buffer; files: string[] } {
  return { bytes: readFileSync(path), files: readdirSync(dir).sort() };
}
