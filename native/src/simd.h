// Function multi-versioning for the learner's elementwise loops (LayerNorm, ReLU masks, Adam,
// polyak, the reductions with fixed partial sums).
//
// The addon ships for any x86-64 (no -march=native): the compiler's baseline there is SSE2, four
// floats or two doubles a vector. TANDEM_HOT compiles a function twice, for AVX2 and for that
// baseline, and the loader picks the AVX2 one on CPUs that have it (GCC/Clang target_clones, an
// ELF ifunc: Linux only). AVX2 does not bring FMA with it (that is its own target flag), so no
// product and sum are fused in either version: both compute the same floats, operation by
// operation, and the reductions keep their explicit partial sums (one vector lane each), so the
// two versions give bit-identical results (test/learner/native-agreement.test.ts checks the
// outcome against the TypeScript learner). Elsewhere (macOS, arm64 where NEON is the baseline,
// Windows) it is nothing.
#pragma once

#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define TANDEM_HOT __attribute__((target_clones("avx2", "default")))
#else
#define TANDEM_HOT
#endif
