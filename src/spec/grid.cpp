// Grid expansion (Spec → trials) and static longest-processing-time-first partitioning.
#include "spec/grid.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>
#include <utility>

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
  if ((spec.model == ModelKind::wide_resnet && spec.batch_norm) || spec.model == ModelKind::resnet) {
    rows = spec.ghost_batch_size;
  } else if (spec.microbatch > 0) {
    rows = spec.microbatch;
  } else if (spec.model == ModelKind::lstm) {
    rows = 64;
  }
  return std::min(rows, batch_size);
}

namespace {

// Multiply-adds of one ResNet-50 forward pass (resnet.cpp) on height × width images: the
// convolutions and the classifier (BN, ReLU, pooling and the residual sums are a few percent more
// element operations, left out like the WRN's). 4.09e9 at 224×224 with 1000 classes (the usual
// "4.1 GFLOPs", which counts multiply-adds), 8.3e7 at 32×32 and 3.3e8 at 64×64 with 10 classes.
double resnet50_forward_multiply_adds(std::int64_t height, std::int64_t width, std::int64_t classes) {
  const auto out = [](std::int64_t size, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
    return (size + 2 * padding - kernel) / stride + 1;
  };
  std::int64_t h = out(height, 7, 2, 3), w = out(width, 7, 2, 3);
  double total = static_cast<double>(h * w) * 64 * 49 * 3;  // stem conv7×7/2
  h = out(h, 3, 2, 1);  // max pool 3×3/2
  w = out(w, 3, 2, 1);
  const std::int64_t blocks[4] = {3, 4, 6, 3};
  double channels = 64;
  for (int group = 0; group < 4; ++group) {
    const double width_g = 64 << group, out_channels = 4 * width_g;
    for (std::int64_t b = 0; b < blocks[group]; ++b) {
      const std::int64_t stride = b == 0 && group > 0 ? 2 : 1;
      const auto in_pixels = static_cast<double>(h * w);
      h = out(h, 3, stride, 1);
      w = out(w, 3, stride, 1);
      const auto out_pixels = static_cast<double>(h * w);
      total += in_pixels * channels * width_g                 // conv1 1×1 at the input's size
               + out_pixels * width_g * width_g * 9           // conv2 3×3 (the stride)
               + out_pixels * width_g * out_channels;         // conv3 1×1
      if (b == 0) total += out_pixels * channels * out_channels;  // the projection shortcut
      channels = out_channels;
    }
  }
  return total + channels * static_cast<double>(classes);
}

}  // namespace

std::pair<std::int64_t, std::int64_t> image_size(const Spec& spec) {
  if (spec.dataset == "image-folder") return {spec.image_size, spec.image_size};
  return {32, 32};  // cifar10, cifar100
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
    case ModelKind::resnet: {
      const auto [height, width] = image_size(spec);
      const std::int64_t classes = spec.dataset == "cifar10" ? 10 : spec.dataset == "cifar100" ? 100 : 1000;
      forward = resnet50_forward_multiply_adds(height, width, classes);
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

namespace {

// Builds the trials of the grid and of its [[grid.extend]] entries by one code path, so that an
// extended trial is derived exactly like a grid trial. Extensions come after the whole Cartesian
// grid and leave out a (configuration, rate[, final rate]) that is already there, so the grid's
// numbering never changes and entries are idempotent.
class TrialBuilder {
 public:
  TrialBuilder(const Spec& spec, const DataShape& data) : spec_(spec), data_(data) {
    // Relative cost in FLOPs: a step costs B examples plus a fixed overhead of about 4 examples'
    // worth (kernel launches, the optimizer sweep); an evaluation a third of a training pass per
    // example (forward only).
    example_cost_ = flops_per_example(spec);
    const std::int64_t eval_train =
        spec.eval_train_examples > 0 ? std::min(spec.eval_train_examples, data.train_examples)
                                     : data.train_examples;
    const double examples_per_unit = spec.model == ModelKind::lstm ? 1.0 / spec.unroll : 1.0;
    evaluation_cost_ = (spec.evaluations + 1) * (eval_train + data.test_examples) * examples_per_unit *
                       example_cost_ / 3.0;
  }

  // One configuration: its optimizer, budget and batch size, and the steps they give. Throws when
  // the batch leaves no full step or the budget rounds to none.
  struct Configuration {
    OptimizerKind optimizer;
    double budget;
    std::int64_t batch_size;
    std::int64_t epoch_steps;
    std::int64_t steps;
  };
  Configuration configuration(OptimizerKind optimizer, double budget, std::int64_t batch_size) const {
    const std::int64_t epoch_steps = steps_per_epoch(spec_, data_, batch_size);
    if (epoch_steps < 1) {
      fail(spec_.source_path, ": [grid].batch_sizes: batch size ", batch_size, " leaves no full step in the ",
           data_.train_examples, spec_.model == ModelKind::lstm ? " training tokens" : " training examples",
           " in use");
    }
    std::int64_t steps = std::llround(budget);
    if (spec_.budget_kind == BudgetKind::epochs) {
      steps = std::llround(budget * static_cast<double>(epoch_steps));
      if (steps < 1) {
        fail(spec_.source_path, ": [budget].epochs = ", budget, " gives no step at batch size ", batch_size,
             " (", epoch_steps, " steps per epoch)");
      }
    }
    return {optimizer, budget, batch_size, epoch_steps, steps};
  }

  // The seeds of every (rate, final rate) pair of a configuration, rates ascending, final rates
  // within a rate; with the decoupled schedule only pairs with εf <= ε0. `skip_present`: leave out
  // pairs already added (an extension); the Cartesian grid's own pairs are distinct by validation
  // and are all added, exactly as before extensions existed.
  void add_rates(const Configuration& config, const std::vector<double>& exponents,
                 const std::vector<double>& final_exponents, bool skip_present) {
    const bool decoupled = !spec_.log2_final_effective_learning_rates.empty();
    for (double exponent : exponents) {
      if (!decoupled) {
        add_rate(config, exponent, NAN, skip_present);
        continue;
      }
      for (double final_exponent : final_exponents) {
        // εf <= ε0 only
        if (final_exponent <= exponent) add_rate(config, exponent, final_exponent, skip_present);
      }
    }
  }

  std::vector<Trial> trials;

 private:
  // Rates closer than this are the same rate: an entry's exponent written in decimal (say by
  // sgdsweep-analyze --refine) still matches the grid's `from + k·step`.
  static constexpr double kSameExponent = 1e-9;

  void add_rate(const Configuration& config, double exponent, double final_exponent, bool skip_present) {
    const bool decoupled = !std::isnan(final_exponent);
    auto& present = present_[{config.optimizer, config.budget, config.batch_size}];
    const auto same = [&](const std::pair<double, double>& pair) {
      return std::abs(pair.first - exponent) < kSameExponent &&
             (!decoupled || std::abs(pair.second - final_exponent) < kSameExponent);
    };
    if (skip_present && std::any_of(present.begin(), present.end(), same)) return;
    present.emplace_back(exponent, final_exponent);
    constexpr double kStepOverheadExamples = 4.0;
    for (std::int32_t seed_index = 0; seed_index < spec_.seeds; ++seed_index) {
      Trial trial;
      trial.index = static_cast<std::int64_t>(trials.size());
      trial.model = spec_.model;
      trial.optimizer = config.optimizer;
      trial.momentum = config.optimizer == OptimizerKind::momentum ? spec_.momentum : 0.0;
      trial.batch_size = config.batch_size;
      trial.log2_effective_learning_rate = exponent;
      trial.effective_learning_rate = std::exp2(exponent);
      trial.learning_rate = trial.effective_learning_rate * (1.0 - trial.momentum);
      trial.seed_index = seed_index;
      trial.seed = derive_seed(spec_.seed, seed_index);
      trial.budget_kind = spec_.budget_kind;
      trial.steps = config.steps;
      trial.steps_per_epoch = config.epoch_steps;
      trial.epochs = static_cast<double>(config.steps) / static_cast<double>(config.epoch_steps);
      trial.gamma = decoupled ? std::exp2((exponent - final_exponent) / 10.0) : spec_.gamma;
      trial.final_effective_learning_rate =
          decoupled ? std::exp2(final_exponent) : trial.effective_learning_rate * std::pow(spec_.gamma, -10.0);
      trial.warmup_epochs = spec_.warmup_epochs;
      trial.warmup_steps = std::llround(spec_.warmup_epochs * static_cast<double>(config.epoch_steps));
      trial.l2 = spec_.l2;
      trial.clip_norm = spec_.clip_norm;
      trial.microbatch = microbatch_size(spec_, config.batch_size);
      trial.evaluations = spec_.evaluations;
      trial.step_loss_every = spec_.step_loss_every;
      const double examples = static_cast<double>(config.steps) * (config.batch_size + kStepOverheadExamples);
      trial.cost = examples * example_cost_ + evaluation_cost_;
      trials.push_back(trial);
    }
  }

  const Spec& spec_;
  const DataShape& data_;
  double example_cost_ = 0;
  double evaluation_cost_ = 0;
  // Per configuration, the (rate, final rate) pairs added so far (final NaN: the coupled schedule).
  std::map<std::tuple<OptimizerKind, double, std::int64_t>, std::vector<std::pair<double, double>>> present_;
};

}  // namespace

std::vector<Trial> expand_grid(const Spec& spec, const DataShape& data) {
  TrialBuilder builder(spec, data);
  for (OptimizerKind optimizer : spec.optimizers) {
    for (double budget : spec.budgets) {
      for (std::int64_t batch_size : spec.batch_sizes) {
        builder.add_rates(builder.configuration(optimizer, budget, batch_size), spec.log2_effective_learning_rates,
                          spec.log2_final_effective_learning_rates, false);
      }
    }
  }
  for (const GridExtension& extension : spec.grid_extensions) {
    builder.add_rates(builder.configuration(extension.optimizer, extension.budget, extension.batch_size),
                      extension.log2_effective_learning_rates, extension.log2_final_effective_learning_rates,
                      true);
  }
  return std::move(builder.trials);
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
