// The Zaremba et al. LSTM language model: construction, forward over a window, backward through
// time, and the state carried from window to window.
#include "nn/models/lstm_lm.hpp"

#include "nn/layers/dropout.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

namespace sgdsweep::nn {

LstmLanguageModel::LstmLanguageModel(ops::Backend& backend, std::int64_t max_batch,
                                     std::int64_t training_streams, std::int64_t evaluation_streams,
                                     const LstmLanguageModelConfig& config, std::uint64_t seed)
    : backend_(backend), max_batch_(max_batch), training_streams_(training_streams),
      evaluation_streams_(evaluation_streams), config_(config), seed_(seed), parameters_(backend) {
  if (config.layers < 1 || config.hidden < 1 || config.window < 1 || config.vocabulary < 2) {
    fail("lstm: layers, hidden units and window must be >= 1 and the vocabulary >= 2");
  }
  const std::int64_t hidden = config.hidden;
  embedding_offset_ = parameters_.declare("embedding", config.vocabulary * hidden, ParameterRole::weight);
  layers_.reserve(static_cast<std::size_t>(config.layers));
  for (std::int64_t l = 0; l < config.layers; ++l) {
    layers_.emplace_back(parameters_, concat("lstm", l), hidden, hidden);
  }
  decoder_ = std::make_unique<Dense>(parameters_, "decoder", hidden, config.vocabulary, Activation::none);
  parameters_.allocate();

  const auto buffer = [&](std::int64_t count) { return ops::Buffer<float>(backend, static_cast<std::size_t>(count)); };
  const std::int64_t window_rows = config.window * max_batch;
  for (std::int64_t l = 0; l < config.layers; ++l) {
    training_state_.h.push_back(buffer(training_streams * hidden));
    training_state_.c.push_back(buffer(training_streams * hidden));
    evaluation_state_.h.push_back(buffer(evaluation_streams * hidden));
    evaluation_state_.c.push_back(buffer(evaluation_streams * hidden));
    gates_.push_back(buffer(window_rows * 4 * hidden));
    cells_.push_back(buffer(window_rows * hidden));
    outputs_.push_back(buffer(window_rows * hidden));
  }
  for (std::int64_t l = 0; l <= config.layers; ++l) {
    inputs_.push_back(buffer(window_rows * hidden));
    masks_.push_back(buffer(window_rows * hidden));
  }
  embedded_ = buffer(window_rows * hidden);
  logits_ = buffer(window_rows * config.vocabulary);
  gradient_a_ = buffer(window_rows * hidden);
  gradient_b_ = buffer(window_rows * hidden);
  gate_gradient_ = buffer(window_rows * 4 * hidden);
  dh_next_ = buffer(max_batch * hidden);
  dc_ = buffer(max_batch * hidden);
  correct_ = ops::Buffer<double>(backend, 1);

  // Zaremba et al.: every parameter uniform in [−scale, scale].
  std::vector<float> initial(static_cast<std::size_t>(parameters_.size()));
  const CounterRng rng(seed, RngPurpose::init);
  for (std::size_t i = 0; i < initial.size(); ++i) {
    initial[i] = static_cast<float>((2.0 * rng.uniform(0, i) - 1.0) * config.init_scale);
  }
  parameters_.upload_values(initial);
}

void LstmLanguageModel::check_batch(const Batch& batch, std::int64_t streams) const {
  if (batch.size <= 0 || batch.size > max_batch_ || batch.first_row < 0 ||
      batch.first_row + batch.size > streams) {
    fail("lstm: microbatch of streams [", batch.first_row, ", ", batch.first_row + batch.size,
         ") (allocated for ", max_batch_, " per microbatch and ", streams, " in all)");
  }
}

void LstmLanguageModel::reset_training_state() {
  for (auto& h : training_state_.h) backend_.fill(h.data(), static_cast<std::int64_t>(h.size()), 0.0f);
  for (auto& c : training_state_.c) backend_.fill(c.data(), static_cast<std::int64_t>(c.size()), 0.0f);
}

void LstmLanguageModel::reset_evaluation_state() {
  for (auto& h : evaluation_state_.h) backend_.fill(h.data(), static_cast<std::int64_t>(h.size()), 0.0f);
  for (auto& c : evaluation_state_.c) backend_.fill(c.data(), static_cast<std::int64_t>(c.size()), 0.0f);
}

void LstmLanguageModel::forward(const Batch& batch, State& state, bool training) {
  const std::int64_t n = batch.size, window = config_.window, hidden = config_.hidden;
  const std::int64_t step_rows = batch.step_rows > 0 ? batch.step_rows : n;
  backend_.gather_rows(parameters_.values() + embedding_offset_, hidden, batch.tokens, window * n,
                       embedded_.data());
  const float* x = embedded_.data();
  for (std::int64_t l = 0; l <= config_.layers; ++l) {
    if (training && config_.dropout > 0.0f) {
      for (std::int64_t t = 0; t < window; ++t) {
        const std::int64_t offset = t * n * hidden;
        const auto first = static_cast<std::uint64_t>((t * step_rows + batch.first_row) * hidden);
        dropout_forward(backend_, config_.dropout, x + offset, inputs_[l].data() + offset,
                        masks_[l].data() + offset, n * hidden, seed_, batch.step,
                        dropout_position(static_cast<std::uint32_t>(l), first));
      }
    } else {
      backend_.copy(inputs_[l].data(), x, static_cast<std::size_t>(window * n * hidden) * sizeof(float));
    }
    if (l == config_.layers) break;
    layers_[l].forward(parameters_, inputs_[l].data(), state.h[l].data() + batch.first_row * hidden,
                       state.c[l].data() + batch.first_row * hidden, gates_[l].data(),
                       cells_[l].data(), outputs_[l].data(), window, n);
    x = outputs_[l].data();
  }
  decoder_->forward(parameters_, inputs_[config_.layers].data(), logits_.data(), window * n);
}

namespace {
// The state at the end of the window becomes the state of the next window of the same streams.
void carry_state(ops::Backend& backend, const std::vector<ops::Buffer<float>>& outputs,
                 const std::vector<ops::Buffer<float>>& cells, std::vector<ops::Buffer<float>>& h,
                 std::vector<ops::Buffer<float>>& c, std::int64_t window, std::int64_t n,
                 std::int64_t first, std::int64_t hidden) {
  const std::size_t bytes = static_cast<std::size_t>(n * hidden) * sizeof(float);
  for (std::size_t l = 0; l < h.size(); ++l) {
    backend.copy(h[l].data() + first * hidden, outputs[l].data() + (window - 1) * n * hidden, bytes);
    backend.copy(c[l].data() + first * hidden, cells[l].data() + (window - 1) * n * hidden, bytes);
  }
}
}  // namespace

void LstmLanguageModel::forward_backward(const Batch& batch, float loss_scale, double* loss_sum) {
  check_batch(batch, training_streams_);
  forward(batch, training_state_, true);
  const std::int64_t n = batch.size, window = config_.window, hidden = config_.hidden;
  const std::int64_t rows = window * n;
  backend_.softmax_cross_entropy(logits_.data(), batch.labels, rows, config_.vocabulary, logits_.data(),
                                 loss_scale, loss_sum, correct_.data());
  float* a = gradient_a_.data();
  float* b = gradient_b_.data();
  const bool dropout = config_.dropout > 0.0f;
  decoder_->backward(parameters_, inputs_[config_.layers].data(), logits_.data(), logits_.data(), a, rows);
  if (dropout) dropout_backward(backend_, masks_[config_.layers].data(), a, a, rows * hidden);
  for (std::int64_t l = config_.layers - 1; l >= 0; --l) {
    layers_[l].backward(parameters_, inputs_[l].data(), training_state_.h[l].data() + batch.first_row * hidden,
                        training_state_.c[l].data() + batch.first_row * hidden, gates_[l].data(),
                        cells_[l].data(), outputs_[l].data(), a, b, gate_gradient_.data(),
                        dh_next_.data(), dc_.data(), window, n);
    if (dropout) dropout_backward(backend_, masks_[l].data(), b, b, rows * hidden);
    std::swap(a, b);
  }
  float* embedding_gradient = parameters_.gradients() + embedding_offset_;
  backend_.fill(embedding_gradient, config_.vocabulary * hidden, 0.0f);
  backend_.scatter_add_rows(a, hidden, batch.tokens, rows, embedding_gradient);
  carry_state(backend_, outputs_, cells_, training_state_.h, training_state_.c, window, n,
              batch.first_row, hidden);
}

void LstmLanguageModel::evaluate(const Batch& batch, const EvaluationSums& sums) {
  check_batch(batch, evaluation_streams_);
  forward(batch, evaluation_state_, false);
  backend_.softmax_cross_entropy(logits_.data(), batch.labels, config_.window * batch.size,
                                 config_.vocabulary, nullptr, 0.0f, sums.loss, sums.metric);
  carry_state(backend_, outputs_, cells_, evaluation_state_.h, evaluation_state_.c, config_.window,
              batch.size, batch.first_row, config_.hidden);
}

}  // namespace sgdsweep::nn
