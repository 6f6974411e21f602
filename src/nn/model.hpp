// The model interface the trainer drives: forward + backward on a microbatch, evaluation,
// parameters, and (for language models) the recurrent state carried between windows.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/parameters.hpp"
#include "util/error.hpp"

namespace sgdsweep::nn {

// A microbatch in backend memory: rows [first_row, first_row + size) of the step's batch of
// step_rows rows. Which fields a model reads is its own business: the autoencoder reads
// `features` ([size, 784], its own target); image classifiers read `features` (NHWC images) and
// `labels` [size]; the language model reads `tokens` and `labels` as time-major [window, size]
// token ids (labels = the next tokens). A pack of models (Model::copies() = P) reads P microbatches
// back to back, copy-major (features [P, size, 784], tokens [P, window, size]), one per copy, all
// of the same size.
struct Batch {
  const float* features = nullptr;
  const std::int32_t* tokens = nullptr;
  const std::int32_t* labels = nullptr;
  std::int64_t size = 0;
  std::int64_t first_row = 0;
  std::int64_t step_rows = 0;  // 0 means size (the microbatch is the whole batch)
  std::int64_t step = 0;       // the trial's update index (dropout masks)
  // A pack: copy c's update index steps[c] (host memory); null: `step` for every copy.
  const std::int64_t* steps = nullptr;
};

// What evaluate() adds up over a microbatch (backend memory, doubles).
struct EvaluationSums {
  double* loss = nullptr;    // Σ of the per-term loss
  double* metric = nullptr;  // Σ of the per-example metric (squared error, correct predictions);
                             // unused by models whose metric derives from the loss (perplexity)
  // A pack (Model::copies): the copy to evaluate, alone, by the ops a model of one copy uses
  // (so with its bits); −1: the model of one copy.
  std::int64_t copy = -1;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual Parameters& parameters() = 0;
  // Largest microbatch forward_backward and evaluate accept (activations are allocated for it).
  virtual std::int64_t max_batch() const = 0;
  // Loss terms per example: 1, or the window length of a language model (one per token).
  virtual std::int64_t terms_per_example() const { return 1; }

  // Models trained together as one pack (parameters().copies()): each copy its own trial, every
  // op a packed op over the copies, so that a copy's arithmetic is the same in a pack of any size.
  // 1 for the models that do not pack (the autoencoder and the LSTM do).
  std::int64_t copies() { return parameters().copies(); }
  // Draws copy `copy`'s initial parameters from `seed` (a pack slot taking its next trial).
  virtual void initialize(std::int64_t /*copy*/, std::uint64_t /*seed*/) { fail("this model does not pack"); }

  // *loss_sum ← Σ of the per-term losses of the microbatch (backend memory; loss_sum[c] for copy
  // c of a pack); parameters' gradients ← loss_scale · ∂(Σ loss)/∂θ (overwritten, not
  // accumulated). With dropout, masks follow (seed, batch.step, batch.first_row + row).
  virtual void forward_backward(const Batch& batch, float loss_scale, double* loss_sum) = 0;

  // Evaluation mode (no dropout, running statistics); adds nothing to the training state.
  virtual void evaluate(const Batch& batch, const EvaluationSums& sums) = 0;

  // Whether a training step's ops depend on nothing but backend memory and the batch's shape, so
  // that a step can be recorded once and replayed (Backend::record), given begin_step before each.
  virtual bool replayable() const { return false; }
  // Copy c is about to train update steps[c]: the host work its step depends on, outside the step
  // (and any recording of it): the dropout masks' streams into backend memory. forward_backward
  // works without it (and then does that work itself).
  virtual void begin_step(const std::vector<std::int64_t>& /*steps*/) {}

  // Recurrent models: zero the state carried between windows (training: copy `copy`'s, at each
  // epoch start of its trial; evaluation: before each pass). No-op for the others.
  virtual void reset_training_state(std::int64_t /*copy*/) {}
  virtual void reset_evaluation_state() {}
};

}  // namespace sgdsweep::nn
