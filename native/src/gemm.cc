// sgemm through the BLAS chosen at build time, and the portable kernel (the contract: gemm.h).
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#if defined(TANDEM_OPENBLAS)
#include <cblas.h>
#elif defined(TANDEM_ACCELERATE)
#include <Accelerate/Accelerate.h>
#endif

namespace tandem {
namespace {

// ---- The portable kernel ----------------------------------------------------------------------
//
// Goto-style blocking: a KC×NC slice of op(B) is packed into NR-column panels (it stays in L2/L3),
// an MC×KC block of op(A), times alpha, into MR-row panels (L2), and an MR×NR micro-kernel runs
// over one A panel and one B panel (L1), its accumulators in registers. Packing turns every
// transpose combination into the same contiguous layout; edges are padded with zeros, so the
// micro-kernel always runs full size and only the store is trimmed. The micro-kernel is plain
// loops of fixed trip count that the compiler unrolls and vectorises at -O3 with the target's
// baseline vector unit (SSE2 on x86-64, NEON on arm64; no -march). 4×8 keeps 8 accumulator
// registers of 4 floats plus the B row and the broadcast A value within x86-64's 16: larger
// tiles spill and run 3-5× slower there. The products are summed in k order (no
// reassociation, no -ffast-math), so the result is the float32 dot product to rounding.
constexpr int kMR = 4;
constexpr int kNR = 8;
constexpr int kKC = 256;
constexpr int kMC = 128;  // a multiple of kMR
constexpr int kNC = 512;  // a multiple of kNR

struct PackBuffers {
  std::vector<float> a = std::vector<float>(static_cast<size_t>(kMC) * kKC);
  std::vector<float> b = std::vector<float>(static_cast<size_t>(kKC) * kNC);
};

PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// op(A)[i0 .. i0+mc, k0 .. k0+kc] · alpha, as MR-row panels: panel p holds, for each k, its MR
// rows' values contiguously.
void pack_a(bool trans, const float* A, int lda, int i0, int mc, int k0, int kc, float alpha,
            float* dst) {
  for (int p = 0; p < mc; p += kMR) {
    const int mr = std::min(kMR, mc - p);
    for (int k = 0; k < kc; ++k) {
      const size_t kk = static_cast<size_t>(k0 + k);
      for (int r = 0; r < kMR; ++r) {
        float v = 0.0f;
        if (r < mr) {
          const size_t i = static_cast<size_t>(i0 + p + r);
          v = trans ? A[kk * lda + i] : A[i * lda + kk];
        }
        *dst++ = alpha * v;
      }
    }
  }
}

// op(B)[k0 .. k0+kc, j0 .. j0+nc] as NR-column panels: panel q holds, for each k, its NR columns'
// values contiguously.
void pack_b(bool trans, const float* B, int ldb, int k0, int kc, int j0, int nc, float* dst) {
  for (int q = 0; q < nc; q += kNR) {
    const int nr = std::min(kNR, nc - q);
    for (int k = 0; k < kc; ++k) {
      const size_t kk = static_cast<size_t>(k0 + k);
      for (int c = 0; c < kNR; ++c) {
        float v = 0.0f;
        if (c < nr) {
          const size_t j = static_cast<size_t>(j0 + q + c);
          v = trans ? B[j * ldb + kk] : B[kk * ldb + j];
        }
        *dst++ = v;
      }
    }
  }
}

// C[0..mr, 0..nr] += (A panel) · (B panel) over kc.
inline void micro_kernel(int kc, const float* __restrict a, const float* __restrict b,
                         float* __restrict C, int ldc, int mr, int nr) {
  float acc[kMR][kNR] = {};
  for (int k = 0; k < kc; ++k) {
    const float* ak = a + static_cast<size_t>(k) * kMR;
    const float* bk = b + static_cast<size_t>(k) * kNR;
    for (int r = 0; r < kMR; ++r) {
      const float av = ak[r];
      for (int c = 0; c < kNR; ++c) acc[r][c] += av * bk[c];
    }
  }
  if (mr == kMR && nr == kNR) {
    for (int r = 0; r < kMR; ++r) {
      float* row = C + static_cast<size_t>(r) * ldc;
      for (int c = 0; c < kNR; ++c) row[c] += acc[r][c];
    }
  } else {
    for (int r = 0; r < mr; ++r) {
      float* row = C + static_cast<size_t>(r) * ldc;
      for (int c = 0; c < nr; ++c) row[c] += acc[r][c];
    }
  }
}

// C = beta · C, where beta == 0 writes zeros without reading C.
void scale_c(int M, int N, float beta, float* C, int ldc) {
  if (beta == 1.0f) return;
  for (int i = 0; i < M; ++i) {
    float* row = C + static_cast<size_t>(i) * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + N, 0.0f);
    } else {
      for (int j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}

// ---- Threads ----------------------------------------------------------------------------------

std::atomic<int> g_threads{1};

#if defined(TANDEM_OPENBLAS)
// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64" -> "openblas 0.3.21".
std::string openblas_name() {
  const char* config = openblas_get_config();
  std::string text = config ? config : "";
  const size_t start = text.find_first_not_of(' ');
  if (start == std::string::npos) return "openblas";
  text = text.substr(start);
  const size_t word = text.find(' ');
  if (word == std::string::npos) return "openblas";
  const size_t end = text.find(' ', word + 1);
  return "openblas " + text.substr(word + 1, end == std::string::npos ? end : end - word - 1);
}
#endif

// The addon starts with one thread per product, whatever OPENBLAS_NUM_THREADS or the core count
// say: the learner shares the machine with the control loop. set_threads raises it.
struct StartSingleThreaded {
  StartSingleThreaded() { set_threads(1); }
};
const StartSingleThreaded start_single_threaded;

}  // namespace

void sgemm_portable(bool transA, bool transB, int M, int N, int K, float alpha, const float* A,
                    int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  scale_c(M, N, beta, C, ldc);
  if (K <= 0 || alpha == 0.0f) return;
  PackBuffers& buffers = pack_buffers();
  float* pa = buffers.a.data();
  float* pb = buffers.b.data();
  for (int jc = 0; jc < N; jc += kNC) {
    const int nc = std::min(kNC, N - jc);
    for (int pc = 0; pc < K; pc += kKC) {
      const int kc = std::min(kKC, K - pc);
      pack_b(transB, B, ldb, pc, kc, jc, nc, pb);
      for (int ic = 0; ic < M; ic += kMC) {
        const int mc = std::min(kMC, M - ic);
        pack_a(transA, A, lda, ic, mc, pc, kc, alpha, pa);
        for (int jr = 0; jr < nc; jr += kNR) {
          const float* bp = pb + static_cast<size_t>(jr) * kc;
          for (int ir = 0; ir < mc; ir += kMR) {
            micro_kernel(kc, pa + static_cast<size_t>(ir) * kc, bp,
                         C + static_cast<size_t>(ic + ir) * ldc + jc + jr, ldc,
                         std::min(kMR, mc - ir), std::min(kNR, nc - jr));
          }
        }
      }
    }
  }
}

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
#if defined(TANDEM_OPENBLAS) || defined(TANDEM_ACCELERATE)
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    // The BLAS would refuse lda/ldb of 0 here; the answer is only beta · C.
    scale_c(M, N, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
              transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  sgemm_portable(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

void sgemm_bias(int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                const float* bias, float* C, int ldc) {
  for (int r = 0; r < M; r++) std::copy(bias, bias + N, C + static_cast<size_t>(r) * ldc);
  sgemm(false, false, M, N, K, 1.f, A, lda, B, ldb, 1.f, C, ldc);
}

void set_threads(int n) {
  if (n < 1) n = 1;
#if defined(TANDEM_OPENBLAS)
  openblas_set_num_threads(n);
  // OpenBLAS caps the count at the most it was built for: report what it took.
  g_threads.store(openblas_get_num_threads());
#elif defined(TANDEM_ACCELERATE)
  g_threads.store(n);
#else
  g_threads.store(1);
#endif
}

int threads() { return g_threads.load(); }

const char* blas_name() {
#if defined(TANDEM_OPENBLAS)
  static const std::string name = openblas_name();
  return name.c_str();
#elif defined(TANDEM_ACCELERATE)
  return "accelerate";
#else
  return "portable";
#endif
}

const char* blas_kernel() {
#if defined(TANDEM_OPENBLAS)
  const char* core = openblas_get_corename();
  return core && *core ? core : "-";
#else
  return "-";
#endif
}

const char* blas_threading() {
#if defined(TANDEM_OPENBLAS)
  switch (openblas_get_parallel()) {
    case 0:
      return "sequential";
    case 1:
      return "pthread";
    case 2:
      return "openmp";
    default:
      return "unknown";
  }
#elif defined(TANDEM_ACCELERATE)
  return "accelerate";
#else
  return "single-threaded";
#endif
}

}  // namespace tandem
