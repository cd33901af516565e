// The actor's share of an RLPD learner step (src/learner/sac.ts, Sac#actorStep and #sacLoss), in
// C++: the actor MLP's forward pass (Actor.heads), the tanh-Gaussian sample and its log π
// (networks.ts samplePolicy), the actor loss of 'sac', 'sac+bc' and 'bc', its backward pass
// (policyBackward, Actor.backward), global-norm clipping, Adam for the actor and the temperature
// update on log α, with the same arithmetic as the TypeScript learner, so that the two agree
// within float32 rounding.
//
// The noise ε stays in JS (the generator's order is unchanged), and so do the critics: the
// caller takes dQ/da of the sampled actions from the critic ensemble (CriticEnsemble.
// inputGradient, dL/dQ_e = −1/(E·n)) between `sample` and `update`. 'awr' is not here.
//
// Sac uses it with LearnerConfig.actor (sac.ts #nativeActorStep); its own test drives it against
// the TypeScript actor phase (test/learner/native-actor.test.ts).
// Every buffer is allocated at construction; sample and update allocate nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include <napi.h>

namespace tandem {

struct ActorConfig {
  int obsDim = 0;
  int actionDim = 0;
  std::vector<int> hidden;
  /** The log-std range: log σ = lo + (tanh(raw) + 1)·(hi − lo)/2. */
  double logStdMin = -5;
  double logStdMax = 2;
  /** The largest batch sample takes. */
  int maxBatch = 256;
  double lr = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-7;
  /** Global-norm clip of the actor's gradient; +∞: none. */
  double clip = std::numeric_limits<double>::infinity();
  double targetEntropy = 0;
};

/** Which actor loss (config.ts ActorLoss, less 'awr'). */
enum class ActorLossKind { Sac, SacBc, Bc };

/** One actor update's inputs, for the rows of the last `sample`. */
struct ActorUpdateInput {
  ActorLossKind loss = ActorLossKind::Sac;
  /** Q_e(s, a) [E, n] and Σ_e dQ_e/da · (−1/(E·n)) [n, A] of the sampled actions (not for bc). */
  const float* q = nullptr;
  int ensemble = 0;
  const float* dQdA = nullptr;
  /** sac+bc: divide the Q term by mean|Q̄| (CPQL). */
  bool normalizeQ = true;
  /** β of the BC term (Sac.bcWeight), the batch's actions and where its demo rows start. */
  double beta = 0;
  const float* batchAction = nullptr;
  int fromOnline = 0;
};

struct ActorMetrics {
  double actorLoss = 0;
  double entropy = 0;
  double bcLoss = 0;
  double qTermScale = 1;
  double gradNorm = 0;
  double temperature = 0;
};

class ActorCore {
 public:
  explicit ActorCore(const ActorConfig& c);

  const ActorConfig& config() const { return c_; }
  int varCount() const { return static_cast<int>(varSize_.size()); }
  size_t varSize(int k) const { return varSize_[k]; }
  std::vector<int> varShape(int k) const { return varShape_[k]; }
  float* param(int k) { return params_.data() + varOffset_[k]; }
  float* adamM(int k) { return m_.data() + varOffset_[k]; }
  float* adamV(int k) { return v_.data() + varOffset_[k]; }
  int64_t adamStep() const { return step_; }
  void setAdamStep(int64_t s) { step_ = s; }

  float logAlpha = 0;
  float alphaM = 0;
  float alphaV = 0;
  int64_t alphaStep = 0;

  /** Forward and sample on n rows; keeps what update needs. Writes action [n, A], logProb [n]. */
  void sample(const float* obs, const float* noise, int n, float* action, double* logProb);
  /** One actor update and one temperature update on the last sample's rows (once per sample). */
  ActorMetrics update(const ActorUpdateInput& in);
  int sampledRows() const { return rows_; }

 private:
  void adam(float* p, const float* g, float* m, float* v, size_t size, double scale, int64_t t,
            double lr) const;

  ActorConfig c_;
  std::vector<size_t> varOffset_;
  std::vector<size_t> varSize_;
  std::vector<std::vector<int>> varShape_;
  std::vector<float> params_, grad_, m_, v_;
  /** Per variable: the factor its gradient stands with (n for a hidden bias's column mean). */
  std::vector<double> gradScale_;
  int64_t step_ = 0;
  int rows_ = 0;
  // the last sample: obs, hidden activations per layer, heads, and samplePolicy's figures
  std::vector<float> obs_;
  std::vector<std::vector<float>> act_;
  std::vector<float> heads_, action_;
  std::vector<double> logProb_, meanAction_, stdNoise_, rawTanh_;
  // backward scratch
  std::vector<float> dHeads_, dAction_, dMeanAction_, dh_, dz_;
  std::vector<double> colSum_;  // a hidden bias's gradient, summed over rows
};

void RegisterActorNative(Napi::Env env, Napi::Object exports);

}  // namespace tandem
