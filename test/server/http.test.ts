import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpReadApi } from '../../renderer/api/http-read.ts';
import { createExpert, createRobot } from '../../src/robots/index.ts';
import { startStudioServer } from '../../src/server/http.ts';
import { Recorder, Store } from '../../src/store/index.ts';
import { recordEpisodes } from '../../src/studio/record.ts';
import { ensureRendererBuilt } from './renderer.ts';

describe('browser host (tandem serve)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-serve-'));
  let store: Store;
  let server: Server;
  let base: string;

  before(async () => {
    ensureRendererBuilt();
    store = Store.open(join(dir, 'studio.db'));
    const robot = await createRobot({ task: 'probe', options: { maxSteps: 5 } });
    const runId = store.createRun({
      command: 'test',
      task: 'probe',
      config: { command: 'test', task: { task: 'probe' } },
      spec: robot.spec,
    });
    const recorder = new Recorder(store);
    recordEpisodes({
      robot,
      expert: createExpert(robot),
      recorder,
      runId,
      episodes: 2,
      seed: 0,
      kind: 'demo',
    });
    recorder.close();
    server = await startStudioServer({ store, version: 'test', host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the built UI at /', async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await response.text(), /<title>Tandem<\/title>/);
  });

  it("answers the renderer's client with schema-valid status and episodes", async () => {
    const client = new HttpReadApi(base);
    const status = await client.status();
    assert.equal(status.episodes, 2);
    assert.equal(status.dbPath, join(dir, 'studio.db'));
    const episodes = await client.listEpisodes();
    assert.deepEqual(
      episodes.map((e) => [e.task, e.numSteps, e.outcome]),
      [
        ['probe', 5, 'timeout'],
        ['probe', 5, 'timeout'],
      ],
    );
  });

  it('refuses paths outside the UI folder, unknown endpoints and writes', async () => {
    assert.equal((await fetch(`${base}/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${base}/api/nothing`)).status, 404);
    assert.equal((await fetch(`${base}/api/episodes`, { method: 'POST' })).status, 405);
  });
});
