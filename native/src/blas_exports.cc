// The BLAS layer seen from JS (for tests, benchmarks and `tandem doctor`):
//
//   sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
//       gemm.h's sgemm on Float32Arrays (row-major; C is written in place). Every size and leading
//       dimension is checked against the arrays' lengths first: a wrong call throws a TypeError or
//       RangeError, never reads or writes outside the arrays. C may not share memory with A or B.
//   sgemmPortable(…the same…)   the portable kernel, whichever BLAS sgemm uses.
//   setThreads(n)               the most threads one product may use (integer ≥ 1); returns
//                               threads() after the change.
//   blasInfo()                  { blas, kernel, threads, threading }: gemm.h's blas_name(),
//                               blas_kernel(), threads(), blas_threading().
#include "blas_exports.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "gemm.h"

namespace {

using Gemm = void (*)(bool, bool, int, int, int, float, const float*, int, const float*, int,
                      float, float*, int);

bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a boolean");
  }
  return info[i].As<Napi::Boolean>().Value();
}

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* name, int min) {
  if (!info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= min && v <= std::numeric_limits<int>::max() && std::floor(v) == v)) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer ≥ " +
                                                std::to_string(min) + " (got " +
                                                std::to_string(v) + ")");
  }
  return static_cast<int>(v);
}

float FloatArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  }
  return static_cast<float>(info[i].As<Napi::Number>().DoubleValue());
}

Napi::Float32Array FloatsArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Float32Array");
  }
  return info[i].As<Napi::Float32Array>();
}

// A rows×cols row-major matrix with leading dimension ld must fit in `length` floats.
void CheckMatrix(Napi::Env env, const char* name, size_t length, int rows, int cols, int ld) {
  const int minLd = cols > 1 ? cols : 1;
  if (ld < minLd) {
    throw Napi::RangeError::New(env, std::string("ld") + name + " is " + std::to_string(ld) +
                                         ", less than the " + std::to_string(minLd) +
                                         " columns of " + name + " as stored");
  }
  if (rows == 0 || cols == 0) return;
  const uint64_t need = static_cast<uint64_t>(rows - 1) * static_cast<uint64_t>(ld) +
                        static_cast<uint64_t>(cols);
  if (need > length) {
    throw Napi::RangeError::New(env, std::string(name) + " has " + std::to_string(length) +
                                         " floats; " + std::to_string(rows) + "×" +
                                         std::to_string(cols) + " with ld " +
                                         std::to_string(ld) + " needs " + std::to_string(need));
  }
}

bool Overlap(const Napi::Float32Array& x, const Napi::Float32Array& y) {
  const uintptr_t x0 = reinterpret_cast<uintptr_t>(x.Data());
  const uintptr_t y0 = reinterpret_cast<uintptr_t>(y.Data());
  const uintptr_t x1 = x0 + x.ElementLength() * sizeof(float);
  const uintptr_t y1 = y0 + y.ElementLength() * sizeof(float);
  return x.ElementLength() > 0 && y.ElementLength() > 0 && x0 < y1 && y0 < x1;
}

Napi::Value CallGemm(const Napi::CallbackInfo& info, Gemm gemm) {
  Napi::Env env = info.Env();
  if (info.Length() != 13) {
    throw Napi::TypeError::New(env, "sgemm takes 13 arguments (transA, transB, M, N, K, alpha, "
                                    "A, lda, B, ldb, beta, C, ldc), got " +
                                        std::to_string(info.Length()));
  }
  const bool transA = BoolArg(info, 0, "transA");
  const bool transB = BoolArg(info, 1, "transB");
  const int M = IntArg(info, 2, "M", 0);
  const int N = IntArg(info, 3, "N", 0);
  const int K = IntArg(info, 4, "K", 0);
  const float alpha = FloatArg(info, 5, "alpha");
  Napi::Float32Array A = FloatsArg(info, 6, "A");
  const int lda = IntArg(info, 7, "lda", 0);
  Napi::Float32Array B = FloatsArg(info, 8, "B");
  const int ldb = IntArg(info, 9, "ldb", 0);
  const float beta = FloatArg(info, 10, "beta");
  Napi::Float32Array C = FloatsArg(info, 11, "C");
  const int ldc = IntArg(info, 12, "ldc", 0);

  // As stored: A is M×K or (transA) K×M; B is K×N or (transB) N×K.
  CheckMatrix(env, "A", A.ElementLength(), transA ? K : M, transA ? M : K, lda);
  CheckMatrix(env, "B", B.ElementLength(), transB ? N : K, transB ? K : N, ldb);
  CheckMatrix(env, "C", C.ElementLength(), M, N, ldc);
  if (Overlap(C, A) || Overlap(C, B)) {
    throw Napi::RangeError::New(env, "C shares memory with A or B");
  }
  gemm(transA, transB, M, N, K, alpha, A.Data(), lda, B.Data(), ldb, beta, C.Data(), ldc);
  return env.Undefined();
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) { return CallGemm(info, tandem::sgemm); }

Napi::Value SgemmPortable(const Napi::CallbackInfo& info) {
  return CallGemm(info, tandem::sgemm_portable);
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (info.Length() != 1) throw Napi::TypeError::New(info.Env(), "setThreads takes 1 argument");
  tandem::set_threads(IntArg(info, 0, "threads", 1));
  return Napi::Number::New(info.Env(), tandem::threads());
}

Napi::Value BlasInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("blas", tandem::blas_name());
  out.Set("kernel", tandem::blas_kernel());
  out.Set("threads", tandem::threads());
  out.Set("threading", tandem::blas_threading());
  return out;
}

}  // namespace

void RegisterBlasExports(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  exports.Set("sgemmPortable", Napi::Function::New(env, SgemmPortable, "sgemmPortable"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("blasInfo", Napi::Function::New(env, BlasInfo, "blasInfo"));
}
