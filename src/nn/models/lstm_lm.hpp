// The word-level LSTM language model of Zaremba et al. (2014) as the paper trains it on Penn
// Treebank (004 appendix B.2): embedding → dropout → LSTM × layers (dropout between them) →
// dropout → linear decoder over the vocabulary; 650 units and 2 layers by default; every parameter
// initialised uniformly in [−init_scale, init_scale]; dropout on the non-recurrent connections
// only. A microbatch is `size` parallel token streams over a window of `window` steps
// (time-major); the state at the end of a window is carried into the next window of the same
// streams (truncated backpropagation). Loss: cross-entropy per token; metric: perplexity.
// It packs (Model::copies): `copies` models, each its own trial with its own seed (initialisation
// and dropout masks) and its own carried state, trained by one packed op per operation; every
// window array holds the copies back to back ([P, T, rows, …], copy-major).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/lstm.hpp"
#include "nn/model.hpp"

namespace sgdsweep::nn {

struct LstmLanguageModelConfig {
  std::int64_t vocabulary = 10000;
  std::int64_t hidden = 650;
  std::int64_t layers = 2;
  std::int64_t window = 35;  // unroll length T
  float dropout = 0.5f;
  float init_scale = 0.05f;
};

class LstmLanguageModel final : public Model {
 public:
  // max_batch: streams per microbatch; training_streams / evaluation_streams: the streams whose
  // state is carried (a trial's B, per copy; the evaluator's stream count, one copy at a time).
  // Every copy starts from `seed`.
  LstmLanguageModel(ops::Backend& backend, std::int64_t max_batch, std::int64_t training_streams,
                    std::int64_t evaluation_streams, const LstmLanguageModelConfig& config,
                    std::uint64_t seed, std::int64_t copies = 1);
  void initialize(std::int64_t copy, std::uint64_t seed) override;

  Parameters& parameters() override { return parameters_; }
  std::int64_t max_batch() const override { return max_batch_; }
  std::int64_t terms_per_example() const override { return config_.window; }
  void forward_backward(const Batch& batch, float loss_scale, double* loss_sum) override;
  void evaluate(const Batch& batch, const EvaluationSums& sums) override;
  void reset_training_state(std::int64_t copy) override;
  bool replayable() const override { return true; }
  void begin_step(const std::vector<std::int64_t>& steps) override {
    if (config_.dropout > 0.0f) dropout_.set_steps(steps.data(), 0);
  }
  void reset_evaluation_state() override;

  const LstmLanguageModelConfig& config() const { return config_; }
  // The logits of the last evaluate() (after forward_backward the buffer holds ∂L/∂logits: the
  // loss writes its gradient over them), [copies, T, rows, vocabulary]. For tests.
  const float* logits() const { return logits_.data(); }

 private:
  struct State {  // per layer, [copies, streams, hidden]
    std::vector<ops::Buffer<float>> h, c;
    std::int64_t streams = 0;
  };
  // copy >= 0: that copy alone (evaluation), by the ops of one copy.
  void forward(const Batch& batch, State& state, bool training, std::int64_t copy);
  void check_batch(const Batch& batch, std::int64_t streams) const;

  ops::Backend& backend_;
  std::int64_t max_batch_;
  std::int64_t training_streams_, evaluation_streams_;
  LstmLanguageModelConfig config_;
  Parameters parameters_;
  std::int64_t embedding_offset_ = 0;
  std::vector<Lstm> layers_;
  std::unique_ptr<Dense> decoder_;
  State training_state_, evaluation_state_;
  // Activations of one microbatch window: inputs[l] is layer l's (dropped-out) input, the last one
  // the decoder's; masks[l] its dropout mask.
  std::vector<ops::Buffer<float>> inputs_, masks_, gates_, cells_, outputs_;
  ops::Buffer<float> embedded_, logits_, gradient_a_, gradient_b_, gate_gradient_, dh_next_, dc_;
  ops::Buffer<double> correct_;  // [copies]
  PackedDropout dropout_;
};

}  // namespace sgdsweep::nn
