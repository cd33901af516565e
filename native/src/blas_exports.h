// The BLAS layer's own exports (sgemm, sgemmPortable, setThreads, blasInfo), added to the module's
// exports by the module init (addon.cc). What each does: blas_exports.cc; typed for TypeScript
// in src/learner/native-addon.ts.
#pragma once

#include <napi.h>

void RegisterBlasExports(Napi::Env env, Napi::Object exports);
