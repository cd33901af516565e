// The critic ensemble's share of an RLPD learner step (src/learner/sac.ts, Sac#criticStep), in
// C++: the targets from the target critics, forward and backward of every online critic, global
// norm clipping across the critics, Adam and Polyak, with the same arithmetic as the TypeScript
// learner (networks.ts, critic-work.ts, adam.ts), so that the two agree within float32 rounding.
//
// The random streams stay in JS: the caller gives the next actions' [s', a'] rows, their log π
// and the min-subset indices, drawn exactly as Sac.update draws them.
//
// Every buffer is allocated at construction; an update allocates nothing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <napi.h>

namespace tandem {

struct CriticConfig {
  int inDim = 0;
  std::vector<int> hidden;
  int ensemble = 1;
  bool layerNorm = true;
  /** The largest batch an update, qValues or inputGradient takes (buffers are sized for it). */
  int maxBatch = 256;
  double lr = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-7;
  double gamma = 0.99;
  double tau = 0.005;
  /** Global-norm clip; +∞: none. */
  double clip = std::numeric_limits<double>::infinity();
  double rewardScale = 1;
  double rewardShift = 0;
  bool backupEntropy = true;
  /** Threads an update uses (this one included); critics are dealt among them. */
  int threads = 1;
};

/** What one critic update reports (sac.ts's critic metrics). */
struct CriticMetrics {
  double loss = 0;
  double qMean = 0;
  double qStd = 0;
  double qMax = 0;
  double qAbsMean = 0;
  double tdTargetMean = 0;
  double gradNorm = 0;
  double rewardMean = 0;
  double rewardMin = 0;
  double rewardMax = 0;
};

/** One critic update's inputs: n rows; `sa` either shared [n, in] or per critic [E, n, in]. */
struct CriticBatch {
  int rows = 0;
  const float* sa = nullptr;
  bool saPerCritic = false;
  const float* reward = nullptr;
  const float* done = nullptr;
  const float* nextSa = nullptr;
  /** log π(a'|s') per row: doubles (sac.ts keeps them as a Float64Array) or floats. */
  const double* nextLogProb = nullptr;
  const float* nextLogProbF = nullptr;
  double alpha = 0;
  const int32_t* subset = nullptr;
  int subsetSize = 0;
};

/** A fixed pool: run(count, fn) calls fn(item, slot) for item i on thread slot i mod T. */
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  int size() const { return threads_; }
  using Fn = void (*)(void* ctx, int item, int slot);
  void run(int count, Fn fn, void* ctx);

 private:
  void loop(int slot);
  void work(int slot);
  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool quit_ = false;
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  int count_ = 0;
};

class CriticEnsembleCore {
 public:
  explicit CriticEnsembleCore(const CriticConfig& config);

  const CriticConfig& config() const { return c_; }
  /** Variables per critic, in Critic.variables order: per hidden layer W, b[, γ, β]; W_out, b_out. */
  int varsPerCritic() const { return static_cast<int>(varSize_.size()); }
  /** Size and shape of variable k of a critic. */
  size_t varSize(int k) const { return varSize_[k]; }
  std::vector<int> varShape(int k) const { return varShape_[k]; }
  /** Floats in one critic. */
  size_t paramsPerCritic() const { return perCritic_; }

  /** Variable k (over all critics: e·varsPerCritic + i) of the online, target, m or v blocks. */
  float* online(int k) { return at(online_, k); }
  float* target(int k) { return at(target_, k); }
  float* adamM(int k) { return at(m_, k); }
  float* adamV(int k) { return at(v_, k); }
  int64_t adamStep() const { return step_; }
  void setAdamStep(int64_t t) { step_ = t; }
  /** After the weights were written from outside: rebuilds the derived (centred) weights. */
  void weightsChanged();

  /** One critic update (Sac#criticStep's critic part). */
  CriticMetrics update(const CriticBatch& batch);
  /** Q_e(s, a) of every online critic: out [E, n]. */
  void qValues(const float* sa, int rows, float* out);
  /**
   * Q_e(s, a) [E, n] and Σ_e dL/d(input columns from `from` on) [n, in − from] with dL/dQ_e = dq
   * for every row (critic-work.ts inputGradient, summed over the critics as sac.ts's actor loss).
   */
  void inputGradient(const float* sa, int rows, double dq, int from, float* q, float* dInput);

 private:
  /** One thread's forward tape and backward scratch, sized for maxBatch rows. */
  struct Workspace {
    // per hidden layer: x̂ and 1/σ per row (LayerNorm only), the output a
    std::vector<std::vector<float>> xhat, rstd, act;
    // dL/da of a layer and of the one below (in place: dz, then dc); dL/dQ per row
    std::vector<float> bufA, bufB, dq;
  };
  struct Net {
    float* params;
    // per hidden layer: W_c and b_c (LayerNorm: the centred weights in use), γ/H
    std::vector<float>* centred;
    std::vector<float>* centredBias;
    std::vector<float>* gammaMean;
  };
  float* at(std::vector<float>& block, int k) {
    const int e = k / varsPerCritic();
    const int i = k % varsPerCritic();
    return block.data() + e * perCritic_ + varOffset_[i];
  }
  Net net(bool isTarget, int e);
  void centre(Net n);
  void forward(Net n, const float* sa, int rows, Workspace& w, float* q);
  /** dq [rows] is in w.dq; grads (if not null) get every variable's gradient. */
  double backward(Net n, const float* sa, int rows, Workspace& w, float* grads, int inputFrom,
                  float* dInput);
  void adamPolyak(int e, double clipScale);

  static void targetJob(void* ctx, int item, int slot);
  static void criticJob(void* ctx, int item, int slot);
  static void stepJob(void* ctx, int item, int slot);
  static void qJob(void* ctx, int item, int slot);
  static void inputJob(void* ctx, int item, int slot);

  CriticConfig c_;
  int layers_;
  int maxWidth_;
  std::vector<size_t> varSize_, varOffset_;
  std::vector<std::vector<int>> varShape_;
  size_t perCritic_ = 0;
  std::vector<float> online_, target_, grad_, m_, v_;
  // 2E nets (online 0 … E−1, target E … 2E−1) × layers
  std::vector<std::vector<float>> centred_, centredBias_, gammaMean_;
  // per net: its centred weights are out of date (targets after Polyak, until a subset takes them)
  std::vector<char> stale_;
  std::vector<Workspace> work_;
  std::vector<float> q_;        // [E, maxBatch]: the online critics' Q
  std::vector<float> qTarget_;  // [E, maxBatch]: the subset's target Q, in subset order
  std::vector<double> y_, reward_;  // [maxBatch]: the TD target, the scaled reward
  std::vector<double> sumSq_;       // [E]: Σ g² of each critic's gradients
  std::vector<float> dInputs_; // [E, maxBatch, inDim]
  int64_t step_ = 0;
  std::unique_ptr<WorkerPool> pool_;
  // the current job's arguments
  const CriticBatch* batch_ = nullptr;
  const float* jobSa_ = nullptr;
  int jobRows_ = 0;
  int jobFrom_ = 0;
  double jobDq_ = 0;
  double jobScale_ = 1;
};

/** Adds the class CriticEnsemble (a CriticEnsembleCore for JS) to the addon's exports. */
void RegisterCriticEnsemble(Napi::Env env, Napi::Object exports);

}  // namespace tandem
