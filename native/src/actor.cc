// ActorNative: the actor phase of Sac's learner step (sac.ts #actorStep, #sacLoss; networks.ts
// Actor.heads, samplePolicy, policyBackward, Actor.backward; adam.ts Adam, sumOfSquares), line
// by line; see actor.h. The equations in the comments are the TypeScript's.
#include "actor.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "gemm.h"
#include "simd.h"

namespace tandem {

namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // ½·log(2π)
constexpr double kLog2 = 0.69314718055994530942;

/** log(1 + eˣ) without overflow (networks.ts softplus). */
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

/** One action dimension's log π: −z²/2 − log σ − ½log 2π − 2(log 2 − u − softplus(−2u)). */
double logDensity(double z, double logStd, double u) {
  return -0.5 * z * z - logStd - kHalfLog2Pi - 2 * (kLog2 - u - softplus(-2 * u));
}

}  // namespace

ActorCore::ActorCore(const ActorConfig& c) : c_(c) {
  const int A = c.actionDim;
  auto add = [&](std::vector<int> shape) {
    size_t size = 1;
    for (int d : shape) size *= static_cast<size_t>(d);
    varOffset_.push_back(params_.size());
    varSize_.push_back(size);
    varShape_.push_back(shape);
    params_.resize(params_.size() + size);
  };
  // Actor.variables: per hidden layer [W, b], then the mean head [W, b], the log-std head [W, b]
  int dim = c.obsDim;
  for (int h : c.hidden) {
    add({dim, h});
    add({h});
    dim = h;
  }
  add({dim, A});
  add({A});
  add({dim, A});
  add({A});
  grad_.assign(params_.size(), 0.f);
  gradScale_.assign(varSize_.size(), 1.0);
  m_.assign(params_.size(), 0.f);
  v_.assign(params_.size(), 0.f);
  const size_t B = static_cast<size_t>(c.maxBatch);
  obs_.assign(B * c.obsDim, 0.f);
  for (int h : c.hidden) act_.emplace_back(B * h, 0.f);
  heads_.assign(B * 2 * A, 0.f);
  action_.assign(B * A, 0.f);
  logProb_.assign(B, 0.0);
  meanAction_.assign(B * A, 0.0);
  stdNoise_.assign(B * A, 0.0);
  rawTanh_.assign(B * A, 0.0);
  dHeads_.assign(B * 2 * A, 0.f);
  dAction_.assign(B * A, 0.f);
  dMeanAction_.assign(B * A, 0.f);
  const int widest = *std::max_element(c.hidden.begin(), c.hidden.end());
  dh_.assign(B * widest, 0.f);
  dz_.assign(B * widest, 0.f);
  colSum_.assign(widest, 0.0);
}

TANDEM_HOT void ActorCore::sample(const float* obs, const float* noise, int n, float* action,
                       double* logProb) {
  const int A = c_.actionDim;
  const int L = static_cast<int>(c_.hidden.size());
  rows_ = n;
  std::copy(obs, obs + static_cast<size_t>(n) * c_.obsDim, obs_.begin());
  // Actor.heads: h ← relu(h·W + b) per hidden layer, then [mean | raw log-std] = h·[W_m | W_s] + b
  const float* x = obs_.data();
  int in = c_.obsDim;
  for (int l = 0; l < L; l++) {
    const int h = c_.hidden[l];
    const float* W = param(2 * l);
    const float* b = param(2 * l + 1);
    float* a = act_[l].data();
    sgemm_bias(n, h, in, x, in, W, h, b, a, h);
    const size_t count = static_cast<size_t>(n) * h;
    for (size_t i = 0; i < count; i++) a[i] = std::max(a[i], 0.f);
    x = a;
    in = h;
  }
  const int head = 2 * L;
  float* heads = heads_.data();
  sgemm_bias(n, A, in, x, in, param(head), A, param(head + 1), heads, 2 * A);
  sgemm_bias(n, A, in, x, in, param(head + 2), A, param(head + 3), heads + A, 2 * A);
  // samplePolicy: log σ = lo + (tanh(raw) + 1)·(hi − lo)/2, u = μ + σ·ε, a = tanh(u),
  // log π = Σ logDensity(ε, log σ, u)
  const double lo = c_.logStdMin;
  const double span = 0.5 * (c_.logStdMax - c_.logStdMin);
  for (int r = 0; r < n; r++) {
    const float* row = heads + static_cast<size_t>(r) * 2 * A;
    double lp = 0;
    for (int j = 0; j < A; j++) {
      const size_t k = static_cast<size_t>(r) * A + j;
      const double mean = row[j];
      const double t = std::tanh(static_cast<double>(row[A + j]));
      const double logStd = (t + 1) * span + lo;
      const double eps = noise[k];
      const double stdNoise = std::exp(logStd) * eps;
      const double u = mean + stdNoise;
      action_[k] = static_cast<float>(std::tanh(u));
      meanAction_[k] = std::tanh(mean);
      stdNoise_[k] = stdNoise;
      rawTanh_[k] = t;
      lp += logDensity(eps, logStd, u);
    }
    logProb_[r] = lp;
  }
  std::copy(action_.begin(), action_.begin() + static_cast<size_t>(n) * A, action);
  std::copy(logProb_.begin(), logProb_.begin() + n, logProb);
}

/**
 * Adam (adam.ts): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε),
 * g = scale·gradient, in doubles over float32 state.
 */
TANDEM_HOT void ActorCore::adam(float* p, const float* g, float* m, float* v, size_t size, double scale,
                     int64_t t, double lr) const {
  const double b1 = c_.beta1;
  const double b2 = c_.beta2;
  const double td = static_cast<double>(t);
  const double lrT = lr / (1 - std::pow(b1, td));
  const double c2 = 1 / (1 - std::pow(b2, td));
  const double a1 = 1 - b1;
  const double a2 = 1 - b2;
  for (size_t i = 0; i < size; i++) {
    const double gi = static_cast<double>(g[i]) * scale;
    const double mi = b1 * m[i] + a1 * gi;
    const double vi = b2 * v[i] + a2 * gi * gi;
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    p[i] = static_cast<float>(p[i] - (lrT * mi) / (std::sqrt(vi * c2) + c_.eps));
  }
}

TANDEM_HOT ActorMetrics ActorCore::update(const ActorUpdateInput& in) {
  const int n = rows_;
  const int A = c_.actionDim;
  const int L = static_cast<int>(c_.hidden.size());
  const size_t nA = static_cast<size_t>(n) * A;
  ActorMetrics out;
  double meanLogProb = 0;
  for (int r = 0; r < n; r++) meanLogProb += logProb_[r];
  meanLogProb /= n;
  const double alpha = std::exp(static_cast<double>(logAlpha));
  // #sacLoss: mean(α·log π) [− mean_r Q̄(s, a)·qScale] [+ β·BC]
  double loss = alpha * meanLogProb;
  double qScale = 1;
  const bool withQ = in.loss != ActorLossKind::Bc;
  if (withQ) {
    const int E = in.ensemble;
    double qMean = 0;
    double qAbs = 0;
    for (int r = 0; r < n; r++) {
      double m = 0;
      for (int e = 0; e < E; e++) m += in.q[static_cast<size_t>(e) * n + r];
      m /= E;
      qMean += m;
      qAbs += std::fabs(m);
    }
    qMean /= n;
    qAbs /= n;
    // sac: −mean Q; sac+bc: −mean Q / mean|Q|.detach() (CPQL's normalisation, unless turned off)
    if (in.loss == ActorLossKind::SacBc && in.normalizeQ) qScale = 1 / (qAbs + 1e-6);
    loss -= qMean * qScale;
    for (size_t k = 0; k < nA; k++) dAction_[k] = in.dQdA[k];
    if (qScale != 1)
      for (size_t k = 0; k < nA; k++) dAction_[k] = static_cast<float>(dAction_[k] * qScale);
  }
  // BC on the demo rows: ‖tanh(μ(s)) − a_demo‖², summed over dims, averaged over rows
  const int demoRows = n - in.fromOnline;
  double bc = 0;
  const bool withBc = in.beta > 0 && demoRows > 0;
  if (withBc) {
    std::fill(dMeanAction_.begin(), dMeanAction_.begin() + nA, 0.f);
    for (int r = in.fromOnline; r < n; r++) {
      for (int j = 0; j < A; j++) {
        const size_t k = static_cast<size_t>(r) * A + j;
        const double d = meanAction_[k] - static_cast<double>(in.batchAction[k]);
        bc += d * d;
        dMeanAction_[k] = static_cast<float>((in.beta * 2 * d) / demoRows);
      }
    }
    bc /= demoRows;
    loss += in.beta * bc;
  }
  // policyBackward with dL/d log π = α/n: du = dL/da·(1 − a²) + dlogπ·2a,
  // dμ = du + dL/d tanh(μ)·(1 − tanh²μ), d log σ = du·σε − dlogπ, d raw = d log σ·span·(1 − t²)
  const double dLogProb = alpha / n;
  const double span = 0.5 * (c_.logStdMax - c_.logStdMin);
  for (int r = 0; r < n; r++) {
    for (int j = 0; j < A; j++) {
      const size_t k = static_cast<size_t>(r) * A + j;
      const double act = action_[k];
      const double du = (withQ ? dAction_[k] * (1 - act * act) : 0) + dLogProb * 2 * act;
      const double m = meanAction_[k];
      const double dMean = du + (withBc ? dMeanAction_[k] * (1 - m * m) : 0);
      const double dLogStd = du * stdNoise_[k] - dLogProb;
      const double t = rawTanh_[k];
      dHeads_[static_cast<size_t>(r) * 2 * A + j] = static_cast<float>(dMean);
      dHeads_[static_cast<size_t>(r) * 2 * A + A + j] =
          static_cast<float>(dLogStd * span * (1 - t * t));
    }
  }
  // Actor.backward. Heads: dW = lastᵀ·dOut (split), db = Σ_rows dOut (float32 sums)
  const int head = 2 * L;
  const int H = c_.hidden[L - 1];
  const float* last = act_[L - 1].data();
  const float* dOut = dHeads_.data();
  float* gWm = grad_.data() + varOffset_[head];
  float* gbm = grad_.data() + varOffset_[head + 1];
  float* gWs = grad_.data() + varOffset_[head + 2];
  float* gbs = grad_.data() + varOffset_[head + 3];
  sgemm(true, false, H, A, n, 1.f, last, H, dOut, 2 * A, 0.f, gWm, A);
  sgemm(true, false, H, A, n, 1.f, last, H, dOut + A, 2 * A, 0.f, gWs, A);
  std::fill(gbm, gbm + A, 0.f);
  std::fill(gbs, gbs + A, 0.f);
  for (int r = 0; r < n; r++) {
    for (int j = 0; j < A; j++) {
      gbm[j] += dOut[static_cast<size_t>(r) * 2 * A + j];
      gbs[j] += dOut[static_cast<size_t>(r) * 2 * A + A + j];
    }
  }
  // gradient scale per variable: a hidden bias's gradient is a column mean times n (columnMean)
  std::vector<double>& scale = gradScale_;
  std::fill(scale.begin(), scale.end(), 1.0);
  // dh = dOut·[W_m | W_s]ᵀ
  float* dh = dh_.data();
  sgemm(false, true, n, H, A, 1.f, dOut, 2 * A, param(head), A, 0.f, dh, H);
  sgemm(false, true, n, H, A, 1.f, dOut + A, 2 * A, param(head + 2), A, 1.f, dh, H);
  for (int l = L - 1; l >= 0; l--) {
    const int h = c_.hidden[l];
    const int inDim = l == 0 ? c_.obsDim : c_.hidden[l - 1];
    const float* a = act_[l].data();
    float* dz = dz_.data();
    // dz = dh·step(a); dW = xᵀ·dz; db = mean_rows(dz) (times n); dh ← dz·Wᵀ
    for (size_t i = 0; i < static_cast<size_t>(n) * h; i++) dz[i] = a[i] > 0 ? dh[i] : 0.f;
    const float* x = l == 0 ? obs_.data() : act_[l - 1].data();
    sgemm(true, false, inDim, h, n, 1.f, x, inDim, dz, h, 0.f, grad_.data() + varOffset_[2 * l],
          h);
    float* gb = grad_.data() + varOffset_[2 * l + 1];
    // each column summed in doubles, rows in order (row by row: the same sums, read in order)
    double* s = colSum_.data();
    std::fill(s, s + h, 0.0);
    for (int r = 0; r < n; r++) {
      const float* row = dz + static_cast<size_t>(r) * h;
      for (int j = 0; j < h; j++) s[j] += row[j];
    }
    for (int j = 0; j < h; j++) gb[j] = static_cast<float>(s[j] / n);
    scale[2 * l + 1] = n;
    if (l > 0)
      sgemm(false, true, n, inDim, h, 1.f, dz, h, param(2 * l), h, 0.f, dh, inDim);
  }
  // clipping: norm = √Σ (scale·g)² (sumOfSquares: four partial sums per variable),
  // factor min(1, clip/(norm + 1e-6)) when the clip is finite
  double total = 0;
  for (size_t k = 0; k < varSize_.size(); k++) {
    const float* g = grad_.data() + varOffset_[k];
    const size_t size = varSize_[k];
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const size_t n4 = size & ~static_cast<size_t>(3);
    for (size_t i = 0; i < n4; i += 4) {
      const double a = g[i], b = g[i + 1], c = g[i + 2], d = g[i + 3];
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
    }
    for (size_t i = n4; i < size; i++) s0 += static_cast<double>(g[i]) * g[i];
    total += (s0 + s1 + s2 + s3) * scale[k] * scale[k];
  }
  const double norm = std::sqrt(total);
  const double clipScale = std::isfinite(c_.clip) ? std::min(1.0, c_.clip / (norm + 1e-6)) : 1.0;
  step_++;
  for (size_t k = 0; k < varSize_.size(); k++) {
    adam(param(static_cast<int>(k)), grad_.data() + varOffset_[k], adamM(static_cast<int>(k)),
         adamV(static_cast<int>(k)), varSize_[k], scale[k] * clipScale, step_, c_.lr);
  }
  // α loss = −log α·(log π + H̄), log π detached: gradient −(mean log π + H̄) (a float32)
  const float alphaGrad = static_cast<float>(-(meanLogProb + c_.targetEntropy));
  alphaStep++;
  adam(&logAlpha, &alphaGrad, &alphaM, &alphaV, 1, 1.0, alphaStep, c_.lr);
  out.actorLoss = loss;
  out.entropy = -meanLogProb;
  out.bcLoss = bc;
  out.qTermScale = qScale;
  out.gradNorm = norm;
  out.temperature = std::exp(static_cast<double>(logAlpha));
  // the kept forward pass is of the weights before this update: the next update needs a sample
  rows_ = 0;
  return out;
}

}  // namespace tandem

// ---------------------------------------------------------------------------------------------
// Node-API: the class ActorNative

namespace tandem {

namespace {

bool fail(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, "ActorNative: " + message).ThrowAsJavaScriptException();
  return false;
}

/** obj[key] as a number (`fallback` when absent; NaN: required). */
bool numberOf(Napi::Object obj, const char* key, double fallback, double* out) {
  Napi::Env env = obj.Env();
  Napi::Value v = obj.Get(key);
  if (env.IsExceptionPending()) return false;
  if (v.IsUndefined()) {
    if (std::isnan(fallback)) return fail(env, std::string(key) + " is required");
    *out = fallback;
    return true;
  }
  if (!v.IsNumber()) return fail(env, std::string(key) + " must be a number");
  *out = v.As<Napi::Number>().DoubleValue();
  return true;
}

bool intOf(Napi::Object obj, const char* key, double fallback, int lo, int hi, int* out) {
  double d = 0;
  if (!numberOf(obj, key, fallback, &d)) return false;
  if (!(d >= lo && d <= hi) || d != std::floor(d))
    return fail(obj.Env(), std::string(key) + " must be an integer in [" + std::to_string(lo) +
                               ", " + std::to_string(hi) + "]");
  *out = static_cast<int>(d);
  return true;
}

/** A Float32Array of `length` values (any length when < 0), or nullptr (with an exception). */
const float* floatsOf(Napi::Env env, Napi::Value v, long long length, const std::string& what,
                      long long* got = nullptr) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    fail(env, what + " must be a Float32Array");
    return nullptr;
  }
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  const long long len = static_cast<long long>(a.ElementLength());
  if (length >= 0 && len != length) {
    fail(env, what + " has " + std::to_string(len) + " values, not " + std::to_string(length));
    return nullptr;
  }
  if (got) *got = len;
  static const float empty = 0;
  if (len == 0) return &empty;
  return reinterpret_cast<const float*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) +
                                        a.ByteOffset());
}

class ActorNative : public Napi::ObjectWrap<ActorNative> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ActorNative",
                       {
                           InstanceMethod<&ActorNative::SetWeights>("setWeights"),
                           InstanceMethod<&ActorNative::GetWeights>("getWeights"),
                           InstanceMethod<&ActorNative::SetAdam>("setAdam"),
                           InstanceMethod<&ActorNative::GetAdam>("getAdam"),
                           InstanceMethod<&ActorNative::Sample>("sample"),
                           InstanceMethod<&ActorNative::Update>("update"),
                           InstanceAccessor<&ActorNative::Shapes>("shapes"),
                       });
  }

  explicit ActorNative(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ActorNative>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      fail(env, "new ActorNative(config): config must be an object");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    ActorConfig c;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    if (!intOf(o, "obsDim", nan, 1, 1 << 20, &c.obsDim)) return;
    if (!intOf(o, "actionDim", nan, 1, 1 << 16, &c.actionDim)) return;
    Napi::Value hidden = o.Get("hidden");
    if (!hidden.IsArray() || hidden.As<Napi::Array>().Length() == 0) {
      fail(env, "hidden must be a non-empty array of layer widths");
      return;
    }
    Napi::Array h = hidden.As<Napi::Array>();
    for (uint32_t i = 0; i < h.Length(); i++) {
      Napi::Value w = h.Get(i);
      const double d = w.IsNumber() ? w.As<Napi::Number>().DoubleValue() : 0;
      if (!(d >= 1 && d <= (1 << 20)) || d != std::floor(d)) {
        fail(env, "hidden must hold positive integers");
        return;
      }
      c.hidden.push_back(static_cast<int>(d));
    }
    Napi::Value range = o.Get("logStd");
    if (!range.IsArray() || range.As<Napi::Array>().Length() != 2 ||
        !range.As<Napi::Array>().Get(0u).IsNumber() ||
        !range.As<Napi::Array>().Get(1u).IsNumber()) {
      fail(env, "logStd must be [min, max]");
      return;
    }
    c.logStdMin = range.As<Napi::Array>().Get(0u).As<Napi::Number>().DoubleValue();
    c.logStdMax = range.As<Napi::Array>().Get(1u).As<Napi::Number>().DoubleValue();
    if (!intOf(o, "batch", 256, 1, 1 << 20, &c.maxBatch)) return;
    if (!numberOf(o, "lr", nan, &c.lr) || !numberOf(o, "beta1", 0.9, &c.beta1) ||
        !numberOf(o, "beta2", 0.999, &c.beta2) || !numberOf(o, "eps", 1e-7, &c.eps) ||
        !numberOf(o, "clip", inf, &c.clip) || !numberOf(o, "targetEntropy", nan, &c.targetEntropy))
      return;
    if (!(c.clip > 0)) {
      fail(env, "clip must be positive (Infinity: none)");
      return;
    }
    core_ = std::make_unique<ActorCore>(c);
  }

 private:
  bool ready(Napi::Env env) { return core_ ? true : fail(env, "not constructed"); }

  /** Float32Array[] in Actor.variables order into `get`(k). */
  template <typename Get>
  bool readList(Napi::Env env, Napi::Value v, const std::string& what, Get get) {
    const int count = core_->varCount();
    if (!v.IsArray() || v.As<Napi::Array>().Length() != static_cast<uint32_t>(count))
      return fail(env, what + " must be an array of " + std::to_string(count) +
                           " Float32Arrays (Actor.variables in order)");
    Napi::Array list = v.As<Napi::Array>();
    for (int k = 0; k < count; k++) {
      const long long size = static_cast<long long>(core_->varSize(k));
      const float* src = floatsOf(env, list.Get(k), size, what + "[" + std::to_string(k) + "]");
      if (!src) return false;
      std::copy(src, src + size, get(k));
    }
    return true;
  }

  template <typename Get>
  Napi::Array writeList(Napi::Env env, Get get) {
    const int count = core_->varCount();
    Napi::Array list = Napi::Array::New(env, count);
    for (int k = 0; k < count; k++) {
      const size_t size = core_->varSize(k);
      Napi::Float32Array a = Napi::Float32Array::New(env, size);
      std::copy(get(k), get(k) + size, a.Data());
      list.Set(k, a);
    }
    return list;
  }

  /** setWeights(actor: Float32Array[], logAlpha: number) */
  Napi::Value SetWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    if (info.Length() < 2 || !info[1].IsNumber()) {
      fail(env, "setWeights(actor, logAlpha): logAlpha must be a number");
      return env.Undefined();
    }
    if (!readList(env, info[0], "actor", [&](int k) { return core_->param(k); }))
      return env.Undefined();
    core_->logAlpha = info[1].As<Napi::Number>().FloatValue();
    weightsSet_ = true;
    return env.Undefined();
  }

  /** getWeights() → { actor: Float32Array[], logAlpha } */
  Napi::Value GetWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    out.Set("actor", writeList(env, [&](int k) { return core_->param(k); }));
    out.Set("logAlpha", Napi::Number::New(env, core_->logAlpha));
    return out;
  }

  /**
   * setAdam({ step, m?, v? }, { step, m?, v? }): the actor's and log α's Adam.restore state
   * (no moments: zeros); log α's m and v are numbers.
   */
  Napi::Value SetAdam(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject()) {
      fail(env, "setAdam(actor, alpha): both must be objects { step, m?, v? }");
      return env.Undefined();
    }
    Napi::Object a = info[0].As<Napi::Object>();
    Napi::Object t = info[1].As<Napi::Object>();
    double step = 0;
    double alphaStep = 0;
    if (!numberOf(a, "step", 0, &step) || !numberOf(t, "step", 0, &alphaStep))
      return env.Undefined();
    if (!(step >= 0) || !(alphaStep >= 0)) {
      fail(env, "setAdam: step must be a non-negative number");
      return env.Undefined();
    }
    ActorCore& c = *core_;
    if (a.Get("m").IsUndefined()) {
      for (int k = 0; k < c.varCount(); k++) {
        std::fill(c.adamM(k), c.adamM(k) + c.varSize(k), 0.f);
        std::fill(c.adamV(k), c.adamV(k) + c.varSize(k), 0.f);
      }
    } else if (!readList(env, a.Get("m"), "m", [&](int k) { return c.adamM(k); }) ||
               !readList(env, a.Get("v"), "v", [&](int k) { return c.adamV(k); })) {
      return env.Undefined();
    }
    double am = 0;
    double av = 0;
    if (!numberOf(t, "m", 0, &am) || !numberOf(t, "v", 0, &av)) return env.Undefined();
    c.setAdamStep(static_cast<int64_t>(step));
    c.alphaStep = static_cast<int64_t>(alphaStep);
    c.alphaM = static_cast<float>(am);
    c.alphaV = static_cast<float>(av);
    return env.Undefined();
  }

  /** getAdam() → { actor: { step, m, v }, alpha: { step, m, v } } */
  Napi::Value GetAdam(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    ActorCore& c = *core_;
    Napi::Object a = Napi::Object::New(env);
    a.Set("step", Napi::Number::New(env, static_cast<double>(c.adamStep())));
    a.Set("m", writeList(env, [&](int k) { return c.adamM(k); }));
    a.Set("v", writeList(env, [&](int k) { return c.adamV(k); }));
    Napi::Object t = Napi::Object::New(env);
    t.Set("step", Napi::Number::New(env, static_cast<double>(c.alphaStep)));
    t.Set("m", Napi::Number::New(env, c.alphaM));
    t.Set("v", Napi::Number::New(env, c.alphaV));
    Napi::Object out = Napi::Object::New(env);
    out.Set("actor", a);
    out.Set("alpha", t);
    return out;
  }

  /** sample(obs [n, obsDim], noise [n, A]) → { action: Float32Array, logProb: Float64Array } */
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    if (!weightsSet_) {
      fail(env, "sample before setWeights");
      return env.Undefined();
    }
    const ActorConfig& c = core_->config();
    long long len = 0;
    const float* obs = floatsOf(env, info[0], -1, "obs", &len);
    if (!obs) return env.Undefined();
    const long long n = len / c.obsDim;
    if (len % c.obsDim != 0 || n < 1 || n > c.maxBatch) {
      fail(env, "obs must hold 1 … " + std::to_string(c.maxBatch) + " rows of " +
                    std::to_string(c.obsDim) + " values");
      return env.Undefined();
    }
    const float* noise = floatsOf(env, info[1], n * c.actionDim, "noise");
    if (!noise) return env.Undefined();
    Napi::Float32Array action = Napi::Float32Array::New(env, n * c.actionDim);
    Napi::Float64Array logProb = Napi::Float64Array::New(env, n);
    core_->sample(obs, noise, static_cast<int>(n), action.Data(), logProb.Data());
    Napi::Object out = Napi::Object::New(env);
    out.Set("action", action);
    out.Set("logProb", logProb);
    return out;
  }

  /**
   * update({ loss, q?, dQdA?, normalizeQ?, beta?, action?, fromOnline? }) on the last sample's
   * rows: loss 'sac' | 'sac+bc' | 'bc'; q [E, n] and dQdA [n, A] (Σ_e dQ_e/da at dL/dQ_e =
   * −1/(E·n)) unless bc; action [n, A] (the batch's) when beta > 0.
   */
  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    const int n = core_->sampledRows();
    if (n < 1) {
      fail(env, "update before sample (one sample per update)");
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsObject()) {
      fail(env, "update(input): input must be an object");
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    const ActorConfig& c = core_->config();
    ActorUpdateInput in;
    Napi::Value loss = o.Get("loss");
    const std::string name = loss.IsString() ? loss.As<Napi::String>().Utf8Value() : "";
    if (name == "sac") {
      in.loss = ActorLossKind::Sac;
    } else if (name == "sac+bc") {
      in.loss = ActorLossKind::SacBc;
    } else if (name == "bc") {
      in.loss = ActorLossKind::Bc;
    } else {
      fail(env, "loss must be 'sac', 'sac+bc' or 'bc' ('awr' is not native)");
      return env.Undefined();
    }
    if (in.loss != ActorLossKind::Bc) {
      long long len = 0;
      in.q = floatsOf(env, o.Get("q"), -1, "q", &len);
      if (!in.q) return env.Undefined();
      if (len % n != 0 || len == 0) {
        fail(env, "q must hold E·" + std::to_string(n) + " values");
        return env.Undefined();
      }
      in.ensemble = static_cast<int>(len / n);
      in.dQdA = floatsOf(env, o.Get("dQdA"), static_cast<long long>(n) * c.actionDim, "dQdA");
      if (!in.dQdA) return env.Undefined();
    }
    Napi::Value normalize = o.Get("normalizeQ");
    if (!normalize.IsUndefined()) {
      if (!normalize.IsBoolean()) {
        fail(env, "normalizeQ must be a boolean");
        return env.Undefined();
      }
      in.normalizeQ = normalize.As<Napi::Boolean>().Value();
    }
    if (!numberOf(o, "beta", 0, &in.beta) || !intOf(o, "fromOnline", 0, 0, n, &in.fromOnline))
      return env.Undefined();
    if (in.beta > 0 && in.fromOnline < n) {
      in.batchAction =
          floatsOf(env, o.Get("action"), static_cast<long long>(n) * c.actionDim, "action");
      if (!in.batchAction) return env.Undefined();
    }
    const ActorMetrics m = core_->update(in);
    Napi::Object out = Napi::Object::New(env);
    out.Set("actor_loss", m.actorLoss);
    out.Set("entropy", m.entropy);
    out.Set("bc_loss", m.bcLoss);
    out.Set("q_term_scale", m.qTermScale);
    out.Set("actor_grad_norm", m.gradNorm);
    out.Set("temperature", m.temperature);
    return out;
  }

  /** The shapes of the actor's variables, in Actor.variables order. */
  Napi::Value Shapes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    const int count = core_->varCount();
    Napi::Array out = Napi::Array::New(env, count);
    for (int k = 0; k < count; k++) {
      const std::vector<int> shape = core_->varShape(k);
      Napi::Array s = Napi::Array::New(env, shape.size());
      for (size_t i = 0; i < shape.size(); i++) s.Set(static_cast<uint32_t>(i), shape[i]);
      out.Set(k, s);
    }
    return out;
  }

  std::unique_ptr<ActorCore> core_;
  bool weightsSet_ = false;
};

}  // namespace

void RegisterActorNative(Napi::Env env, Napi::Object exports) {
  exports.Set("ActorNative", ActorNative::Define(env));
}

}  // namespace tandem
