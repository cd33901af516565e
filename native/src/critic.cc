// The critic ensemble's update: Sac#criticStep (src/learner/sac.ts) with Critic.forward and
// Critic.backward (src/learner/networks.ts), criticGradients (critic-work.ts), clipping (sac.ts),
// Adam and polyak (adam.ts), line by line; see critic.h. The equations in the comments are the
// TypeScript's.
#include "critic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "gemm.h"
#include "simd.h"

namespace tandem {

namespace {

/** Added to the variance in LayerNorm (layers.ts LN_EPSILON). */
constexpr float kLnEpsilon = 1e-6f;

/** Variables from this size on are averaged with tf ops in adam.ts polyak: float32 arithmetic. */
constexpr size_t kPolyakKernelsFrom = 4096;

/** Σ x·w over k values (float, 8 partial sums). */
inline float dot(const float* x, const float* w, int k) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= k; i += 8)
    for (int j = 0; j < 8; j++) s[j] += x[i + j] * w[i + j];
  float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < k; i++) total += x[i] * w[i];
  return total;
}

/** Σ x over k values (float, 8 partial sums: vectorised). */
inline float sum(const float* x, int k) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= k; i += 8)
    for (int j = 0; j < 8; j++) s[j] += x[i + j];
  float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < k; i++) total += x[i];
  return total;
}

/** Σ x·y·z over k values (float, 8 partial sums). */
inline float dot3(const float* x, const float* y, const float* z, int k) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= k; i += 8)
    for (int j = 0; j < 8; j++) s[j] += x[i + j] * y[i + j] * z[i + j];
  float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < k; i++) total += x[i] * y[i] * z[i];
  return total;
}

/** Math.min's NaN rule: NaN if either is NaN. */
inline double jsMin(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a < b ? a : b;
}

inline double jsMax(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a > b ? a : b;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// WorkerPool

WorkerPool::WorkerPool(int threads) : threads_(std::max(1, threads)) {
  for (int slot = 1; slot < threads_; slot++) workers_.emplace_back([this, slot] { loop(slot); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
  }
  start_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerPool::work(int slot) {
  for (int i = slot; i < count_; i += threads_) fn_(ctx_, i, slot);
}

void WorkerPool::run(int count, Fn fn, void* ctx) {
  if (threads_ == 1 || count <= 1) {
    for (int i = 0; i < count; i++) fn(ctx, i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = fn;
    ctx_ = ctx;
    count_ = count;
    pending_ = threads_ - 1;
    generation_++;
  }
  start_.notify_all();
  work(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return pending_ == 0; });
}

void WorkerPool::loop(int slot) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_.wait(lock, [&] { return quit_ || generation_ != seen; });
      if (quit_) return;
      seen = generation_;
    }
    work(slot);
    std::lock_guard<std::mutex> lock(mutex_);
    if (--pending_ == 0) done_.notify_one();
  }
}

// ---------------------------------------------------------------------------------------------
// CriticEnsembleCore

CriticEnsembleCore::CriticEnsembleCore(const CriticConfig& config)
    : c_(config), layers_(static_cast<int>(config.hidden.size())) {
  const int E = c_.ensemble;
  const size_t B = static_cast<size_t>(c_.maxBatch);
  maxWidth_ = c_.inDim;
  int dim = c_.inDim;
  auto add = [&](std::vector<int> shape) {
    size_t size = 1;
    for (int d : shape) size *= static_cast<size_t>(d);
    varOffset_.push_back(perCritic_);
    varSize_.push_back(size);
    varShape_.push_back(std::move(shape));
    perCritic_ += size;
  };
  // Critic.variables: per hidden layer [W (in×h), b (h)] then LayerNorm's [γ (h), β (h)]; W_out, b_out
  for (int h : c_.hidden) {
    add({dim, h});
    add({h});
    if (c_.layerNorm) {
      add({h});
      add({h});
    }
    maxWidth_ = std::max(maxWidth_, h);
    dim = h;
  }
  add({dim, 1});
  add({1});

  const size_t all = perCritic_ * static_cast<size_t>(E);
  online_.assign(all, 0.f);
  target_.assign(all, 0.f);
  grad_.assign(all, 0.f);
  m_.assign(all, 0.f);
  v_.assign(all, 0.f);
  const size_t nets = 2 * static_cast<size_t>(E) * layers_;
  centred_.resize(nets);
  centredBias_.resize(nets);
  gammaMean_.resize(nets);
  if (c_.layerNorm) {
    for (size_t k = 0; k < nets; k++) {
      const int l = static_cast<int>(k % layers_);
      const int in = l == 0 ? c_.inDim : c_.hidden[l - 1];
      const int h = c_.hidden[l];
      centred_[k].assign(static_cast<size_t>(in) * h, 0.f);
      centredBias_[k].assign(h, 0.f);
      gammaMean_[k].assign(h, 0.f);
    }
  }

  const int threads = std::max(1, std::min(c_.threads, E));
  work_.resize(threads);
  for (auto& w : work_) {
    w.xhat.resize(layers_);
    w.rstd.resize(layers_);
    w.act.resize(layers_);
    for (int l = 0; l < layers_; l++) {
      const size_t h = c_.hidden[l];
      if (c_.layerNorm) {
        w.xhat[l].assign(B * h, 0.f);
        w.rstd[l].assign(B, 0.f);
      }
      w.act[l].assign(B * h, 0.f);
    }
    w.bufA.assign(B * maxWidth_, 0.f);
    w.bufB.assign(B * maxWidth_, 0.f);
    w.dq.assign(B, 0.f);
  }
  q_.assign(static_cast<size_t>(E) * B, 0.f);
  qTarget_.assign(static_cast<size_t>(E) * B, 0.f);
  y_.assign(B, 0.0);
  reward_.assign(B, 0.0);
  sumSq_.assign(E, 0.0);
  dInputs_.assign(static_cast<size_t>(E) * B * c_.inDim, 0.f);
  stale_.assign(2 * static_cast<size_t>(E), 0);
  pool_ = std::make_unique<WorkerPool>(threads);
  weightsChanged();
}

CriticEnsembleCore::Net CriticEnsembleCore::net(bool isTarget, int e) {
  const size_t k = (static_cast<size_t>(isTarget ? c_.ensemble : 0) + e) * layers_;
  float* params = (isTarget ? target_ : online_).data() + e * perCritic_;
  return {params, centred_.data() + k, centredBias_.data() + k, gammaMean_.data() + k};
}

void CriticEnsembleCore::weightsChanged() {
  for (int e = 0; e < c_.ensemble; e++) {
    centre(net(false, e));
    centre(net(true, e));
  }
  std::fill(stale_.begin(), stale_.end(), 0);
}

/**
 * LayerNorm's centring folded into the weights (networks.ts Critic): h − mean_row(h) = x·W_c + b_c
 * with W_c = W − (row means of W) and b_c = b − mean(b); and γ/H for the backward pass.
 */
TANDEM_HOT void CriticEnsembleCore::centre(Net n) {
  if (!c_.layerNorm) return;
  for (int l = 0; l < layers_; l++) {
    const int in = l == 0 ? c_.inDim : c_.hidden[l - 1];
    const int h = c_.hidden[l];
    const float* W = n.params + varOffset_[4 * l];
    const float* b = n.params + varOffset_[4 * l + 1];
    const float* gamma = n.params + varOffset_[4 * l + 2];
    float* Wc = n.centred[l].data();
    float* bc = n.centredBias[l].data();
    float* gm = n.gammaMean[l].data();
    const float H = static_cast<float>(h);
    for (int i = 0; i < in; i++) {
      const float* row = W + static_cast<size_t>(i) * h;
      float* out = Wc + static_cast<size_t>(i) * h;
      const float mean = sum(row, h) / H;
      for (int j = 0; j < h; j++) out[j] = row[j] - mean;
    }
    const float mean = sum(b, h) / H;
    for (int j = 0; j < h; j++) bc[j] = b[j] - mean;
    for (int j = 0; j < h; j++) gm[j] = gamma[j] / H;
  }
}

/** Critic.forward: Q [rows] of `sa` [rows, in], keeping what backward needs in `w`. */
TANDEM_HOT void CriticEnsembleCore::forward(Net n, const float* sa, int rows, Workspace& w,
                                            float* q) {
  const int per = c_.layerNorm ? 4 : 2;
  const float* x = sa;
  int in = c_.inDim;
  for (int l = 0; l < layers_; l++) {
    const int h = c_.hidden[l];
    float* a = w.act[l].data();
    const float* W = n.params + varOffset_[per * l];
    const float* b = n.params + varOffset_[per * l + 1];
    if (!c_.layerNorm) {
      // a = relu(x·W + b)
      sgemm_bias(rows, h, in, x, in, W, h, b, a, h);
      const size_t count = static_cast<size_t>(rows) * h;
      for (size_t i = 0; i < count; i++) a[i] = a[i] > 0.f ? a[i] : 0.f;
    } else {
      const float* gamma = n.params + varOffset_[per * l + 2];
      const float* beta = n.params + varOffset_[per * l + 3];
      const float* bc = n.centredBias[l].data();
      float* c = w.xhat[l].data();
      float* rstd = w.rstd[l].data();
      // c = x·W_c + b_c (= h − mean_row(h))
      sgemm_bias(rows, h, in, x, in, n.centred[l].data(), h, bc, c, h);
      const float invH = 1.f / static_cast<float>(h);
      for (int r = 0; r < rows; r++) {
        float* cr = c + static_cast<size_t>(r) * h;
        float* ar = a + static_cast<size_t>(r) * h;
        // 1/σ = 1/√(mean_row(c²) + ε): the mean as a product with 1/H, ε as its bias
        const float variance = dot(cr, cr, h) * invH + kLnEpsilon;
        const float inv = 1.f / std::sqrt(variance);
        rstd[r] = inv;
        // x̂ = c/σ; a = relu(γ·x̂ + β)
        for (int j = 0; j < h; j++) {
          const float xh = cr[j] * inv;
          cr[j] = xh;
          const float z = xh * gamma[j] + beta[j];
          ar[j] = z > 0.f ? z : 0.f;
        }
      }
    }
    x = a;
    in = h;
  }
  // Q = a·W_out + b_out
  const float* wOut = n.params + varOffset_[per * layers_];
  const float bOut = n.params[varOffset_[per * layers_ + 1]];
  for (int r = 0; r < rows; r++) q[r] = dot(x + static_cast<size_t>(r) * in, wOut, in) + bOut;
}

/**
 * Critic.backward from dL/dQ (w.dq [rows]) through forward's tape in `w`: with `grads`, the
 * gradient of every variable (written over the critic's block, Critic.variables order), and
 * returns Σ g² (adam.ts sumOfSquares' share of this critic); with `dInput`, dL/d(input columns
 * from `inputFrom` on) [rows, in − inputFrom].
 */
TANDEM_HOT double CriticEnsembleCore::backward(Net n, const float* sa, int rows, Workspace& w,
                                               float* grads, int inputFrom, float* dInput) {
  const int per = c_.layerNorm ? 4 : 2;
  const int L = layers_;
  const int H = c_.hidden[L - 1];
  const float* dq = w.dq.data();
  const float* last = w.act[L - 1].data();
  const float* wOut = n.params + varOffset_[per * L];
  if (grads) {
    // dW_out = aᵀ·dq, db_out = Σ dq
    float* gW = grads + varOffset_[per * L];
    std::fill(gW, gW + H, 0.f);
    float db = 0;
    for (int r = 0; r < rows; r++) {
      const float d = dq[r];
      const float* ar = last + static_cast<size_t>(r) * H;
      for (int j = 0; j < H; j++) gW[j] += ar[j] * d;
      db += d;
    }
    grads[varOffset_[per * L + 1]] = db;
  }
  // dL/da of the last hidden layer: dq·w_outᵀ
  float* da = w.bufA.data();
  float* other = w.bufB.data();
  for (int r = 0; r < rows; r++) {
    float* dr = da + static_cast<size_t>(r) * H;
    for (int j = 0; j < H; j++) dr[j] = dq[r] * wOut[j];
  }
  for (int l = L - 1; l >= 0; l--) {
    const int in = l == 0 ? c_.inDim : c_.hidden[l - 1];
    const int h = c_.hidden[l];
    const float* x = l == 0 ? sa : w.act[l - 1].data();
    const float* a = w.act[l].data();
    float* gW = grads ? grads + varOffset_[per * l] : nullptr;
    float* gb = grads ? grads + varOffset_[per * l + 1] : nullptr;
    // dz = da·step(a), in place
    if (!c_.layerNorm) {
      const float* W = n.params + varOffset_[per * l];
      const size_t count = static_cast<size_t>(rows) * h;
      for (size_t i = 0; i < count; i++)
        if (!(a[i] > 0.f)) da[i] = 0.f;
      // without LayerNorm: z = x·W + b, dW = xᵀ·dz, db = Σ dz, dx = dz·Wᵀ
      if (grads) {
        sgemm(true, false, in, h, rows, 1.f, x, in, da, h, 0.f, gW, h);
        std::fill(gb, gb + h, 0.f);
        for (int r = 0; r < rows; r++) {
          const float* dr = da + static_cast<size_t>(r) * h;
          for (int j = 0; j < h; j++) gb[j] += dr[j];
        }
      }
      if (l > 0) {
        sgemm(false, true, rows, in, h, 1.f, da, h, W, h, 0.f, other, in);
        std::swap(da, other);
      } else if (dInput) {
        sgemm(false, true, rows, in - inputFrom, h, 1.f, da, h, W + inputFrom * h, h, 0.f, dInput,
              in - inputFrom);
      }
      continue;
    }
    const float* gamma = n.params + varOffset_[per * l + 2];
    const float* gm = n.gammaMean[l].data();
    const float* xhat = w.xhat[l].data();
    const float* rstd = w.rstd[l].data();
    const float* Wc = n.centred[l].data();
    float* gGamma = grads ? grads + varOffset_[per * l + 2] : nullptr;
    float* gBeta = grads ? grads + varOffset_[per * l + 3] : nullptr;
    if (grads) {
      std::fill(gGamma, gGamma + h, 0.f);
      std::fill(gBeta, gBeta + h, 0.f);
    }
    for (int r = 0; r < rows; r++) {
      float* dz = da + static_cast<size_t>(r) * h;
      const float* ar = a + static_cast<size_t>(r) * h;
      const float* xr = xhat + static_cast<size_t>(r) * h;
      for (int j = 0; j < h; j++) dz[j] = ar[j] > 0.f ? dz[j] : 0.f;
      // dγ = Σ dz·x̂, dβ = Σ dz
      if (grads) {
        for (int j = 0; j < h; j++) {
          gGamma[j] += dz[j] * xr[j];
          gBeta[j] += dz[j];
        }
      }
      // mean(g·x̂) = (dz·x̂)·(γ/H)
      const float m = dot3(dz, xr, gm, h);
      // dc = (g − x̂·mean(g·x̂))/σ with g = dz·γ, in place
      const float inv = rstd[r];
      for (int j = 0; j < h; j++) dz[j] = (dz[j] * gamma[j] - xr[j] * m) * inv;
    }
    if (grads) {
      // dW = centred rows of xᵀ·dc, db = centred Σ dc
      sgemm(true, false, in, h, rows, 1.f, x, in, da, h, 0.f, gW, h);
      const float H = static_cast<float>(h);
      for (int i = 0; i < in; i++) {
        float* row = gW + static_cast<size_t>(i) * h;
        const float mean = sum(row, h) / H;
        for (int j = 0; j < h; j++) row[j] -= mean;
      }
      std::fill(gb, gb + h, 0.f);
      for (int r = 0; r < rows; r++) {
        const float* dr = da + static_cast<size_t>(r) * h;
        for (int j = 0; j < h; j++) gb[j] += dr[j];
      }
      const float mean = sum(gb, h) / H;
      for (int j = 0; j < h; j++) gb[j] -= mean;
    }
    // dx = dc·W_cᵀ
    if (l > 0) {
      sgemm(false, true, rows, in, h, 1.f, da, h, Wc, h, 0.f, other, in);
      std::swap(da, other);
    } else if (dInput) {
      sgemm(false, true, rows, in - inputFrom, h, 1.f, da, h, Wc + inputFrom * h, h, 0.f, dInput,
            in - inputFrom);
    }
  }
  if (!grads) return 0;
  // Σ g² over this critic's gradients
  // Σ g² over this critic's gradients (adam.ts sumOfSquares: four partial sums per variable)
  double total = 0;
  for (size_t k = 0; k < varSize_.size(); k++) {
    const float* x = grads + varOffset_[k];
    const size_t size = varSize_[k];
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const size_t n4 = size & ~static_cast<size_t>(3);
    for (size_t i = 0; i < n4; i += 4) {
      s0 += static_cast<double>(x[i]) * x[i];
      s1 += static_cast<double>(x[i + 1]) * x[i + 1];
      s2 += static_cast<double>(x[i + 2]) * x[i + 2];
      s3 += static_cast<double>(x[i + 3]) * x[i + 3];
    }
    for (size_t i = n4; i < size; i++) s0 += static_cast<double>(x[i]) * x[i];
    total += s0 + s1 + s2 + s3;
  }
  return total;
}

/**
 * Adam (adam.ts): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε),
 * g the clipped gradient; then polyak: θ̄ ← τ·θ + (1 − τ)·θ̄. One critic's block; its centred
 * weights are rebuilt after (its target's when next used).
 */
TANDEM_HOT void CriticEnsembleCore::adamPolyak(int e, double clipScale) {
  const double t = static_cast<double>(step_);
  const double b1 = c_.beta1;
  const double b2 = c_.beta2;
  const double eps = c_.eps;
  // θ −= lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε), with the two bias corrections as factors
  const double lr = c_.lr / (1 - std::pow(b1, t));
  const double c2 = 1 / (1 - std::pow(b2, t));
  const double a1 = 1 - b1;
  const double a2 = 1 - b2;
  const size_t base = static_cast<size_t>(e) * perCritic_;
  float* p = online_.data() + base;
  const float* g = grad_.data() + base;
  float* m = m_.data() + base;
  float* v = v_.data() + base;
  for (size_t i = 0; i < perCritic_; i++) {
    const double gi = static_cast<double>(g[i]) * clipScale;
    const double mi = b1 * m[i] + a1 * gi;
    const double vi = b2 * v[i] + a2 * gi * gi;
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    p[i] = static_cast<float>(p[i] - (lr * mi) / (std::sqrt(vi * c2) + eps));
  }
  // θ̄ ← τ·θ + (1 − τ)·θ̄ for each variable: in float32 ops (tf.add(tf.mul(θ, τ), tf.mul(θ̄, 1 − τ)))
  // from kPolyakKernelsFrom values on, in doubles below (adam.ts polyakLoop)
  float* tp = target_.data() + base;
  const double tau = c_.tau;
  const double keep = 1 - tau;
  const float tauF = static_cast<float>(tau);
  const float keepF = static_cast<float>(keep);
  for (size_t k = 0; k < varSize_.size(); k++) {
    float* tk = tp + varOffset_[k];
    const float* sk = p + varOffset_[k];
    const size_t size = varSize_[k];
    if (size >= kPolyakKernelsFrom) {
      for (size_t i = 0; i < size; i++) tk[i] = sk[i] * tauF + tk[i] * keepF;
    } else {
      for (size_t i = 0; i < size; i++) tk[i] = static_cast<float>(sk[i] * tau + tk[i] * keep);
    }
  }
  centre(net(false, e));
  // a target's centred weights are rebuilt when a min subset next takes it (targetJob)
  stale_[c_.ensemble + e] = 1;
}

void CriticEnsembleCore::targetJob(void* ctx, int item, int slot) {
  auto* self = static_cast<CriticEnsembleCore*>(ctx);
  const CriticBatch& b = *self->batch_;
  const int i = b.subset[item];
  float* q = self->qTarget_.data() + static_cast<size_t>(item) * self->c_.maxBatch;
  Net net = self->net(true, i);
  if (self->stale_[self->c_.ensemble + i]) {
    self->centre(net);
    self->stale_[self->c_.ensemble + i] = 0;
  }
  self->forward(net, b.nextSa, b.rows, self->work_[slot], q);
}

void CriticEnsembleCore::criticJob(void* ctx, int item, int slot) {
  auto* self = static_cast<CriticEnsembleCore*>(ctx);
  const CriticBatch& b = *self->batch_;
  const int n = b.rows;
  Workspace& w = self->work_[slot];
  const float* sa = b.saPerCritic ? b.sa + static_cast<size_t>(item) * n * self->c_.inDim : b.sa;
  float* q = self->q_.data() + static_cast<size_t>(item) * self->c_.maxBatch;
  Net net = self->net(false, item);
  self->forward(net, sa, n, w, q);
  // dL/dQ = 2(Q − y)/n
  const double* y = self->y_.data();
  for (int r = 0; r < n; r++) w.dq[r] = static_cast<float>((2 * (q[r] - y[r])) / n);
  float* grads = self->grad_.data() + static_cast<size_t>(item) * self->perCritic_;
  self->sumSq_[item] = self->backward(net, sa, n, w, grads, 0, nullptr);
}

void CriticEnsembleCore::stepJob(void* ctx, int item, int /*slot*/) {
  auto* self = static_cast<CriticEnsembleCore*>(ctx);
  self->adamPolyak(item, self->jobScale_);
}

void CriticEnsembleCore::qJob(void* ctx, int item, int slot) {
  auto* self = static_cast<CriticEnsembleCore*>(ctx);
  float* q = self->q_.data() + static_cast<size_t>(item) * self->c_.maxBatch;
  self->forward(self->net(false, item), self->jobSa_, self->jobRows_, self->work_[slot], q);
}

void CriticEnsembleCore::inputJob(void* ctx, int item, int slot) {
  auto* self = static_cast<CriticEnsembleCore*>(ctx);
  const int n = self->jobRows_;
  Workspace& w = self->work_[slot];
  float* q = self->q_.data() + static_cast<size_t>(item) * self->c_.maxBatch;
  Net net = self->net(false, item);
  self->forward(net, self->jobSa_, n, w, q);
  const float dq = static_cast<float>(self->jobDq_);
  for (int r = 0; r < n; r++) w.dq[r] = dq;
  float* dInput = self->dInputs_.data() + static_cast<size_t>(item) * self->c_.maxBatch * self->c_.inDim;
  self->backward(net, self->jobSa_, n, w, nullptr, self->jobFrom_, dInput);
}

TANDEM_HOT CriticMetrics CriticEnsembleCore::update(const CriticBatch& b) {
  const int n = b.rows;
  const int E = c_.ensemble;
  const size_t B = static_cast<size_t>(c_.maxBatch);
  batch_ = &b;

  // y = r·scale + shift + γ(1 − done)·(min_{i∈subset} Q̄_i(s', a') − [backup] α·log π(a'|s'))
  pool_->run(b.subsetSize, &CriticEnsembleCore::targetJob, this);
  for (int r = 0; r < n; r++) {
    double min = std::numeric_limits<double>::infinity();
    for (int k = 0; k < b.subsetSize; k++) min = jsMin(min, qTarget_[k * B + r]);
    if (c_.backupEntropy) {
      const double logProb = b.nextLogProb ? b.nextLogProb[r] : b.nextLogProbF[r];
      min -= b.alpha * logProb;
    }
    reward_[r] = b.reward[r] * c_.rewardScale + c_.rewardShift;
    y_[r] = reward_[r] + (1 - static_cast<double>(b.done[r])) * c_.gamma * min;
  }

  // L = Σ_e mean((Q_e(s, a) − y)²)
  pool_->run(E, &CriticEnsembleCore::criticJob, this);
  CriticMetrics out;
  {
    double loss = 0;
    for (int e = 0; e < E; e++) {
      const float* q = q_.data() + e * B;
      double sum = 0;
      for (int r = 0; r < n; r++) sum += (q[r] - y_[r]) * (q[r] - y_[r]);
      loss += sum / n;
    }
    double qSum = 0;
    double qAbs = 0;
    double qMax = -std::numeric_limits<double>::infinity();
    double stdSum = 0;
    for (int r = 0; r < n; r++) {
      double m = 0;
      for (int e = 0; e < E; e++) m += q_[e * B + r];
      m /= E;
      double v = 0;
      for (int e = 0; e < E; e++) {
        const double x = q_[e * B + r];
        v += (x - m) * (x - m);
        qSum += x;
        qAbs += std::fabs(x);
        qMax = jsMax(qMax, x);
      }
      stdSum += std::sqrt(v / E);
    }
    out.qMean = qSum / (static_cast<double>(n) * E);
    out.qStd = stdSum / n;
    out.qMax = qMax;
    out.qAbsMean = qAbs / (static_cast<double>(n) * E);
    out.loss = loss;
    double ySum = 0, rSum = 0;
    double rMin = std::numeric_limits<double>::infinity();
    double rMax = -std::numeric_limits<double>::infinity();
    for (int r = 0; r < n; r++) {
      ySum += y_[r];
      rSum += reward_[r];
      rMin = jsMin(rMin, reward_[r]);
      rMax = jsMax(rMax, reward_[r]);
    }
    out.tdTargetMean = ySum / n;
    out.rewardMean = rSum / n;
    out.rewardMin = rMin;
    out.rewardMax = rMax;
  }

  // clipping(): the global norm over every critic's gradients, and the factor that clips it to
  // `clip` (1 when clip is ∞)
  double total = 0;
  for (int e = 0; e < E; e++) total += sumSq_[e];
  const double norm = std::sqrt(total);
  out.gradNorm = norm;
  jobScale_ = std::isfinite(c_.clip) ? std::min(1.0, c_.clip / (norm + 1e-6)) : 1.0;
  step_++;
  pool_->run(E, &CriticEnsembleCore::stepJob, this);
  batch_ = nullptr;
  return out;
}

void CriticEnsembleCore::qValues(const float* sa, int rows, float* out) {
  jobSa_ = sa;
  jobRows_ = rows;
  pool_->run(c_.ensemble, &CriticEnsembleCore::qJob, this);
  for (int e = 0; e < c_.ensemble; e++)
    std::memcpy(out + static_cast<size_t>(e) * rows, q_.data() + e * static_cast<size_t>(c_.maxBatch),
                sizeof(float) * rows);
}

void CriticEnsembleCore::inputGradient(const float* sa, int rows, double dq, int from, float* q,
                                       float* dInput) {
  jobSa_ = sa;
  jobRows_ = rows;
  jobDq_ = dq;
  jobFrom_ = from;
  pool_->run(c_.ensemble, &CriticEnsembleCore::inputJob, this);
  const size_t cols = static_cast<size_t>(c_.inDim - from);
  const size_t count = cols * rows;
  std::fill(dInput, dInput + count, 0.f);
  for (int e = 0; e < c_.ensemble; e++) {
    std::memcpy(q + static_cast<size_t>(e) * rows, q_.data() + e * static_cast<size_t>(c_.maxBatch),
                sizeof(float) * rows);
    const float* d = dInputs_.data() + static_cast<size_t>(e) * c_.maxBatch * c_.inDim;
    for (size_t k = 0; k < count; k++) dInput[k] += d[k];
  }
}

}  // namespace tandem

// ---------------------------------------------------------------------------------------------
// Node-API: the class CriticEnsemble

namespace tandem {

namespace {

bool fail(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, "CriticEnsemble: " + message).ThrowAsJavaScriptException();
  return false;
}

/** obj[key] as a number (`fallback` when absent); false (with an exception) when not a number. */
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

bool boolOf(Napi::Object obj, const char* key, bool fallback, bool* out) {
  Napi::Env env = obj.Env();
  Napi::Value v = obj.Get(key);
  if (env.IsExceptionPending()) return false;
  if (v.IsUndefined()) {
    *out = fallback;
    return true;
  }
  if (!v.IsBoolean()) return fail(env, std::string(key) + " must be a boolean");
  *out = v.As<Napi::Boolean>().Value();
  return true;
}

/** A typed array of the given type and (unless `length` < 0) length, or nullptr (with an exception). */
template <typename T>
const T* arrayOf(Napi::Env env, Napi::Value v, napi_typedarray_type type, long long length,
                 const std::string& what) {
  const char* name = type == napi_float32_array   ? "a Float32Array"
                     : type == napi_float64_array ? "a Float64Array"
                                                  : "an Int32Array";
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    fail(env, what + " must be " + name);
    return nullptr;
  }
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (length >= 0 && static_cast<long long>(a.ElementLength()) != length) {
    fail(env, what + " has " + std::to_string(a.ElementLength()) + " values, not " +
                  std::to_string(length));
    return nullptr;
  }
  static const T empty{};
  if (a.ElementLength() == 0) return &empty;
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) +
                                    a.ByteOffset());
}

class CriticEnsemble : public Napi::ObjectWrap<CriticEnsemble> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CriticEnsemble",
                       {
                           InstanceMethod<&CriticEnsemble::SetWeights>("setWeights"),
                           InstanceMethod<&CriticEnsemble::GetWeights>("getWeights"),
                           InstanceMethod<&CriticEnsemble::SetAdam>("setAdam"),
                           InstanceMethod<&CriticEnsemble::GetAdam>("getAdam"),
                           InstanceMethod<&CriticEnsemble::Update>("update"),
                           InstanceMethod<&CriticEnsemble::QValues>("qValues"),
                           InstanceMethod<&CriticEnsemble::InputGradient>("inputGradient"),
                           InstanceAccessor<&CriticEnsemble::Shapes>("shapes"),
                       });
  }

  explicit CriticEnsemble(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CriticEnsemble>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      fail(env, "new CriticEnsemble(config): config must be an object");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    CriticConfig c;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    if (!intOf(o, "inDim", nan, 1, 1 << 20, &c.inDim)) return;
    Napi::Value hidden = o.Get("hidden");
    if (!hidden.IsArray() || hidden.As<Napi::Array>().Length() == 0) {
      fail(env, "hidden must be a non-empty array of layer widths");
      return;
    }
    Napi::Array h = hidden.As<Napi::Array>();
    for (uint32_t i = 0; i < h.Length(); i++) {
      Napi::Value w = h.Get(i);
      if (!w.IsNumber() || w.As<Napi::Number>().DoubleValue() < 1 ||
          w.As<Napi::Number>().DoubleValue() > (1 << 20) ||
          w.As<Napi::Number>().DoubleValue() != std::floor(w.As<Napi::Number>().DoubleValue())) {
        fail(env, "hidden must hold positive integers");
        return;
      }
      c.hidden.push_back(w.As<Napi::Number>().Int32Value());
    }
    if (!intOf(o, "ensemble", nan, 1, 1024, &c.ensemble)) return;
    if (!intOf(o, "batch", 256, 1, 1 << 20, &c.maxBatch)) return;
    if (!intOf(o, "threads", 1, 1, 64, &c.threads)) return;
    if (!boolOf(o, "layerNorm", true, &c.layerNorm)) return;
    if (!boolOf(o, "backupEntropy", true, &c.backupEntropy)) return;
    if (!numberOf(o, "lr", nan, &c.lr) || !numberOf(o, "beta1", 0.9, &c.beta1) ||
        !numberOf(o, "beta2", 0.999, &c.beta2) || !numberOf(o, "eps", 1e-7, &c.eps) ||
        !numberOf(o, "gamma", nan, &c.gamma) || !numberOf(o, "tau", nan, &c.tau) ||
        !numberOf(o, "clip", inf, &c.clip) || !numberOf(o, "rewardScale", 1, &c.rewardScale) ||
        !numberOf(o, "rewardShift", 0, &c.rewardShift))
      return;
    if (!(c.clip > 0)) {
      fail(env, "clip must be positive (Infinity: none)");
      return;
    }
    core_ = std::make_unique<CriticEnsembleCore>(c);
  }

 private:
  int count() const { return core_->config().ensemble * core_->varsPerCritic(); }

  /** Float32Array[] of E·varsPerCritic arrays into `block`(k). */
  template <typename Get>
  bool readList(Napi::Env env, Napi::Value v, const std::string& what, Get get) {
    if (!v.IsArray() || v.As<Napi::Array>().Length() != static_cast<uint32_t>(count()))
      return fail(env, what + " must be an array of " + std::to_string(count()) +
                           " Float32Arrays (every critic's variables in order)");
    Napi::Array list = v.As<Napi::Array>();
    const int per = core_->varsPerCritic();
    for (int k = 0; k < count(); k++) {
      const long long size = static_cast<long long>(core_->varSize(k % per));
      const float* src = arrayOf<float>(env, list.Get(k), napi_float32_array, size,
                                        what + "[" + std::to_string(k) + "]");
      if (!src) return false;
      std::memcpy(get(k), src, sizeof(float) * size);
    }
    return true;
  }

  template <typename Get>
  Napi::Array writeList(Napi::Env env, Get get) {
    Napi::Array list = Napi::Array::New(env, count());
    const int per = core_->varsPerCritic();
    for (int k = 0; k < count(); k++) {
      const size_t size = core_->varSize(k % per);
      Napi::Float32Array a = Napi::Float32Array::New(env, size);
      std::memcpy(a.Data(), get(k), sizeof(float) * size);
      list.Set(k, a);
    }
    return list;
  }

  bool ready(Napi::Env env) { return core_ ? true : fail(env, "not constructed"); }

  Napi::Value SetWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    CriticEnsembleCore& c = *core_;
    if (!readList(env, info[0], "online", [&](int k) { return c.online(k); }) ||
        !readList(env, info[1], "target", [&](int k) { return c.target(k); }))
      return env.Undefined();
    c.weightsChanged();
    weightsSet_ = true;
    return env.Undefined();
  }

  Napi::Value GetWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    CriticEnsembleCore& c = *core_;
    Napi::Object out = Napi::Object::New(env);
    out.Set("online", writeList(env, [&](int k) { return c.online(k); }));
    out.Set("target", writeList(env, [&](int k) { return c.target(k); }));
    return out;
  }

  /** setAdam(step, m?, v?): Adam.restore's state (no moments: zeros, as before a first step). */
  Napi::Value SetAdam(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    CriticEnsembleCore& c = *core_;
    if (!info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0) {
      fail(env, "setAdam: step must be a non-negative number");
      return env.Undefined();
    }
    const int64_t step = info[0].As<Napi::Number>().Int64Value();
    if (info.Length() < 2 || info[1].IsUndefined()) {
      for (int k = 0; k < count(); k++) {
        const size_t size = c.varSize(k % c.varsPerCritic());
        std::fill(c.adamM(k), c.adamM(k) + size, 0.f);
        std::fill(c.adamV(k), c.adamV(k) + size, 0.f);
      }
    } else if (!readList(env, info[1], "m", [&](int k) { return c.adamM(k); }) ||
               !readList(env, info[2], "v", [&](int k) { return c.adamV(k); })) {
      return env.Undefined();
    }
    c.setAdamStep(step);
    return env.Undefined();
  }

  Napi::Value GetAdam(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    CriticEnsembleCore& c = *core_;
    Napi::Object out = Napi::Object::New(env);
    out.Set("step", Napi::Number::New(env, static_cast<double>(c.adamStep())));
    out.Set("m", writeList(env, [&](int k) { return c.adamM(k); }));
    out.Set("v", writeList(env, [&](int k) { return c.adamV(k); }));
    return out;
  }

  /** Rows of an [n, inDim] input; -1 (with an exception) if it is not one. */
  long long rowsOf(Napi::Env env, Napi::Value v, const std::string& what) {
    const CriticConfig& c = core_->config();
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      fail(env, what + " must be a Float32Array");
      return -1;
    }
    const long long length = static_cast<long long>(v.As<Napi::TypedArray>().ElementLength());
    const long long row = c.inDim;
    const long long rows = length / row;
    if (length % row != 0 || rows == 0) {
      fail(env, what + " must hold whole rows of " + std::to_string(row) + " values");
      return -1;
    }
    if (rows > c.maxBatch) {
      fail(env, what + " has " + std::to_string(rows) + " rows, more than batch " +
                    std::to_string(c.maxBatch));
      return -1;
    }
    return rows;
  }

  /**
   * update({ sa, reward, done, nextSa, nextLogProb, alpha, subset }): one critic update; sa is
   * [n, in] shared by the critics (as sac.ts) or [E, n, in], one minibatch each.
   */
  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    if (!weightsSet_) {
      fail(env, "update before setWeights");
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsObject()) {
      fail(env, "update(batch): batch must be an object");
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    const CriticConfig& c = core_->config();
    CriticBatch b;
    // n rows: the reward's; sa is [n, in] (shared) or [E, n, in] (one minibatch per critic)
    Napi::Value reward = o.Get("reward");
    b.reward = arrayOf<float>(env, reward, napi_float32_array, -1, "reward");
    if (!b.reward) return env.Undefined();
    const long long n = static_cast<long long>(reward.As<Napi::TypedArray>().ElementLength());
    if (n < 1 || n > c.maxBatch) {
      fail(env, "reward has " + std::to_string(n) + " values: a batch is 1 … " +
                    std::to_string(c.maxBatch) + " rows");
      return env.Undefined();
    }
    b.rows = static_cast<int>(n);
    Napi::Value sa = o.Get("sa");
    b.sa = arrayOf<float>(env, sa, napi_float32_array, -1, "sa");
    if (!b.sa) return env.Undefined();
    const long long saLength = static_cast<long long>(sa.As<Napi::TypedArray>().ElementLength());
    if (saLength == n * c.ensemble * c.inDim && c.ensemble > 1) {
      b.saPerCritic = true;
    } else if (saLength != n * c.inDim) {
      fail(env, "sa has " + std::to_string(saLength) + " values: not [n, " +
                    std::to_string(c.inDim) + "] nor [E, n, " + std::to_string(c.inDim) +
                    "] for the reward's n = " + std::to_string(n));
      return env.Undefined();
    }
    b.done = arrayOf<float>(env, o.Get("done"), napi_float32_array, n, "done");
    if (!b.done) return env.Undefined();
    b.nextSa = arrayOf<float>(env, o.Get("nextSa"), napi_float32_array, n * c.inDim, "nextSa");
    if (!b.nextSa) return env.Undefined();
    Napi::Value logProb = o.Get("nextLogProb");
    if (logProb.IsTypedArray() &&
        logProb.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
      b.nextLogProbF = arrayOf<float>(env, logProb, napi_float32_array, n, "nextLogProb");
      if (!b.nextLogProbF) return env.Undefined();
    } else {
      b.nextLogProb = arrayOf<double>(env, logProb, napi_float64_array, n, "nextLogProb");
      if (!b.nextLogProb) return env.Undefined();
    }
    double alpha = 0;
    if (!numberOf(o, "alpha", std::numeric_limits<double>::quiet_NaN(), &alpha))
      return env.Undefined();
    b.alpha = alpha;
    Napi::Value subset = o.Get("subset");
    b.subset = arrayOf<int32_t>(env, subset, napi_int32_array, -1, "subset");
    if (!b.subset) return env.Undefined();
    b.subsetSize = static_cast<int>(subset.As<Napi::TypedArray>().ElementLength());
    if (b.subsetSize < 1 || b.subsetSize > c.ensemble) {
      fail(env, "subset must hold 1 … ensemble indices");
      return env.Undefined();
    }
    for (int k = 0; k < b.subsetSize; k++) {
      if (b.subset[k] < 0 || b.subset[k] >= c.ensemble) {
        fail(env, "subset holds an index out of range");
        return env.Undefined();
      }
      for (int j = 0; j < k; j++) {
        if (b.subset[j] == b.subset[k]) {
          fail(env, "subset holds an index twice (it is m distinct critics)");
          return env.Undefined();
        }
      }
    }
    const CriticMetrics m = core_->update(b);
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", m.loss);
    out.Set("qMean", m.qMean);
    out.Set("qStd", m.qStd);
    out.Set("qMax", m.qMax);
    out.Set("qAbsMean", m.qAbsMean);
    out.Set("tdTargetMean", m.tdTargetMean);
    out.Set("gradNorm", m.gradNorm);
    out.Set("rewardMean", m.rewardMean);
    out.Set("rewardMin", m.rewardMin);
    out.Set("rewardMax", m.rewardMax);
    return out;
  }

  /** qValues(sa [n, in]) → Float32Array [E, n]: Q of every online critic. */
  Napi::Value QValues(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    const long long n = rowsOf(env, info[0], "sa");
    if (n < 0) return env.Undefined();
    const float* sa = arrayOf<float>(env, info[0], napi_float32_array, -1, "sa");
    Napi::Float32Array out = Napi::Float32Array::New(env, core_->config().ensemble * n);
    core_->qValues(sa, static_cast<int>(n), out.Data());
    return out;
  }

  /**
   * inputGradient(sa [n, in], dq, from) → { q: [E, n], dInput: [n, in − from] }: Σ_e dQ_e/d(input
   * columns from `from` on) times dq (sac.ts's actor loss: dq = −1/(E·n), from = obsDim).
   */
  Napi::Value InputGradient(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    const CriticConfig& c = core_->config();
    const long long n = rowsOf(env, info[0], "sa");
    if (n < 0) return env.Undefined();
    const float* sa = arrayOf<float>(env, info[0], napi_float32_array, -1, "sa");
    if (!info[1].IsNumber() || !info[2].IsNumber()) {
      fail(env, "inputGradient(sa, dq, from): dq and from must be numbers");
      return env.Undefined();
    }
    const double dq = info[1].As<Napi::Number>().DoubleValue();
    const int from = info[2].As<Napi::Number>().Int32Value();
    if (from < 0 || from >= c.inDim) {
      fail(env, "inputGradient: from must be in [0, inDim)");
      return env.Undefined();
    }
    Napi::Float32Array q = Napi::Float32Array::New(env, c.ensemble * n);
    Napi::Float32Array dInput = Napi::Float32Array::New(env, (c.inDim - from) * n);
    core_->inputGradient(sa, static_cast<int>(n), dq, from, q.Data(), dInput.Data());
    Napi::Object out = Napi::Object::New(env);
    out.Set("q", q);
    out.Set("dInput", dInput);
    return out;
  }

  /** The shapes of one critic's variables, in Critic.variables order. */
  Napi::Value Shapes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!ready(env)) return env.Undefined();
    const int per = core_->varsPerCritic();
    Napi::Array out = Napi::Array::New(env, per);
    for (int k = 0; k < per; k++) {
      const std::vector<int> shape = core_->varShape(k);
      Napi::Array s = Napi::Array::New(env, shape.size());
      for (size_t i = 0; i < shape.size(); i++) s.Set(static_cast<uint32_t>(i), shape[i]);
      out.Set(k, s);
    }
    return out;
  }

  std::unique_ptr<CriticEnsembleCore> core_;
  bool weightsSet_ = false;
};

}  // namespace

void RegisterCriticEnsemble(Napi::Env env, Napi::Object exports) {
  exports.Set("CriticEnsemble", CriticEnsemble::Define(env));
}

}  // namespace tandem
