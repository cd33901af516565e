// electron-builder.yml, checked without building (a build downloads Electron, impossible here):
// against electron-builder's own schema, and against the real node_modules tree, so every file the
// studio process loads (with Node's ESM loader, which cannot read app.asar) ends up on the real
// file system, and no glob matches nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { electronBinary } from '../../src/cli/commands/start.ts';
import { SHELL_DIR } from '../../src/main/build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
// electron-builder's own dependencies: its YAML reader and its glob matcher.
const yaml = require('js-yaml') as { load(text: string): unknown };
const { minimatch } = require('minimatch') as {
  minimatch(path: string, pattern: string, options?: { dot?: boolean }): boolean;
};
const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
  validateConfiguration(config: unknown, log: { isEnabled: boolean; add(): void }): Promise<void>;
};

interface BuilderConfig {
  appId: string;
  productName: string;
  files: string[];
  asar?: boolean | object;
  asarUnpack?: string[];
  npmRebuild?: boolean;
  electronFuses?: { runAsNode?: boolean };
  extraMetadata: { main: string };
  linux: { target: string[] };
  win: { target: string[] };
  mac: { target: string[] };
}

const config = yaml.load(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

/** Every file under `dir`, relative to the project root. */
function walk(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return walk(path);
    return e.isFile() ? [path] : [];
  });
}

const unpacked = (file: string) =>
  (config.asarUnpack ?? []).some((g) => minimatch(file, g, { dot: true }));
/** Whether `files` takes `file` (electron-builder adds node_modules itself; `!` globs still apply). */
const packed = (file: string) => {
  const include = config.files.filter((g) => !g.startsWith('!'));
  const exclude = config.files.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  return (
    (file.startsWith('node_modules/') || include.some((g) => minimatch(file, g, { dot: true }))) &&
    !exclude.some((g) => minimatch(file, g, { dot: true }))
  );
};
/** Packed, and on the real file system: no archive at all, or unpacked from app.asar. */
const outsideAsar = (file: string) => packed(file) && (config.asar === false || unpacked(file));

/** Where Node finds package `name` from the package at `from`: the nearest node_modules first. */
function resolvePackage(name: string, from: string): string | undefined {
  const parts = from === '.' ? [] : from.split('/');
  for (let i = parts.length; i >= 0; i--) {
    if (i > 0 && parts[i - 1] === 'node_modules') continue;
    const candidate = [...parts.slice(0, i), 'node_modules', name].join('/');
    if (existsSync(join(ROOT, candidate, 'package.json'))) return candidate;
  }
  return undefined;
}

/**
 * The production dependencies electron-builder packs, with their own dependencies (installed
 * optional ones too), as package directories: what the studio process imports at run time.
 */
function productionPackages(): string[] {
  const found = new Set<string>();
  const visit = (deps: Record<string, string> | undefined, from: string) => {
    for (const name of Object.keys(deps ?? {})) {
      const dir = resolvePackage(name, from);
      if (!dir || found.has(dir) || !packed(`${dir}/package.json`)) continue;
      found.add(dir);
      const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
        optionalDependencies?: Record<string, string>;
      };
      visit({ ...manifest.dependencies, ...manifest.optionalDependencies }, dir);
    }
  };
  visit({ ...pkg.dependencies, ...pkg.optionalDependencies }, '.');
  return [...found].sort();
}
const packages = productionPackages();

/** The packed production dependencies' native binaries and wasm. */
const shipped = packages
  .flatMap((dir) => walk(dir).filter((f) => /\.(node|wasm)$/.test(f)))
  .filter(packed);

describe('electron-builder.yml', () => {
  it("passes electron-builder's own configuration check", async () => {
    const log = { isEnabled: false, add() {} };
    await validateConfiguration(config, log);
    // The check is real: an option electron-builder does not know is refused.
    const bogus = { ...config, linux: { target: ['AppImage'], bogus: true } };
    await assert.rejects(validateConfiguration(bogus, log), /configuration\.linux/);
  });

  it('builds AppImage and deb (Linux), NSIS (Windows), dmg (macOS) as Tandem', () => {
    assert.equal(config.productName, 'Tandem');
    assert.match(config.appId, /^[a-z]+(\.[a-z]+)+$/);
    assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
    assert.deepEqual(config.win.target, ['nsis']);
    assert.deepEqual(config.mac.target, ['dmg']);
  });

  it('starts the main bundle build.ts writes, the same one package.json names', () => {
    const built = relative(ROOT, join(SHELL_DIR, 'main.js'));
    assert.equal(config.extraMetadata.main, built);
    assert.equal(pkg.main, built);
  });

  it('packs the built outputs and the studio, not source maps', () => {
    for (const file of [
      'package.json',
      'dist/main/main.js',
      'dist/main/preload.cjs',
      'dist/renderer/index.html',
      'dist/renderer/assets/index-abc123.js',
      'bin/tandem.js',
      'src/cli/main.ts',
      'assets/models/panda-lift.xml',
      'assets/robots/ros2/panda.json',
      'native/build/Release/tandem_learner.node',
    ]) {
      assert.ok(packed(file), `${file} is not packed`);
    }
    assert.ok(!packed('dist/main/main.js.map'));
    assert.ok(!packed('test/run.js'));
    assert.ok(!packed('node_modules/three/build/three.module.js'));
    assert.ok(packed('node_modules/zod/package.json'));
  });

  it('keeps every file the studio process loads out of app.asar', () => {
    // bin/tandem.js and the TypeScript sources (tsx's ESM loader), package.json (their "type":
    // "module"), the assets, and the renderer the studio serves (found beside src).
    const app = [
      'bin/tandem.js',
      'package.json',
      ...walk('src'),
      ...walk('assets'),
      'dist/renderer/index.html',
      'dist/renderer/assets/index-abc123.js',
    ];
    assert.deepEqual(
      app.filter((f) => !outsideAsar(f)),
      [],
      'app files left inside app.asar',
    );

    // Every production dependency (minus the renderer-only ones) and what it depends on.
    const direct = Object.keys(pkg.dependencies);
    assert.deepEqual(
      direct.filter((name) => !packed(`node_modules/${name}/package.json`)),
      ['three', 'uplot', 'webxr-polyfill'],
    );
    for (const name of direct.filter((n) => !['three', 'uplot', 'webxr-polyfill'].includes(n))) {
      assert.ok(packages.includes(`node_modules/${name}`), `${name} is not packed`);
    }
    for (const dep of ['esbuild', 'bindings', '@tensorflow/tfjs-core']) {
      assert.ok(packages.includes(`node_modules/${dep}`), `${dep} (indirect) is not packed`);
    }
    const hidden = packages.flatMap((dir) =>
      walk(dir).filter((f) => !f.endsWith('.map') && !outsideAsar(f)),
    );
    assert.equal(
      hidden.length,
      0,
      `${hidden.length} dependency files left inside app.asar: ${hidden.slice(0, 5).join(', ')}`,
    );
  });

  it('keeps every native binary and wasm file of the production dependencies out of app.asar', () => {
    const want = [
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
    ];
    for (const file of want) assert.ok(shipped.includes(file), `${file} is not in node_modules`);
    const hidden = shipped.filter(
      (f) =>
        !outsideAsar(f) && !f.startsWith('node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/'),
    );
    assert.deepEqual(hidden, [], 'native or wasm files left inside app.asar');
  });

  it('the packaged studio runs on Electron as Node: native modules rebuilt for Electron', () => {
    // The studio child is Electron's binary with ELECTRON_RUN_AS_NODE=1 (src/main/shell.ts), so
    // the native modules must be built for Electron's ABI and the runAsNode fuse left on.
    assert.equal(config.npmRebuild, true);
    assert.notEqual(config.electronFuses?.runAsNode, false);
  });

  it('has no asarUnpack glob that matches nothing (and none without an archive)', () => {
    if (config.asar === false) assert.equal(config.asarUnpack, undefined);
    const files = [...walk('node_modules/better-sqlite3'), ...shipped];
    for (const glob of config.asarUnpack ?? []) {
      assert.ok(
        files.some((f) => minimatch(f, glob, { dot: true })),
        `${glob} matches no file`,
      );
    }
  });

  it('mujoco-js embeds its wasm in its JavaScript: nothing of it to unpack', () => {
    // If a release ships a .wasm file, it must stay out of app.asar (the test above says so).
    assert.deepEqual(
      walk('node_modules/mujoco-js').filter((f) => f.endsWith('.wasm')),
      [],
    );
    assert.ok(
      walk('node_modules/mujoco-js').includes('node_modules/mujoco-js/dist/mujoco_wasm.js'),
    );
  });

  it('npm run dist builds the renderer and the main bundle before electron-builder', () => {
    const steps = pkg.scripts.dist!.split('&&').map((s) => s.trim());
    assert.match(steps[0]!, /^vite build/);
    assert.equal(steps[1], 'node --import tsx src/main/build.ts');
    assert.equal(steps.at(-1), 'electron-builder');
  });

  const binary = electronBinary();
  it(
    'npm run rebuild:electron refuses, saying how to get Electron, where its binary is missing',
    {
      skip: 'path' in binary && `the Electron binary is installed (${binary.path})`,
    },
    () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'native/rebuild.ts'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(
        r.stderr,
        /^rebuild:electron: the Electron binary is not installed, so there is nothing to build for\. Install it with `npx install-electron`/,
      );
    },
  );
});
