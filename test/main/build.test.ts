// The bundles Electron runs: built as `tandem start` builds them, then checked for what Electron
// allows. A sandboxed preload may require only 'electron'; the main module imports only Electron,
// its dependencies in node_modules and Node's own modules.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import type { DesktopBridge } from '../../src/protocol/desktop.ts';
import { buildShell } from '../../src/main/build.ts';
import { FakeContextBridge, FakeIpcRenderer } from './fakes.ts';

describe('the desktop shell’s bundles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-shell-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const built = buildShell(dir);

  it('the preload runs with nothing but electron to require, and validates calls', async () => {
    const { preload } = await built;
    const bridge = new FakeContextBridge();
    const ipc = new FakeIpcRenderer();
    ipc.answer = () => ({ ok: true, result: 'pong' });
    const required: string[] = [];
    const module = { exports: {} };
    runInNewContext(readFileSync(preload, 'utf8'), {
      module,
      exports: module.exports,
      console,
      require: (name: string) => {
        required.push(name);
        if (name !== 'electron') throw new Error(`a sandboxed preload cannot require ${name}`);
        return { contextBridge: bridge, ipcRenderer: ipc };
      },
    });
    assert.deepEqual(required, ['electron']);
    const api = bridge.exposed.get('tandem') as DesktopBridge;
    assert.equal(await api.call({ method: 'status' }), 'pong');
    await assert.rejects(api.call({ method: 'eval' } as never), /malformed call/);
    assert.equal(ipc.invoked.length, 1);
  });

  it('the main module imports only electron, its dependencies and Node', async () => {
    const { main } = await built;
    const imports = [...readFileSync(main, 'utf8').matchAll(/^import .* from "([^"]+)";$/gm)]
      .map((m) => m[1]!)
      .filter((name) => !name.startsWith('node:'));
    assert.deepEqual([...new Set(imports)].sort(), ['electron', 'ws', 'zod']);
  });
});
