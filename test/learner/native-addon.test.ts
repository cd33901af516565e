// The native learner addon's BLAS layer (native/src/gemm.cc, blas_exports.cc) against plain
// JavaScript, its loader (src/learner/native-addon.ts) and its build script's soft failure
// (native/build.js). CI builds the addon at `npm ci` (.ci/run installs the compiler and OpenBLAS
// first), so there it must be built; elsewhere the addon's tests skip, saying why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  loadNativeLearner,
  type NativeAddon,
  nativeFix,
  type Sgemm,
} from '../../src/learner/native-addon.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const load = loadNativeLearner();
const ci = Boolean(process.env.CI);
const skip = load.ok || ci ? false : `the native learner is not built here: ${load.reason}`;
const addon = (): NativeAddon => {
  assert.ok(load.ok, `the native learner must be built on CI: ${load.ok || load.reason}`);
  return load.addon;
};

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface Case {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  /** Extra floats per row beyond the minimum leading dimension. */
  pad: number;
}

/** Runs `gemm` on one case and checks every element against a float64 triple loop. */
function check(gemm: Sgemm, c: Case, seed: number): void {
  const { transA, transB, M, N, K, alpha, beta, pad } = c;
  const lda = (transA ? M : K) + pad;
  const ldb = (transB ? K : N) + pad;
  const ldc = N + pad;
  const A = values((transA ? K : M) * lda, seed);
  const B = values((transB ? N : K) * ldb, seed + 1);
  const C0 = values(M * ldc, seed + 2);
  const C = C0.slice();
  gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  const a = (i: number, k: number) => (transA ? A[k * lda + i]! : A[i * lda + k]!);
  const b = (k: number, j: number) => (transB ? B[j * ldb + k]! : B[k * ldb + j]!);
  let worst = 0;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        sum += a(i, k) * b(k, j);
        abs += Math.abs(a(i, k) * b(k, j));
      }
      const c0 = C0[i * ldc + j]!;
      const want = alpha * sum + beta * c0;
      // float32 rounding of a K-term dot product and the two scalings, with room to spare.
      const tol = (K + 4) * 2 ** -23 * (Math.abs(alpha) * abs + Math.abs(beta * c0)) + 1e-30;
      const err = Math.abs(C[i * ldc + j]! - want);
      if (!(err <= tol)) {
        assert.fail(
          `C[${i}, ${j}] = ${C[i * ldc + j]} but ${want} (±${tol}) in ${JSON.stringify(c)}`,
        );
      }
      worst = Math.max(worst, err / (tol || 1));
    }
    // The padding between rows is left alone.
    for (let j = N; j < ldc; j++) assert.equal(C[i * ldc + j], C0[i * ldc + j]);
  }
  assert.ok(worst <= 1);
}

const combos = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

function checkAll(gemm: Sgemm): void {
  let seed = 1;
  for (const [transA, transB] of combos) {
    for (const [M, N, K] of [
      [37, 53, 19],
      [256, 256, 256],
      [1, 1, 1],
      [5, 130, 300],
      [129, 3, 513],
    ] as const) {
      check(gemm, { transA, transB, M, N, K, alpha: 0.75, beta: -0.5, pad: 0 }, seed++);
    }
    check(gemm, { transA, transB, M: 37, N: 53, K: 19, alpha: -1.25, beta: 1, pad: 3 }, seed++);
    check(gemm, { transA, transB, M: 9, N: 17, K: 33, alpha: 1, beta: 0, pad: 1 }, seed++);
  }
}

describe('native learner addon: BLAS layer', () => {
  it('is built (required on CI)', { skip }, () => {
    const { info } = load as Extract<typeof load, { ok: true }>;
    addon();
    assert.equal(typeof info.blas, 'string');
  });

  it(
    'sgemm agrees with a float64 triple loop: every transpose, odd sizes, alpha, beta, padding',
    {
      skip,
    },
    () => {
      checkAll(addon().sgemm);
    },
  );

  it('the portable kernel agrees too (compiled into every build)', { skip }, () => {
    checkAll(addon().sgemmPortable);
  });

  it('beta = 0 ignores what C held (NaN included); K = 0 only scales C', { skip }, () => {
    for (const gemm of [addon().sgemm, addon().sgemmPortable]) {
      const A = values(6, 7);
      const B = values(6, 8);
      const C = new Float32Array(4).fill(Number.NaN);
      gemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
      assert.ok(C.every(Number.isFinite), String(C));
      const D = Float32Array.of(1, 2, 3, 4);
      gemm(false, false, 2, 2, 0, 1, A, 1, B, 2, 0.5, D, 2);
      assert.deepEqual([...D], [0.5, 1, 1.5, 2]);
    }
  });

  it('refuses calls that would read or write outside the arrays', { skip }, () => {
    const { sgemm } = addon();
    const A = new Float32Array(6);
    const B = new Float32Array(6);
    const C = new Float32Array(4);
    assert.throws(() => sgemm(false, false, 2, 2, 4, 1, A, 4, B, 2, 0, C, 2), RangeError);
    assert.throws(() => sgemm(false, false, 2, 2, 3, 1, A, 2, B, 2, 0, C, 2), /ldA is 2/);
    assert.throws(() => sgemm(false, false, 2, 3, 3, 1, A, 3, B, 2, 0, C, 2), RangeError);
    assert.throws(() => sgemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, A, 2), /shares memory/);
    const F64 = new Float64Array(6) as unknown as Float32Array;
    assert.throws(() => sgemm(false, false, 2, 2, 3, 1, F64, 3, B, 2, 0, C, 2), TypeError);
    assert.throws(() => sgemm(false, false, -1, 2, 3, 1, A, 3, B, 2, 0, C, 2), RangeError);
  });

  it('reports the BLAS this machine has: OpenBLAS where pkg-config finds it', { skip }, () => {
    // The same decision the build made (native/blas.js, honouring TANDEM_NATIVE_BLAS).
    const variant = spawnSync(process.execPath, ['native/blas.js', 'variant'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).stdout.trim();
    const info = addon().blasInfo();
    const hint = `built with ${info.blas}; native/blas.js says ${variant}: npm run build:native`;
    if (variant === 'openblas') {
      const version = spawnSync('pkg-config', ['--modversion', 'openblas'], { encoding: 'utf8' });
      assert.equal(info.blas, `openblas ${version.stdout.trim()}`, hint);
      assert.notEqual(info.kernel, '-');
      assert.match(info.threading, /^(pthread|openmp|sequential)$/);
    } else if (variant === 'portable') {
      assert.deepEqual(
        { ...info, threads: 1 },
        {
          blas: 'portable',
          kernel: '-',
          threads: 1,
          threading: 'single-threaded',
        },
      );
    } else {
      assert.equal(info.blas, variant, hint);
    }
  });

  it('threads: one at load, never more than asked for', { skip }, () => {
    const a = addon();
    try {
      assert.equal(a.setThreads(1), 1);
      assert.equal(a.blasInfo().threads, 1);
      const two = a.setThreads(2);
      assert.ok(two >= 1 && two <= 2, `asked for 2, got ${two}`);
      if (a.blasInfo().blas.startsWith('openblas')) assert.equal(two, 2);
      if (a.blasInfo().blas === 'portable') assert.equal(two, 1);
      assert.throws(() => a.setThreads(0), RangeError);
      assert.throws(() => a.setThreads(1.5), RangeError);
    } finally {
      a.setThreads(1);
    }
  });
});

describe('native learner loader and build script', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tandem-native-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('says the addon is not built, and how to fix it, when the file is absent', () => {
    const path = join(tmp, 'absent', 'build', 'Release', 'tandem_learner.node');
    const r = loadNativeLearner({ path });
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.equal(r.path, path);
    assert.equal(r.reason, `${path} is not built. Fix: ${nativeFix()}`);
  });

  it("adds the last build's failure when native/build.js recorded one", () => {
    const build = join(tmp, 'failed', 'build');
    mkdirSync(build, { recursive: true });
    writeFileSync(
      join(build, 'build-status.json'),
      JSON.stringify({ ok: false, reason: 'no C++ compiler (g++ not found)' }),
    );
    const r = loadNativeLearner({ path: join(build, 'Release', 'tandem_learner.node') });
    assert.ok(!r.ok);
    assert.match(
      r.reason,
      /is not built; its last build failed: no C\+\+ compiler \(g\+\+ not found\)\. Fix: /,
    );
  });

  it('says a file that is not a loadable addon does not load, and how to rebuild', () => {
    const path = join(tmp, 'broken.node');
    writeFileSync(path, 'not an ELF file');
    const r = loadNativeLearner({ path });
    assert.ok(!r.ok);
    assert.match(r.reason, /broken\.node does not load \(.+\)\. Fix: npm run build:native/);
  });

  it('the install build never fails the install: one line with the reason and the fix, exit 0', () => {
    // The build script alone, as after `npm ci --omit=dev`: no node-gyp, no node-addon-api. A
    // binary from an earlier build is there; a build that fails must not leave it behind.
    const native = join(tmp, 'project', 'native');
    mkdirSync(join(native, 'build', 'Release'), { recursive: true });
    for (const file of ['build.js', 'blas.js'])
      copyFileSync(join(ROOT, 'native', file), join(native, file));
    writeFileSync(join(tmp, 'project', 'package.json'), '{ "type": "module" }');
    const addon = join(native, 'build', 'Release', 'tandem_learner.node');
    const env = { ...process.env };
    delete env.npm_config_node_gyp; // npm's own node-gyp, which `npm test` would lend
    const run = (soft: boolean) => {
      writeFileSync(addon, 'an old build');
      return spawnSync(process.execPath, ['native/build.js', ...(soft ? ['--soft'] : [])], {
        cwd: join(tmp, 'project'),
        encoding: 'utf8',
        env,
      });
    };
    const reason =
      'node-gyp is not installed: a devDependency, npm ci without --omit=dev installs it';
    const soft = run(true);
    assert.equal(soft.status, 0, soft.stderr);
    assert.equal(
      soft.stdout,
      `tandem: the native learner was not built (${reason}); the learner runs on wasm. ` +
        `Fix: ${nativeFix()}\n`,
    );
    assert.equal(existsSync(addon), false);
    const status = JSON.parse(readFileSync(join(native, 'build', 'build-status.json'), 'utf8'));
    assert.deepEqual({ ...status, at: undefined }, { ok: false, reason, at: undefined });
    // The loader then says why.
    const load = loadNativeLearner({ path: addon });
    assert.ok(!load.ok);
    assert.equal(
      load.reason,
      `${addon} is not built; its last build failed: ${reason}. Fix: ${nativeFix()}`,
    );

    // npm run build:native fails for real.
    const hard = run(false);
    assert.equal(hard.status, 1);
    assert.equal(
      hard.stderr,
      `build:native: the native learner was not built (${reason}). Fix: ${nativeFix()}\n`,
    );
  });
});
