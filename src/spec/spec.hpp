// The sweep as data: a TOML spec file parsed and validated into a `Spec`. Nothing reads the TOML
// after this; docs/spec.md documents every key, its type and its default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "spec/trial.hpp"

namespace sgdsweep::spec {

// One [[grid.extend]] entry: more learning rates for one configuration of the grid, run after the
// whole Cartesian grid so that the trials already in a sweep file keep their rows (adaptive
// refinement: `sgdsweep-analyze --refine` writes these, `sgdsweep run --append` runs them).
struct GridExtension {
  OptimizerKind optimizer = OptimizerKind::sgd;  // one of Spec::optimizers
  double budget = 0.0;                           // one of Spec::budgets
  std::int64_t batch_size = 0;                   // one of Spec::batch_sizes
  std::vector<double> log2_effective_learning_rates;  // ascending, distinct
  // Decoupled specs only: the final rates to pair with (default: the grid's); empty otherwise.
  std::vector<double> log2_final_effective_learning_rates;
};

struct Spec {
  std::string source_path;  // the file the spec came from ("<string>" when parsed from text)
  std::string source_text;  // the TOML exactly as given; stored in the sweep file

  // [sweep]
  std::string name = "sweep";
  std::uint64_t seed = 0;
  std::int32_t seeds = 1;
  std::string device = "host";
  bool deterministic = true;  // cuda: deterministic cuDNN algorithms only (bit-identical reruns)
  bool tf32 = false;          // cuda: TF32 tensor cores in GEMMs and convolutions

  // [model]
  ModelKind model = ModelKind::autoencoder;
  std::string model_name = "autoencoder";  // as written: "autoencoder", "wrn-16-4", "resnet50", "lstm"
  std::string init = "sparse";  // autoencoder: "sparse" (Martens 2010) | "glorot"
  std::int64_t depth = 16;      // wrn: depth and width from the name wrn-<depth>-<width>
  std::int64_t width = 4;
  bool batch_norm = true;       // wrn: "ghost-bn" (true) | "skipinit" (false)
  std::int64_t ghost_batch_size = 64;  // wrn with ghost BN and resnet50
  double dropout = 0.0;         // wrn SkipInit: 0.6 before the classifier; lstm: 0.5
  std::int64_t layers = 2;      // lstm
  std::int64_t hidden = 650;
  std::int64_t unroll = 35;
  double init_scale = 0.05;
  std::int64_t microbatch = 0;  // rows per forward/backward; 0 = the model's default

  // [data]
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | cifar10 | cifar100 | ptb | image-folder
  std::string data_path = "/usr/share/datasets/fashion-mnist";  // resolved against the spec's folder
  std::string train_file = "ptb.train.txt";  // ptb only
  std::string test_file = "ptb.test.txt";
  bool augment = true;              // cifar: pad-4 random crop and flip; image-folder: random-resized crop and flip
  std::string train_split = "train";  // image-folder: the split folders under the path
  std::string test_split = "val";
  std::int64_t image_size = 224;      // image-folder: side of the square crops the model sees
  std::int64_t train_examples = 0;  // first N training examples (ptb: tokens); 0 = all
  std::int64_t test_examples = 0;   // first N test examples (ptb: tokens); 0 = all

  // [budget]
  BudgetKind budget_kind = BudgetKind::epochs;
  std::vector<double> budgets;  // epochs, or steps (integers); several make a grid dimension

  // [schedule]
  double gamma = 2.0;
  double warmup_epochs = 0.0;

  // [optimizer]
  std::vector<OptimizerKind> optimizers;
  double momentum = 0.9;
  double l2 = 1e-5;        // default by model: autoencoder 1e-5, wrn 5e-4, resnet50 1e-4, lstm 0
  double clip_norm = 0.0;  // global gradient-norm clipping; default by model: lstm 5, others none

  // [grid]
  std::vector<std::int64_t> batch_sizes;
  std::vector<double> log2_effective_learning_rates;  // ascending, distinct
  // Decoupled schedule (004 §7.1): final rates swept independently; γ = (ε0/εf)^(1/10) per trial,
  // pairs with εf ≤ ε0 only. Empty: the schedule's γ.
  std::vector<double> log2_final_effective_learning_rates;
  std::vector<GridExtension> grid_extensions;  // [[grid.extend]], in the order written

  // [evaluation]
  std::int32_t evaluations = 10;
  std::int64_t eval_train_examples = 0;  // training-loss evaluation on the first N used examples; 0 = all
  std::int32_t step_loss_every = 1;
  std::int64_t evaluation_streams = 10;  // lstm: parallel streams of the evaluation passes

  // [parallel]
  std::int64_t max_examples_per_rank = 0;  // a trial with B above this runs on a team; 0 = no limit
  bool balance_teams = true;  // the planner may give trials bigger teams to balance the makespan
  // Most trials a rank trains together as one pack (train::train_pack; fewer where memory or the
  // compatible trials left are short); 1 = one trial at a time. Autoencoder only.
  std::int64_t pack = 1;

  // [analysis]
  std::int32_t best_k = 0;  // best k of n seeds; 0 until validated: then n
};

// Parses and validates; throws Error naming the file, line and field of the first problem.
Spec parse_spec(const std::string& text, const std::string& source_path);
// Reads the file, then parse_spec. Relative data paths are resolved against the file's folder.
Spec load_spec(const std::string& path);

// Command-line overrides of a loaded spec (`--device`, `--pack`): empty / 0 leave the spec's value.
// Throws Error naming the option when the value does not fit the spec.
void apply_overrides(Spec& spec, const std::string& device, std::int64_t pack);

// The sections a trial's result depends on that a sweep file's hyperparameter columns do not
// record ([model], [data], [evaluation]) whose TOML differs between two spec texts (an absent
// section equals an empty one), by name. `sgdsweep run --append` refuses such a pair: the new
// trials would not be comparable with the old ones. Both texts must be valid specs.
std::vector<std::string> unrecorded_differences(const std::string& stored_text, const std::string& text);

}  // namespace sgdsweep::spec
