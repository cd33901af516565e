// `tandem doctor` run for real: it must tell the truth about this machine, which has no Electron
// binary, no tfjs-node, no ROS 2 (docs/SETUP.md): the wasm backend, and better-sqlite3's
// SQLite.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { DoctorPart } from '../../src/cli/commands/doctor.ts';
import { type CliResult, tandem, tempDir } from './helpers.ts';

describe('tandem doctor', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let json: CliResult;
  let text: CliResult;
  let parts: Map<string, DoctorPart>;
  before(() => {
    writeFileSync(join(tmp.dir, 'tandem.db'), Buffer.alloc(2_000_000));
    json = tandem(['doctor', '--json'], tmp.dir);
    text = tandem(['doctor'], tmp.dir);
    const parsed = JSON.parse(json.stdout) as { parts: DoctorPart[] };
    parts = new Map(parsed.parts.map((p) => [p.part, p]));
  });
  const part = (name: string) => {
    const p = parts.get(name);
    assert.ok(p, `no part ${name}`);
    return p;
  };

  it('exits 0 and prints one line per part', () => {
    assert.equal(json.code, 0, json.stderr);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.equal(lines.length, parts.size);
    for (const [name, p] of parts) {
      assert.ok(
        lines.some((l) => l.startsWith(name) && l.includes(p.summary)),
        `no line for ${name}`,
      );
    }
  });

  it('reports Node and the ABI native modules must be built for', () => {
    assert.deepEqual(part('node').facts, {
      version: process.versions.node,
      abi: Number(process.versions.modules),
      platform: process.platform,
      arch: process.arch,
    });
  });

  it('the learner would run native (wasm beside it): tfjs-node-gpu and tfjs-node are not installed', () => {
    const backend = part('learner backend');
    const native = part('native learner');
    assert.equal(backend.status, 'ok');
    assert.equal(backend.facts.tfjs, 'wasm');
    const tfjsSkipped = [
      { name: 'tensorflow-gpu', reason: 'not installed (optional dependency)' },
      { name: 'tensorflow', reason: 'not installed (optional dependency)' },
    ];
    if (native.status === 'ok') {
      assert.equal(backend.facts.backend, 'native');
      assert.match(backend.summary, /^native: critics and actor in the addon, tfjs wasm beside it/);
      assert.deepEqual(backend.facts.skipped, tfjsSkipped);
    } else {
      // Without the addon: native is skipped first, with the same fix as the native part's.
      assert.equal(backend.facts.backend, 'wasm');
      const [first, ...rest] = backend.facts.skipped as { name: string; reason: string }[];
      assert.equal(first!.name, 'native');
      assert.ok(first!.reason.endsWith(`Fix: ${native.fix}`), first!.reason);
      assert.deepEqual(rest, tfjsSkipped);
    }
    assert.equal(part('tfjs').facts.tfjsNode, null);
    assert.equal(part('tfjs').facts.wasm, '4.22.0');
  });

  it('the native learner: built (always on CI) with its BLAS and threads, or absent with the fix', () => {
    const p = part('native learner');
    if (p.status === 'ok' || process.env.CI) {
      assert.equal(p.status, 'ok', `${p.summary} — ${p.fix}`);
      assert.equal(p.facts.built, true);
      assert.equal(p.facts.threads, 1);
      assert.match(p.summary, new RegExp(`^built and loads: ${String(p.facts.blas)}`));
    } else {
      assert.equal(p.status, 'absent');
      assert.match(p.summary, /is not built/);
      assert.match(p.fix ?? '', /npm run build:native$/);
    }
  });

  it('better-sqlite3 loads and its SQLite is the one this process gets', () => {
    const db = new Database(':memory:');
    const sqlite = db.prepare('select sqlite_version()').pluck().get();
    db.close();
    const p = part('better-sqlite3');
    assert.equal(p.status, 'ok');
    assert.equal(p.facts.sqlite, sqlite);
    assert.equal(p.facts.loads, true);
    assert.equal(p.facts.abi, Number(process.versions.modules));
  });

  it('ROS 2 is absent, with the fix', () => {
    const p = part('ros2');
    assert.equal(p.status, 'absent');
    assert.equal(p.facts.rclnodejs, false);
    assert.match(p.fix ?? '', /source \/opt\/ros\/<distro>\/setup\.bash.*npm install rclnodejs/);
    assert.equal(p.facts.distro, process.env.ROS_DISTRO || null);
  });

  it('the Electron binary is missing, and says how to get it', () => {
    const p = part('electron');
    assert.equal(p.status, 'absent');
    assert.equal(p.facts.binary, null);
    assert.equal(p.facts.version, '41.7.1');
    assert.equal(p.facts.abi, 145);
    assert.match(p.fix ?? '', /npx install-electron/);
  });

  it('the data folder is TANDEM_HOME, writable, with the database size', () => {
    assert.deepEqual(part('data folder').facts, {
      dir: tmp.dir,
      writable: true,
      db: join(tmp.dir, 'tandem.db'),
      dbExists: true,
      dbBytes: 2_000_000,
    });
    assert.match(part('data folder').summary, /tandem\.db 2\.0 MB/);
  });

  it('--help says what it reports', () => {
    const help = tandem(['doctor', '--help'], tmp.dir);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: tandem doctor \[--json\]/);
  });
});
