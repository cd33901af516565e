import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { LearnerServer, type LearnerServerOptions } from '../../src/learner/remote/server.ts';
import { LearnerGrpc, tokenMetadata } from '../../src/learner/remote/wire.ts';
import type { RobotSpec } from '../../src/protocol/index.ts';
import { createRobot } from '../../src/robots/index.ts';
import { Store } from '../../src/store/index.ts';

/** The probe's spec (its dims are what the learner checks actors against). */
export async function probeSpec(): Promise<RobotSpec> {
  const robot = await createRobot({ task: 'probe', options: {} });
  try {
    return robot.spec;
  } finally {
    robot.close();
  }
}

/** A small, quick learner for the wire tests. */
export const SMALL = { hidden: [32, 32], batchSize: 16, ensembleSize: 2, threads: 1 };

/** A learner service on a free loopback port with its own SQLite file, for one test. */
export async function startLearner(
  spec: RobotSpec,
  overrides: Partial<LearnerServerOptions> = {},
  dir = mkdtempSync(join(tmpdir(), 'tandem-remote-')),
): Promise<{ server: LearnerServer; store: Store; dir: string; close: () => Promise<void> }> {
  const store = Store.open(join(dir, 'learner.db'));
  const runId =
    overrides.runId ??
    store.createRun({
      command: 'learner',
      task: spec.task,
      config: { command: 'learner', task: { task: 'probe', options: {} }, learner: SMALL },
      spec,
    });
  const server = await LearnerServer.start({
    store,
    runId,
    task: spec.task,
    obsDim: spec.observation.names.length,
    actionDim: spec.action.names.length,
    config: SMALL,
    host: '127.0.0.1',
    port: 0,
    checkpointEveryMs: 60_000,
    freeRun: {
      publishEverySteps: 5,
      publishEveryMs: 200,
      maxUpdatesPerTransition: 1,
      keepCredit: true,
    },
    ...overrides,
  });
  return {
    server,
    store,
    dir,
    close: async () => {
      await server.close();
      store.close();
    },
  };
}

/** A raw client of the service, for messages a RemoteLearner would never send. */
export function rawClient(port: number, opts: grpc.ChannelOptions = {}) {
  const client = new LearnerGrpc(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts);
  const call = <T>(method: string, request: unknown, token?: string): Promise<T> =>
    new Promise((resolve, reject) =>
      (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(
        client,
        request,
        tokenMetadata(token),
        { deadline: Date.now() + 10_000 },
        (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)),
      ),
    );
  return { call, close: () => client.close() };
}

export const cleanup = (dir: string) => rmSync(dir, { recursive: true, force: true });

/**
 * The actor held its 50 ms control period: `p99s` are the period error's p99 (ms) over the last
 * 10 s of ticks at each progress line (overlapping windows: one spike shows in ten lines). A
 * loop that waited on the network would show the one-way delay (25 ms here) or a call's
 * deadline; this shared 2-core machine's noise, with the learner training flat out beside it,
 * has reached 9 ms. So: every window within half the period (a missed tick is asserted apart).
 */
export function assertPeriodHeld(p99s: number[], context = ''): void {
  assert.ok(p99s.length > 0, 'progress lines with the period error');
  const worst = Math.max(...p99s);
  assert.ok(worst < 25, `period error p99 ${worst} ms in a 10 s window${context}`);
}
