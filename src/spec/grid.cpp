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

std::int64_t steps_per_epoch(const Spec& spec, const DataShape& data, std::int64_t batch_size) {
  if (batch_size <= 0) return 0;
  if (spec.model == ModelKind::lstm) {
    const std::int64_t length = data.train_examples / batch_size;
    return length > 1 ? (length - 1) / spec.unroll : 0;
  }
  return data.train_examples / batch_size;
}

std::int64_t microbatch_size(const Spec& spec, std::int64_t batch_size) {
  std::int64_t rows = batch_size;
  if (spec.model == ModelKind::wide_resnet && spec.batch_norm) {
    rows = spec.ghost_batch_size;
  } else if (spec.microbatch > 0) {
    rows = spec.microbatch;
  } else if (spec.model == ModelKind::lstm) {
    rows = 64;
  }
  return std::min(rows, batch_size);
}

double flops_per_example(const Spec& spec) {
  // Multiply-adds of the forward pass; × 2 FLOPs × 3 for forward and backward.
  double forward = 0;
  switch (spec.model) {
    case ModelKind::autoencoder:
      forward = 784.0 * 1000 + 1000 * 500 + 500 * 250 + 250 * 30;
      forward *= 2;  // encoder and decoder mirror each other
      break;
    case ModelKind::wide_resnet: {
      double pixels = 32 * 32, channels = 16;
      forward = pixels * 16 * 27;  // stem
      const std::int64_t blocks = (spec.depth - 4) / 6;
      for (int group = 0; group < 3; ++group) {
        const double out = 16.0 * spec.width * (1 << group);
        for (std::int64_t b = 0; b < blocks; ++b) {
          if (b == 0 && group > 0) pixels /= 4;
          forward += pixels * out * 9 * channels + pixels * out * 9 * out;
          if (channels != out) forward += pixels * out * channels;
          channels = out;
        }
      }
      forward += channels * 100;
      break;
    }
    case ModelKind::lstm: {
      const double vocabulary = 10000;  // about PTB's
      const double per_token = spec.layers * 8.0 * spec.hidden * spec.hidden + spec.hidden * vocabulary;
      forward = per_token * static_cast<double>(spec.unroll);
      break;
    }
  }
  return 6.0 * forward;
}

std::vector<Trial> expand_grid(const Spec& spec, const DataShape& data) {
  // Relative cost in FLOPs: a step costs B examples plus a fixed overhead of about 4 examples'
  // worth (kernel launches, the optimizer sweep); an evaluation a third of a training pass per
  // example (forward only).
  constexpr double kStepOverheadExamples = 4.0;
  const double example_cost = flops_per_example(spec);
  const std::int64_t eval_train =
      spec.eval_train_examples > 0 ? std::min(spec.eval_train_examples, data.train_examples)
                                   : data.train_examples;
  const double examples_per_unit = spec.model == ModelKind::lstm ? 1.0 / spec.unroll : 1.0;
  const double evaluation_cost = (spec.evaluations + 1) * (eval_train + data.test_examples) *
                                 examples_per_unit * example_cost / 3.0;
  std::vector<double> finals = spec.log2_final_effective_learning_rates;
  const bool decoupled = !finals.empty();
  if (!decoupled) finals.push_back(NAN);

  std::vector<Trial> trials;
  for (OptimizerKind optimizer : spec.optimizers) {
   for (double budget : spec.budgets) {
    for (std::int64_t batch_size : spec.batch_sizes) {
      const std::int64_t epoch_steps = steps_per_epoch(spec, data, batch_size);
      if (epoch_steps < 1) {
        fail(spec.source_path, ": [grid].batch_sizes: batch size ", batch_size, " leaves no full step in the ",
             data.train_examples, spec.model == ModelKind::lstm ? " training tokens" : " training examples",
             " in use");
      }
      std::int64_t steps = std::llround(budget);
      if (spec.budget_kind == BudgetKind::epochs) {
        steps = std::llround(budget * static_cast<double>(epoch_steps));
        if (steps < 1) {
          fail(spec.source_path, ": [budget].epochs = ", budget, " gives no step at batch size ",
               batch_size, " (", epoch_steps, " steps per epoch)");
        }
      }
      for (double exponent : spec.log2_effective_learning_rates) {
        for (double final_exponent : finals) {
          if (decoupled && final_exponent > exponent) continue;  // εf <= ε0 only
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
            trial.steps_per_epoch = epoch_steps;
            trial.epochs = static_cast<double>(steps) / static_cast<double>(epoch_steps);
            trial.gamma = decoupled ? std::exp2((exponent - final_exponent) / 10.0) : spec.gamma;
            trial.final_effective_learning_rate =
                decoupled ? std::exp2(final_exponent)
                          : trial.effective_learning_rate * std::pow(spec.gamma, -10.0);
            trial.warmup_epochs = spec.warmup_epochs;
            trial.warmup_steps = std::llround(spec.warmup_epochs * static_cast<double>(epoch_steps));
            trial.l2 = spec.l2;
            trial.clip_norm = spec.clip_norm;
            trial.microbatch = microbatch_size(spec, batch_size);
            trial.evaluations = spec.evaluations;
            trial.step_loss_every = spec.step_loss_every;
            trial.cost = static_cast<double>(steps) * (batch_size + kStepOverheadExamples) * example_cost +
                         evaluation_cost;
            trials.push_back(trial);
          }
        }
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
