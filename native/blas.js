// Which BLAS the native learner is built with, decided once for binding.gyp and native/build.js.
//
// TANDEM_NATIVE_BLAS picks it: `auto` (the default) takes OpenBLAS where pkg-config knows it
// (Debian: libopenblas-dev, whose openblas.pc follows the pthread/openmp alternative), Apple's
// Accelerate on macOS, else the portable kernel; `openblas`, `accelerate` or `portable` forces
// one (a forced one that is missing fails the build, saying why).
//
// binding.gyp runs `node blas.js variant|include_dirs|libraries` and reads stdout (a list is one
// item per line).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The pkg-config module: Debian, Fedora, Arch and Homebrew all name it openblas. */
export const OPENBLAS_PC = 'openblas';
const CHOICES = ['auto', 'openblas', 'accelerate', 'portable'];

/** @param {string[]} args @returns {string | undefined} pkg-config's stdout, trimmed; undefined on failure */
function pkgConfig(args, env) {
  const run = spawnSync(env.PKG_CONFIG || 'pkg-config', args, { encoding: 'utf8', env });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

/**
 * @typedef {{
 *   variant: 'openblas' | 'accelerate' | 'portable',
 *   why: string,
 *   version?: string,
 *   includeDirs: string[],
 *   libraries: string[],
 * }} BlasChoice
 */

/**
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {BlasChoice}
 */
export function detectBlas(env = process.env) {
  const asked = (env.TANDEM_NATIVE_BLAS || 'auto').toLowerCase();
  if (!CHOICES.includes(asked)) {
    throw new Error(`TANDEM_NATIVE_BLAS=${asked} is not one of ${CHOICES.join(', ')}`);
  }
  const portable = (why) => ({ variant: 'portable', why, includeDirs: [], libraries: [] });
  if (asked === 'portable') return portable('TANDEM_NATIVE_BLAS=portable');

  if (asked === 'accelerate' || (asked === 'auto' && process.platform === 'darwin')) {
    if (process.platform !== 'darwin') {
      throw new Error('TANDEM_NATIVE_BLAS=accelerate: Accelerate exists only on macOS');
    }
    return {
      variant: 'accelerate',
      why: asked === 'auto' ? 'macOS' : 'TANDEM_NATIVE_BLAS=accelerate',
      includeDirs: [],
      libraries: [],
    };
  }

  const version = pkgConfig(['--modversion', OPENBLAS_PC], env);
  if (version === undefined) {
    const why = `pkg-config finds no ${OPENBLAS_PC} (apt-get install -y libopenblas-dev pkg-config)`;
    if (asked === 'openblas') throw new Error(`TANDEM_NATIVE_BLAS=openblas: ${why}`);
    return portable(why);
  }
  const cflags = pkgConfig(['--cflags-only-I', OPENBLAS_PC], env) ?? '';
  const libs = pkgConfig(['--libs', OPENBLAS_PC], env) ?? '';
  return {
    variant: 'openblas',
    why: `pkg-config ${OPENBLAS_PC} ${version}`,
    version,
    includeDirs: cflags
      .split(/\s+/)
      .filter((f) => f.startsWith('-I'))
      .map((f) => f.slice(2)),
    libraries: libs.split(/\s+/).filter(Boolean),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const what = process.argv[2];
  try {
    const choice = detectBlas();
    if (what === 'variant') console.log(choice.variant);
    else if (what === 'include_dirs') console.log(choice.includeDirs.join('\n'));
    else if (what === 'libraries') console.log(choice.libraries.join('\n'));
    else throw new Error(`usage: node blas.js variant|include_dirs|libraries (got ${what})`);
  } catch (err) {
    console.error(`blas.js: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
