import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { probeRcl, ROS2_FIX } from '../../robots/ros2/index.ts';
import { defaultDataDir, defaultDbPath } from '../../store/index.ts';
import { installedElectron, nativeModuleProblem } from '../../util/native.ts';
import { type Command, parse } from '../args.ts';
import { electronBinary } from './start.ts';

const usage = `
Usage: tandem doctor [--json]

Reports every part Tandem uses or can use, one line each: Node.js, the learner's TensorFlow.js
backend (and why the better ones are not used), the native learner addon (its BLAS and threads),
better-sqlite3 and SQLite, ROS 2 (rclnodejs), the Electron binary, the data folder, Chromium for
the end-to-end tests. Optional parts that are missing say how to get them. Exits 1 when a part
the studio cannot run without fails.
--json prints the same facts as one JSON object.
`;

/** One part's state: `ok`, `absent` (optional, not here), or `problem` (needed, and failing). */
export interface DoctorPart {
  part: string;
  status: 'ok' | 'absent' | 'problem';
  summary: string;
  fix?: string;
  facts: Record<string, unknown>;
}

const require = createRequire(import.meta.url);

interface PackageJson {
  name?: string;
  version?: string;
  engines?: { node?: string };
}

/** A package's package.json, found from its entry point (exports may hide it); none: not installed. */
function packageJson(name: string): PackageJson | undefined {
  try {
    let dir = dirname(require.resolve(name));
    while (dir !== dirname(dir)) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
        if (pkg.name === name) return pkg;
      }
      dir = dirname(dir);
    }
  } catch {
    // not installed
  }
  return undefined;
}

const packageVersion = (name: string): string | undefined => packageJson(name)?.version;

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function nodePart(): DoctorPart {
  const { node, modules } = process.versions;
  return {
    part: 'node',
    status: 'ok',
    summary: `Node.js ${node} (NODE_MODULE_VERSION ${modules}, ${process.platform} ${process.arch})`,
    facts: { version: node, abi: Number(modules), platform: process.platform, arch: process.arch },
  };
}

async function backendParts(): Promise<DoctorPart[]> {
  const { chooseBackend, describeBackend } = await import('../../learner/backend.ts');
  const tf = await import('@tensorflow/tfjs');
  const tfjs = tf.version.tfjs;
  const parts: DoctorPart[] = [];
  try {
    const choice = await chooseBackend();
    parts.push({
      part: 'learner backend',
      status: choice.name === 'cpu' ? 'problem' : 'ok',
      // The line starts with the part's name already.
      summary: describeBackend(choice).replace(/^learner backend /, ''),
      facts: { backend: choice.name, tfjs: choice.tfjs, skipped: choice.skipped },
    });
  } catch (err) {
    parts.push({
      part: 'learner backend',
      status: 'problem',
      summary: firstLine(err),
      facts: { backend: null },
    });
  }
  const wasm = packageVersion('@tensorflow/tfjs-backend-wasm');
  const tfjsNode = packageVersion('@tensorflow/tfjs-node');
  const tfjsNodeGpu = packageVersion('@tensorflow/tfjs-node-gpu');
  parts.push({
    part: 'tfjs',
    status: 'ok',
    summary:
      `@tensorflow/tfjs ${tfjs}; wasm backend ${wasm ?? 'missing'}; ` +
      `tfjs-node ${tfjsNode ?? 'absent'}; tfjs-node-gpu ${tfjsNodeGpu ?? 'absent'}`,
    facts: {
      tfjs,
      wasm: wasm ?? null,
      tfjsNode: tfjsNode ?? null,
      tfjsNodeGpu: tfjsNodeGpu ?? null,
    },
  });
  return parts;
}

async function nativeLearnerPart(): Promise<DoctorPart> {
  const { loadNativeLearner, nativeFix } = await import('../../learner/native-addon.ts');
  const load = loadNativeLearner();
  if (!load.ok) {
    return {
      part: 'native learner',
      status: 'absent',
      // The reason ends with its own fix; the fix goes in the fix column.
      summary: `not available: ${load.reason.replace(/\. Fix: .*$/, '')}; the learner runs on tfjs`,
      fix: /\. Fix: (.*)$/.exec(load.reason)?.[1] ?? nativeFix(),
      facts: { built: false, path: load.path, reason: load.reason },
    };
  }
  const { blas, kernel, threads, threading } = load.info;
  return {
    part: 'native learner',
    status: 'ok',
    summary:
      `built and loads: ${blas}` +
      `${kernel === '-' ? '' : `, kernel ${kernel}`}, ${threading}; ` +
      `${threads} thread${threads === 1 ? '' : 's'} per product`,
    facts: { built: true, path: load.path, blas, kernel, threads, threading },
  };
}

async function sqlitePart(): Promise<DoctorPart> {
  const version = packageVersion('better-sqlite3');
  const abi = Number(process.versions.modules);
  try {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(':memory:');
    const sqlite = db.prepare('select sqlite_version()').pluck().get() as string;
    db.close();
    return {
      part: 'better-sqlite3',
      status: 'ok',
      summary: `${version}, SQLite ${sqlite}; its binary loads (built for NODE_MODULE_VERSION ${abi})`,
      facts: { version, sqlite, loads: true, abi },
    };
  } catch (err) {
    const abiProblem = nativeModuleProblem(err);
    return {
      part: 'better-sqlite3',
      status: 'problem',
      summary: abiProblem ?? `${version ?? 'missing'}: ${firstLine(err)}`,
      ...(abiProblem ? {} : { fix: 'npm rebuild better-sqlite3' }),
      facts: { version: version ?? null, sqlite: null, loads: false, error: firstLine(err) },
    };
  }
}

async function ros2Part(): Promise<DoctorPart> {
  const distro = process.env.ROS_DISTRO || undefined;
  const probe = await probeRcl();
  const where = distro ? `ROS_DISTRO=${distro}` : 'ROS_DISTRO unset (no ROS 2 setup sourced)';
  if (probe.loaded) {
    const version = packageVersion('rclnodejs');
    return {
      part: 'ros2',
      status: 'ok',
      summary: `rclnodejs ${version ?? '?'} loads; ${where}`,
      facts: { rclnodejs: true, version: version ?? null, distro: distro ?? null },
    };
  }
  return {
    part: 'ros2',
    status: 'absent',
    summary: `not available: ${probe.reason}; ${where}`,
    fix: ROS2_FIX,
    facts: { rclnodejs: false, reason: probe.reason, distro: distro ?? null },
  };
}

function electronPart(): DoctorPart {
  const binary = electronBinary();
  const installed = installedElectron();
  const pkg = installed
    ? `electron ${installed.version} (NODE_MODULE_VERSION ${installed.abi})`
    : 'electron package not installed';
  const facts = {
    binary: 'path' in binary ? binary.path : null,
    version: installed?.version ?? null,
    abi: installed?.abi ?? null,
  };
  if ('path' in binary) {
    return { part: 'electron', status: 'ok', summary: `${pkg}: binary ${binary.path}`, facts };
  }
  // electron's own message ("failed to install correctly…") misleads when the deny was deliberate.
  const why = /failed to install correctly/.test(binary.missing)
    ? 'its download was skipped at install'
    : binary.missing;
  return {
    part: 'electron',
    status: 'absent',
    summary: `${pkg}: binary missing (${why}); tandem start uses the browser host`,
    fix: 'npx install-electron (or npm install electron without the allowScripts deny in package.json)',
    facts: { ...facts, missing: binary.missing },
  };
}

function dataPart(): DoctorPart {
  const dir = defaultDataDir();
  const db = defaultDbPath();
  // The folder is made on first use: writable means its nearest existing ancestor is.
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  let writable = true;
  try {
    accessSync(probe, constants.W_OK);
  } catch {
    writable = false;
  }
  const size = (path: string) => statSync(path, { throwIfNoEntry: false })?.size;
  const dbSize = size(db);
  const exists = dbSize !== undefined;
  const bytes = (dbSize ?? 0) + (size(`${db}-wal`) ?? 0);
  return {
    part: 'data folder',
    status: writable ? 'ok' : 'problem',
    summary:
      `${dir} (${existsSync(dir) ? '' : 'not created yet, '}${writable ? 'writable' : 'NOT writable'}); ` +
      (exists ? `tandem.db ${(bytes / 1e6).toFixed(1)} MB` : 'no tandem.db yet'),
    ...(writable ? {} : { fix: 'set TANDEM_HOME to a folder you can write' }),
    facts: { dir, writable, db, dbExists: exists, dbBytes: bytes },
  };
}

function chromiumPart(): DoctorPart {
  const path = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    return {
      part: 'chromium',
      status: 'absent',
      summary: `${path} missing (needed only by the end-to-end tests)`,
      fix: 'bash .ci/chromium in the repository (apt-get install -y chromium, as root or with sudo)',
      facts: { path, version: null },
    };
  }
  const run = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const version = run.status === 0 ? run.stdout.trim() : undefined;
  return {
    part: 'chromium',
    status: 'ok',
    summary: `${path}${version ? `: ${version}` : ''} (for the end-to-end tests)`,
    facts: { path, version: version ?? null },
  };
}

function rebuildPart(): DoctorPart {
  const pkg = packageJson('@electron/rebuild');
  const version = pkg?.version;
  const engines = pkg?.engines?.node;
  return {
    part: 'electron rebuild',
    status: version ? 'ok' : 'absent',
    summary: version
      ? `@electron/rebuild ${version}${engines ? ` (wants Node ${engines})` : ''}: ` +
        'npm run rebuild:electron builds the native modules for Electron'
      : '@electron/rebuild not installed (needed only by npm run rebuild:electron)',
    ...(version ? {} : { fix: 'npm install --save-dev @electron/rebuild (v4 needs Node ≥ 22.12)' }),
    facts: { version: version ?? null, engines: engines ?? null },
  };
}

/** Every part, in the order printed. */
export async function diagnose(): Promise<DoctorPart[]> {
  return [
    nodePart(),
    ...(await backendParts()),
    await nativeLearnerPart(),
    await sqlitePart(),
    await ros2Part(),
    electronPart(),
    rebuildPart(),
    dataPart(),
    chromiumPart(),
  ];
}

export const doctor: Command = {
  name: 'doctor',
  summary:
    'report Node, learner backend, native learner, SQLite, ROS 2, Electron, data folder (--json)',
  usage,
  async run(argv) {
    const args = parse(argv, { json: { type: 'boolean' } }, usage);
    if (!args) return;
    const parts = await diagnose();
    if (args.values.json) {
      console.log(JSON.stringify({ parts }, null, 2));
    } else {
      const width = Math.max(...parts.map((p) => p.part.length));
      const mark = { ok: 'ok     ', absent: 'absent ', problem: 'PROBLEM' } as const;
      for (const p of parts) {
        console.log(
          `${p.part.padEnd(width)}  ${mark[p.status]}  ${p.summary}${p.fix ? ` — fix: ${p.fix}` : ''}`,
        );
      }
    }
    if (parts.some((p) => p.status === 'problem')) process.exitCode = 1;
  },
};
