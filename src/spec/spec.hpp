// The sweep as data: a TOML spec file parsed and validated into a `Spec`. Nothing reads the TOML
// after this; docs/spec.md documents every key, its type and its default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spec/trial.hpp"

namespace sgdsweep::spec {

struct Spec {
  std::string source_path;  // the file the spec came from ("<string>" when parsed from text)
  std::string source_text;  // the TOML exactly as given; stored in the sweep file

  // [sweep]
  std::string name = "sweep";
  std::uint64_t seed = 0;
  std::int32_t seeds = 1;
  std::string device = "host";

  // [model]
  ModelKind model = ModelKind::autoencoder;
  std::string init = "sparse";  // autoencoder: "sparse" (Martens 2010) | "glorot"

  // [data]
  std::string dataset = "fashion-mnist";
  std::string data_path = "/usr/share/datasets/fashion-mnist";  // resolved against the spec's folder
  std::int64_t train_examples = 0;  // first N training examples; 0 = all
  std::int64_t test_examples = 0;   // first N test examples; 0 = all

  // [budget]
  BudgetKind budget_kind = BudgetKind::epochs;
  double epochs = 0.0;
  std::int64_t steps = 0;

  // [schedule]
  double gamma = 2.0;
  double warmup_epochs = 0.0;

  // [optimizer]
  std::vector<OptimizerKind> optimizers;
  double momentum = 0.9;
  double l2 = 1e-5;  // the autoencoder's L2 (appendix B.2)

  // [grid]
  std::vector<std::int64_t> batch_sizes;
  std::vector<double> log2_effective_learning_rates;  // ascending, distinct

  // [evaluation]
  std::int32_t evaluations = 10;
  std::int64_t eval_train_examples = 0;  // training-loss evaluation on the first N used examples; 0 = all
  std::int32_t step_loss_every = 1;

  // [analysis]
  std::int32_t best_k = 0;  // best k of n seeds; 0 until validated: then n
};

// Parses and validates; throws Error naming the file, line and field of the first problem.
Spec parse_spec(const std::string& text, const std::string& source_path);
// Reads the file, then parse_spec. Relative data paths are resolved against the file's folder.
Spec load_spec(const std::string& path);

}  // namespace sgdsweep::spec
