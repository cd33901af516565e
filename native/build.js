// Builds the native learner addon, native/build/Release/tandem_learner.node, with node-gyp
// against this Node's own headers.
//
//   node native/build.js --soft   package.json's `install` script (`npm ci`, `npm install`,
//                                 `npm rebuild`): whatever goes wrong, one line saying what and how
//                                 to fix it, and exit 0. The install never fails for this addon:
//                                 without it the learner runs on wasm.
//   node native/build.js          `npm run build:native`: the same build, its full output shown,
//                                 exit 1 on failure.
//
// Either way it first removes the old binary (node-gyp would too), so that a failed build never
// leaves one built from other sources behind, and it writes the outcome to
// native/build/build-status.json, which src/learner/native-addon.ts reads to say why the addon is
// missing.
//
// TANDEM_NATIVE_BLAS=auto|openblas|accelerate|portable picks the BLAS (native/blas.js).
//
// Plain JavaScript, not TypeScript: it must run at install with nothing but Node.
//
// The addon uses Node-API only, whose ABI is the same in every Node version and in Electron: the
// one binary built here also loads in Electron, so `npm run rebuild:electron` leaves it alone.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectBlas } from './blas.js';

const NATIVE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(NATIVE);
const BUILD = join(NATIVE, 'build');
const ADDON = join(BUILD, 'Release', 'tandem_learner.node');
const LOG = join(BUILD, 'build.log');

/** What to do when it fails: src/learner/native-addon.ts's nativeFix() says the same (tested). */
const FIX = {
  linux:
    'apt-get install -y g++ make python3 libopenblas-dev pkg-config, then npm run build:native',
  darwin: 'xcode-select --install (and python3), then npm run build:native',
  win32: 'install Python 3 and Visual Studio Build Tools (C++), then npm run build:native',
};
const fix = FIX[process.platform] ?? FIX.linux;

const soft = process.argv.includes('--soft');
const STATUS = join(BUILD, 'build-status.json');
const rel = (path) => relative(process.cwd(), path) || path;

function writeStatus(status) {
  try {
    mkdirSync(dirname(STATUS), { recursive: true });
    writeFileSync(
      STATUS,
      `${JSON.stringify({ ...status, at: new Date().toISOString() }, null, 2)}\n`,
    );
  } catch {
    // the status is a courtesy for the loader's message
  }
}

/** @param {string} reason @returns {never} */
function giveUp(reason) {
  writeStatus({ ok: false, reason });
  if (soft) {
    console.log(
      `tandem: the native learner was not built (${reason}); the learner runs on wasm. Fix: ${fix}`,
    );
    process.exit(0);
  }
  console.error(`build:native: the native learner was not built (${reason}). Fix: ${fix}`);
  process.exit(1);
}

/** The headers of the Node running this: npm's nodedir setting, else this Node's install prefix. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const bin = dirname(process.execPath);
  return [dirname(bin), bin].find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

/** Why a node-gyp run failed, in a few words, from its output. */
function failureReason(log, code) {
  const lines = log.split('\n').map((l) => l.trim());
  const match = (re) => lines.map((l) => re.exec(l)).find(Boolean);
  if (/Could not find any Python|gyp ERR! find Python/.test(log)) return 'python3 is missing';
  const make = match(/gyp ERR! stack Error: not found: (\S*make)$/);
  if (make) return `make is missing (not found: ${make[1]})`;
  // gyp runs the compiler at configure; make runs it per file.
  const cxx =
    match(/FileNotFoundError: .*No such file or directory: '([^']+)'/) ??
    match(
      /(\S*(?:g\+\+|c\+\+|clang\+\+|cc1plus)): (?:not found|No such file or directory|command not found)/,
    );
  if (cxx) return `no C++ compiler (${cxx[1]} not found)`;
  if (/(cblas|openblas_config)\.h: No such file/.test(log)) {
    return 'pkg-config lists openblas but its headers are missing';
  }
  const error =
    match(/^(?!gyp ).*\berror\b[:\s].*/i)?.[0] ?? match(/^gyp ERR! stack (Error: .*)/)?.[1];
  return error ? `node-gyp failed: ${error}` : `node-gyp exited with ${code}`;
}

function main() {
  rmSync(ADDON, { force: true });
  rmSync(STATUS, { force: true });
  const require = createRequire(join(ROOT, 'package.json'));
  let gyp;
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm sets npm_config_node_gyp to its own node-gyp in lifecycle scripts (npm ci --omit=dev).
    gyp = process.env.npm_config_node_gyp;
  }
  if (!gyp || !existsSync(gyp))
    giveUp('node-gyp is not installed: a devDependency, npm ci without --omit=dev installs it');
  try {
    require.resolve('node-addon-api');
  } catch {
    giveUp(
      'node-addon-api is not installed: a devDependency, npm ci without --omit=dev installs it',
    );
  }

  let blas;
  try {
    blas = detectBlas();
  } catch (err) {
    giveUp(err instanceof Error ? err.message : String(err));
  }
  const dir = nodeDir();
  console.log(
    `tandem: building the native learner (${rel(ADDON)}) with ` +
      `${blas.variant === 'portable' ? 'the portable kernel' : blas.variant} (${blas.why}); ` +
      `Node headers ${dir ?? 'downloaded by node-gyp'}`,
  );

  const args = [gyp, 'rebuild', '--release', `--directory=${NATIVE}`];
  if (dir) args.push(`--nodedir=${dir}`);
  const run = spawnSync(process.execPath, args, {
    cwd: NATIVE,
    encoding: 'utf8',
    stdio: soft ? 'pipe' : 'inherit',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 20 * 60_000,
  });
  const log = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (soft) {
    try {
      mkdirSync(BUILD, { recursive: true });
      writeFileSync(LOG, log);
    } catch {
      // no log, still the reason
    }
  }
  const where = soft ? `; log: ${rel(LOG)}` : '';
  if (run.error) giveUp(`node-gyp could not run: ${run.error.message}${where}`);
  if (run.status !== 0) giveUp(`${failureReason(log, run.status)}${where}`);
  if (!existsSync(ADDON)) giveUp(`node-gyp succeeded but ${rel(ADDON)} is missing${where}`);

  // Load it in a separate process: a binary that does not load (a missing shared library) must
  // not take this one down.
  const probe = spawnSync(
    process.execPath,
    ['-e', `console.log(JSON.stringify(require(${JSON.stringify(ADDON)}).blasInfo()))`],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || '')
      .split('\n')
      .find((l) => /Error/.test(l));
    giveUp(`it was built but does not load: ${why?.trim() ?? `exit ${probe.status}`}`);
  }
  const info = JSON.parse(probe.stdout.trim().split('\n').pop());
  writeStatus({ ok: true, ...info });
  console.log(
    `tandem: native learner built: ${info.blas}, kernel ${info.kernel}, ${info.threading}` +
      ` (${rel(ADDON)})`,
  );
}

try {
  main();
} catch (err) {
  // Anything unforeseen is still one line, and in --soft mode still exit 0.
  giveUp(`unexpected: ${err instanceof Error ? err.message : String(err)}`);
}
