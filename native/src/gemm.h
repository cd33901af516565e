// Matrix products for the native learner, through the BLAS this addon was built with.
//
// sgemm: row-major single-precision GEMM,
//
//     C = alpha · op(A) · op(B) + beta · C
//
// where op(A) is M×K and op(B) is K×N, C is M×N; op(X) is X when trans is false, Xᵀ when true.
// All three matrices are row-major with leading dimensions (floats from one row to the next):
//   A is stored M×K (lda ≥ K) when !transA, K×M (lda ≥ M) when transA;
//   B is stored K×N (ldb ≥ N) when !transB, N×K (ldb ≥ K) when transB;
//   C is stored M×N (ldc ≥ N).
// beta == 0 sets C without reading it (NaN or garbage in C does not leak through); M == 0 or
// N == 0 does nothing; K == 0 or alpha == 0 only scales C by beta. C must not overlap A or B.
// Arguments are not checked (the callers size them; blas_exports.cc checks what JS passes).
// Safe to call from several threads at once, each with its own C.
//
// Which BLAS does the work is fixed at build time (native/binding.gyp, native/blas.js):
//   TANDEM_OPENBLAS    OpenBLAS's cblas_sgemm (found by pkg-config);
//   TANDEM_ACCELERATE  Apple's Accelerate (macOS);
//   neither            sgemm_portable below: cache-blocked, vectorised by the compiler, one thread.
#pragma once

namespace tandem {

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

/**
 * C = A·B + bias, bias [N] added to every row of C (M×N), A and B not transposed: C's rows are set
 * to bias, then sgemm adds the product with beta 1, so the BLAS makes no pass clearing C first.
 * Where the BLAS sums K in one block (it does for K up to a few hundred, the learner's widths),
 * each element is rounded exactly as in A·B, then + bias.
 */
void sgemm_bias(int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                const float* bias, float* C, int ldc);

/**
 * The portable kernel, the same contract as sgemm; compiled in every build (sgemm is this one
 * when there is no BLAS), so that it is tested and measured even where a BLAS is used. Single
 * threaded. Each calling thread allocates its packing buffers (about 0.6 MB) once, on its first
 * call; later calls allocate nothing.
 */
void sgemm_portable(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                    int lda, const float* B, int ldb, float beta, float* C, int ldc);

/**
 * The most threads one sgemm call may use (n < 1 counts as 1). Process-wide. OpenBLAS gets
 * exactly n (openblas_set_num_threads); the portable kernel always uses one, which is never more
 * than asked for; Accelerate cannot be told at run time (see threads()). The addon starts at 1.
 */
void set_threads(int n);

/**
 * The threads one sgemm call may use now: OpenBLAS's own count; 1 for the portable kernel; for
 * Accelerate the number last set (Accelerate itself is bounded only by VECLIB_MAXIMUM_THREADS,
 * read when it loads).
 */
int threads();

/** "openblas 0.3.21" (the library's own version, read at run time), "accelerate" or "portable". */
const char* blas_name();

/** OpenBLAS's kernel for this CPU (openblas_get_corename(), e.g. "Haswell"); "-" otherwise. */
const char* blas_kernel();

/** How the BLAS runs threads: "pthread", "openmp" or "sequential" (OpenBLAS builds), "accelerate",
 * or "single-threaded" (the portable kernel). */
const char* blas_threading();

}  // namespace tandem

// The same functions without the namespace, for code outside namespace tandem.
using tandem::blas_kernel;
using tandem::blas_name;
using tandem::blas_threading;
using tandem::set_threads;
using tandem::sgemm;
using tandem::sgemm_bias;
using tandem::threads;
