// The native learner addon's module init (native/build/Release/tandem_learner.node): the BLAS
// layer's exports (blas_exports.cc), the class CriticEnsemble (critic.cc) and the class
// ActorNative (actor.cc).
#include <napi.h>

#include "actor.h"
#include "blas_exports.h"
#include "critic.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterBlasExports(env, exports);
  tandem::RegisterCriticEnsemble(env, exports);
  tandem::RegisterActorNative(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tandem_learner, Init)
