// The Zaremba et al. LSTM language model: construction, forward over a window, backward through
// time, and the state carried from window to window.
#include "nn/models/lstm_lm.hpp"

#include "util/error.hpp"
#include "util/rng.hpp"

namespace sgdsweep::nn {

LstmLanguageModel::LstmLanguageModel(ops::Backend& backend, std::int64_t max_batch,
                                     std::int64_t training_streams, std::int64_t evaluation_streams,
                                     const LstmLanguageModelConfig& config, std::uint64_t seed, std::int64_t copies)
    : backend_(backend), max_batch_(max_batch), training_streams_(training_streams),
      evaluation_streams_(evaluation_streams), config_(config), parameters_(backend, copies),
      dropout_(backend, copies) {
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
  const std::int64_t window_rows = copies * config.window * max_batch;  // of every copy
  training_state_.streams = training_streams;
  evaluation_state_.streams = evaluation_streams;
  for (std::int64_t l = 0; l < config.layers; ++l) {
    training_state_.h.push_back(buffer(copies * training_streams * hidden));
    training_state_.c.push_back(buffer(copies * training_streams * hidden));
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
  dh_next_ = buffer(copies * max_batch * hidden);
  dc_ = buffer(copies * max_batch * hidden);
  correct_ = ops::Buffer<double>(backend, static_cast<std::size_t>(copies));
  for (std::int64_t c = 0; c < copies; ++c) initialize(c, seed);
}

void LstmLanguageModel::initialize(std::int64_t copy, std::uint64_t seed) {
  // Zaremba et al.: every parameter uniform in [−scale, scale].
  std::vector<float> initial(static_cast<std::size_t>(parameters_.size()));
  const CounterRng rng(seed, RngPurpose::init);
  for (std::size_t i = 0; i < initial.size(); ++i) {
    initial[i] = static_cast<float>((2.0 * rng.uniform(0, i) - 1.0) * config_.init_scale);
  }
  parameters_.upload_values(initial, copy);
  dropout_.set_seed(copy, seed);
}

void LstmLanguageModel::check_batch(const Batch& batch, std::int64_t streams) const {
  if (batch.size <= 0 || batch.size > max_batch_ || batch.first_row < 0 ||
      batch.first_row + batch.size > streams) {
    fail("lstm: microbatch of streams [", batch.first_row, ", ", batch.first_row + batch.size,
         ") (allocated for ", max_batch_, " per microbatch and ", streams, " in all)");
  }
}

void LstmLanguageModel::reset_training_state(std::int64_t copy) {
  const std::int64_t count = training_streams_ * config_.hidden;
  for (auto& h : training_state_.h) backend_.fill(h.data() + copy * count, count, 0.0f);
  for (auto& c : training_state_.c) backend_.fill(c.data() + copy * count, count, 0.0f);
}

void LstmLanguageModel::reset_evaluation_state() {
  for (auto& h : evaluation_state_.h) backend_.fill(h.data(), static_cast<std::int64_t>(h.size()), 0.0f);
  for (auto& c : evaluation_state_.c) backend_.fill(c.data(), static_cast<std::int64_t>(c.size()), 0.0f);
}

void LstmLanguageModel::forward(const Batch& batch, State& state, bool training, std::int64_t copy) {
  const std::int64_t n = batch.size, window = config_.window, hidden = config_.hidden;
  const std::int64_t copies = copy < 0 ? parameters_.copies() : 1, stride = parameters_.stride();
  const std::int64_t step_rows = batch.step_rows > 0 ? batch.step_rows : n;
  const std::int64_t rows = window * n;                        // of one copy
  const std::int64_t state_stride = state.streams * hidden;    // from one copy's state to the next
  const float* values = parameters_.values() + (copy < 0 ? 0 : copy * stride);
  backend_.gather_rows_packed(copies, values + embedding_offset_, stride, hidden, batch.tokens, rows, rows,
                              embedded_.data(), rows * hidden);
  const bool dropout = training && config_.dropout > 0.0f;
  if (dropout) dropout_.set_steps(batch);  // training: every copy
  const float* x = embedded_.data();
  for (std::int64_t l = 0; l <= config_.layers; ++l) {
    if (dropout) {
      for (std::int64_t t = 0; t < window; ++t) {
        const std::int64_t offset = t * n * hidden;
        const auto first = static_cast<std::uint64_t>((t * step_rows + batch.first_row) * hidden);
        dropout_.forward(config_.dropout, x + offset, inputs_[l].data() + offset, masks_[l].data() + offset,
                         rows * hidden, n * hidden, dropout_position(static_cast<std::uint32_t>(l), first));
      }
    } else {
      backend_.copy(inputs_[l].data(), x, static_cast<std::size_t>(copies * rows * hidden) * sizeof(float));
    }
    if (l == config_.layers) break;
    layers_[l].forward(parameters_, inputs_[l].data(), state.h[l].data() + batch.first_row * hidden,
                       state.c[l].data() + batch.first_row * hidden, gates_[l].data(), cells_[l].data(),
                       outputs_[l].data(), window, n, state_stride, copy);
    x = outputs_[l].data();
  }
  decoder_->forward(parameters_, inputs_[config_.layers].data(), logits_.data(), rows, copy);
}

namespace {
// The state at the end of the window becomes the state of the next window of the same streams,
// in every copy.
void carry_state(ops::Backend& backend, const std::vector<ops::Buffer<float>>& outputs,
                 const std::vector<ops::Buffer<float>>& cells, std::vector<ops::Buffer<float>>& h,
                 std::vector<ops::Buffer<float>>& c, std::int64_t copies, std::int64_t streams,
                 std::int64_t window, std::int64_t n, std::int64_t first, std::int64_t hidden) {
  const std::int64_t last = (window - 1) * n * hidden, window_stride = window * n * hidden;
  for (std::size_t l = 0; l < h.size(); ++l) {
    backend.copy_packed(copies, h[l].data() + first * hidden, streams * hidden, outputs[l].data() + last,
                        window_stride, n * hidden);
    backend.copy_packed(copies, c[l].data() + first * hidden, streams * hidden, cells[l].data() + last,
                        window_stride, n * hidden);
  }
}
}  // namespace

void LstmLanguageModel::forward_backward(const Batch& batch, float loss_scale, double* loss_sum) {
  check_batch(batch, training_streams_);
  forward(batch, training_state_, true, -1);
  const std::int64_t n = batch.size, window = config_.window, hidden = config_.hidden;
  const std::int64_t copies = parameters_.copies(), stride = parameters_.stride();
  const std::int64_t rows = window * n, vocabulary = config_.vocabulary;
  const std::int64_t state_stride = training_streams_ * hidden;
  backend_.softmax_cross_entropy_packed(copies, logits_.data(), rows * vocabulary, batch.labels, rows, rows,
                                        vocabulary, logits_.data(), loss_scale, loss_sum, correct_.data());
  float* a = gradient_a_.data();
  float* b = gradient_b_.data();
  const bool dropout = config_.dropout > 0.0f;
  const std::int64_t all = copies * rows * hidden;  // elementwise over every copy at once
  decoder_->backward(parameters_, inputs_[config_.layers].data(), logits_.data(), logits_.data(), a, rows);
  if (dropout) dropout_backward(backend_, masks_[config_.layers].data(), a, a, all);
  for (std::int64_t l = config_.layers - 1; l >= 0; --l) {
    layers_[l].backward(parameters_, inputs_[l].data(), training_state_.h[l].data() + batch.first_row * hidden,
                        training_state_.c[l].data() + batch.first_row * hidden, gates_[l].data(),
                        cells_[l].data(), outputs_[l].data(), a, b, gate_gradient_.data(),
                        dh_next_.data(), dc_.data(), window, n, state_stride);
    if (dropout) dropout_backward(backend_, masks_[l].data(), b, b, all);
    std::swap(a, b);
  }
  float* embedding_gradient = parameters_.gradients() + embedding_offset_;
  backend_.fill_packed(copies, embedding_gradient, stride, vocabulary * hidden, 0.0f);
  backend_.scatter_add_rows_packed(copies, a, rows * hidden, hidden, batch.tokens, rows, rows, embedding_gradient,
                                   stride);
  carry_state(backend_, outputs_, cells_, training_state_.h, training_state_.c, copies, training_streams_, window, n,
              batch.first_row, hidden);
}

void LstmLanguageModel::evaluate(const Batch& batch, const EvaluationSums& sums) {
  check_batch(batch, evaluation_streams_);
  if (sums.copy < 0 && parameters_.copies() != 1) fail("lstm: evaluate one copy of a pack at a time");
  if (sums.copy >= parameters_.copies()) fail("lstm: no copy ", sums.copy, " in a pack of ", parameters_.copies());
  forward(batch, evaluation_state_, false, std::max<std::int64_t>(sums.copy, 0));
  const std::int64_t rows = config_.window * batch.size;
  backend_.softmax_cross_entropy_packed(1, logits_.data(), 0, batch.labels, 0, rows, config_.vocabulary, nullptr,
                                        0.0f, sums.loss, sums.metric);
  carry_state(backend_, outputs_, cells_, evaluation_state_.h, evaluation_state_.c, 1, evaluation_streams_,
              config_.window, batch.size, batch.first_row, config_.hidden);
}

}  // namespace sgdsweep::nn
