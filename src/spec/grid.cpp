// Grid expansion (Spec → trials) and static longest-processing-time-first partitioning.
#include "spec/grid.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.hpp"

namespace sgdsweep::spec {

std::uint64_t derive_seed(std::uint64_t sweep_seed, std::int32_t index) {
  std::uint64_t z = sweep_seed + 0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(index) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;
}

std::vector<Trial> expand_grid(const Spec& spec, std::int64_t train_examples,
                               std::int64_t test_examples) {
  // Relative cost in example-passes: a training step costs B forward+backward passes plus a fixed
  // overhead of about 4 examples' worth (kernel launches, the optimizer sweep); an evaluation
  // costs a third of a training pass per example (forward only).
  constexpr double kStepOverheadExamples = 4.0;
  const std::int64_t eval_train =
      spec.eval_train_examples > 0 ? std::min(spec.eval_train_examples, train_examples)
                                   : train_examples;
  const double evaluation_cost = (spec.evaluations + 1) * (eval_train + test_examples) / 3.0;

  std::vector<Trial> trials;
  for (OptimizerKind optimizer : spec.optimizers) {
    for (std::int64_t batch_size : spec.batch_sizes) {
      if (batch_size > train_examples) {
        fail(spec.source_path, ": [grid].batch_sizes: batch size ", batch_size, " exceeds the ",
             train_examples, " training examples in use");
      }
      const std::int64_t steps_per_epoch = train_examples / batch_size;
      std::int64_t steps = spec.steps;
      if (spec.budget_kind == BudgetKind::epochs) {
        steps = std::llround(spec.epochs * static_cast<double>(steps_per_epoch));
        if (steps < 1) {
          fail(spec.source_path, ": [budget].epochs = ", spec.epochs, " gives no step at batch size ",
               batch_size, " (", steps_per_epoch, " steps per epoch)");
        }
      }
      for (double exponent : spec.log2_effective_learning_rates) {
        for (std::int32_t seed_index = 0; seed_index < spec.seeds; ++seed_index) {
          Trial trial;
          trial.index = static_cast<std::int64_t>(trials.size());
          trial.model = spec.model;
          trial.optimizer = optimizer;
          trial.momentum = optimizer == OptimizerKind::momentum ? spec.momentum : 0.0;
          trial.batch_size = batch_size;
          trial.log2_effective_learning_rate = exponent;
          trial.effective_learning_rate = std::exp2(exponent);
          trial.learning_rate = trial.effective_learning_rate * (1.0 - trial.momentum);
          trial.seed_index = seed_index;
          trial.seed = derive_seed(spec.seed, seed_index);
          trial.budget_kind = spec.budget_kind;
          trial.steps = steps;
          trial.steps_per_epoch = steps_per_epoch;
          trial.epochs = static_cast<double>(steps) / static_cast<double>(steps_per_epoch);
          trial.gamma = spec.gamma;
          trial.warmup_epochs = spec.warmup_epochs;
          trial.warmup_steps =
              std::llround(spec.warmup_epochs * static_cast<double>(steps_per_epoch));
          trial.l2 = spec.l2;
          trial.evaluations = spec.evaluations;
          trial.step_loss_every = spec.step_loss_every;
          trial.cost = static_cast<double>(steps) * (batch_size + kStepOverheadExamples) +
                       evaluation_cost;
          trials.push_back(trial);
        }
      }
    }
  }
  return trials;
}

std::vector<std::vector<std::int64_t>> partition(const std::vector<Trial>& trials, int ranks) {
  if (ranks < 1) fail("partition over ", ranks, " ranks");
  std::vector<std::int64_t> order(trials.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return trials[a].cost > trials[b].cost;
  });
  std::vector<std::vector<std::int64_t>> assignment(static_cast<std::size_t>(ranks));
  std::vector<double> load(static_cast<std::size_t>(ranks), 0.0);
  for (std::int64_t index : order) {
    const auto rank = static_cast<std::size_t>(
        std::min_element(load.begin(), load.end()) - load.begin());
    assignment[rank].push_back(index);
    load[rank] += trials[index].cost;
  }
  return assignment;
}

}  // namespace sgdsweep::spec
