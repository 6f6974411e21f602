// What one trial is (every hyperparameter it needs) and what it produced: the values that flow
// from the grid to the trainer and from the trainer to the sweep file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sgdsweep::spec {

// Integer codes are stored in the sweep file (flag_values / flag_meanings); never renumber.
enum class ModelKind : std::int8_t { autoencoder = 0, wide_resnet = 1, lstm = 2, resnet = 3 };
enum class OptimizerKind : std::int8_t { sgd = 0, momentum = 1 };
enum class BudgetKind : std::int8_t { epochs = 0, steps = 1 };
enum class TrialStatus : std::int8_t { pending = 0, finished = 1, diverged = 2, failed = 3 };

const char* name(ModelKind kind);
const char* name(OptimizerKind kind);
const char* name(BudgetKind kind);
const char* name(TrialStatus status);

// Whether the model trains in packs, many trials as the copies of one model (train::train_pack):
// the autoencoder, the LSTM and the Wide-ResNets, the models of the paper too small to fill a GPU
// (not ResNet-50).
inline bool model_packs(ModelKind kind) { return kind != ModelKind::resnet; }

// What a model's loss and test metric are, for files and tables, and how the metric comes from
// the evaluation sums.
struct MetricInfo {
  enum class From { metric_mean, metric_percent, exp_loss_mean };
  const char* loss_name;    // the training loss, e.g. "squared error per image"
  const char* metric_name;  // the test metric
  bool higher_is_better;
  From from;                // mean of the metric sums, 100 × that, or exp(mean loss per term)
};
MetricInfo metric_info(ModelKind kind);

struct Trial {
  std::int64_t index = 0;  // row in the sweep file; position in the expanded grid
  ModelKind model = ModelKind::autoencoder;
  OptimizerKind optimizer = OptimizerKind::sgd;
  double momentum = 0.0;  // m; 0 for SGD
  std::int64_t batch_size = 0;
  double log2_effective_learning_rate = 0.0;
  double effective_learning_rate = 0.0;  // ε_eff = ε / (1 − m)
  double learning_rate = 0.0;            // ε, the rate the update uses
  std::int32_t seed_index = 0;           // 0 … seeds−1
  std::uint64_t seed = 0;                // derived from the sweep seed and seed_index (< 2^63)
  BudgetKind budget_kind = BudgetKind::epochs;
  double epochs = 0.0;                   // budget in epochs (steps / steps_per_epoch)
  std::int64_t steps = 0;                // parameter updates
  std::int64_t steps_per_epoch = 0;      // floor(train examples / B): the last partial batch is dropped
  double gamma = 2.0;                    // schedule: ÷γ every steps/20 after steps/2
  double final_effective_learning_rate = 0.0;  // ε_eff·γ^−10, the rate of the last drop
  double warmup_epochs = 0.0;
  std::int64_t warmup_steps = 0;
  double l2 = 0.0;                       // added to the gradient of every weight (not biases)
  double clip_norm = 0.0;                // global gradient-norm clipping threshold; 0 = none
  std::int64_t microbatch = 0;           // rows per forward/backward (the ghost batch with BN)
  std::int32_t evaluations = 0;          // evaluation points after step 0 (at k/evaluations of the budget)
  std::int32_t step_loss_every = 1;      // record the minibatch loss every this many steps
  double cost = 0.0;                     // predicted relative cost (for partitioning)
};

// One evaluation of a trial: index 0 is before the first update, index k at step
// round(k·steps/evaluations).
struct CurvePoint {
  std::int64_t step = 0;
  double epoch = 0.0;
  double learning_rate = 0.0;  // the rate of the update that precedes this point (ε, not ε_eff)
  double train_loss = 0.0;     // the model's loss on the training evaluation subset
  double test_metric = 0.0;    // the model's metric on the test subset
};

struct TrialOutcome {
  TrialStatus status = TrialStatus::pending;
  std::string message;                 // why a trial diverged or failed; empty when finished
  std::vector<CurvePoint> curve;       // at most evaluations + 1 points
  std::vector<float> step_losses;      // minibatch loss at steps 0, e, 2e, … (e = step_loss_every)
  std::int64_t steps_completed = 0;
  double wall_seconds = 0.0;
  double examples_per_second = 0.0;    // training examples per second (evaluation excluded)
  std::int64_t pack = 1;               // trials trained together in one model, it included (1: alone)
};

// Whether two trials can train in one pack (Model::copies, train::train_pack): the same model, one
// that packs, and the same batch, microbatch, momentum, L2 and clipping threshold. A pack shares
// its shapes and its optimizer's constants; the rate, seed, schedule and budget are each trial's own.
bool packs_with(const Trial& a, const Trial& b);

// Number of minibatch losses a trial of `steps` records: steps 0, e, 2e, … below `steps`.
inline std::int64_t step_loss_count(const Trial& trial) {
  return (trial.steps + trial.step_loss_every - 1) / trial.step_loss_every;
}

}  // namespace sgdsweep::spec
