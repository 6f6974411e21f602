// Spec parsing: a full spec, defaults, and the errors a user meets (each naming file, line, field).
#include <gtest/gtest.h>

#include "spec/grid.hpp"
#include "spec/model_size.hpp"
#include "spec/spec.hpp"
#include "test_support.hpp"

using sgdsweep::spec::parse_spec;
using sgdsweep::testing::expect_error;

namespace {

const char* kValid = R"(
[sweep]
name = "unit"
seed = 7
seeds = 3

[model]
name = "autoencoder"
init = "glorot"

[data]
path = "/usr/share/datasets/fashion-mnist"
train_examples = 1000

[budget]
epochs = 2.5

[schedule]
gamma = 3.0
warmup_epochs = 1

[optimizer]
names = ["momentum", "sgd"]
momentum = 0.8

[grid]
batch_sizes = [64, 16]
log2_effective_lr = { from = -8, to = -6, step = 0.5 }

[evaluation]
points = 4

[analysis]
best_k = 2
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST(Spec, ParsesEveryKey) {
  const auto spec = parse_spec(kValid, "unit.toml");
  EXPECT_EQ(spec.name, "unit");
  EXPECT_EQ(spec.seed, 7u);
  EXPECT_EQ(spec.seeds, 3);
  EXPECT_EQ(spec.init, "glorot");
  EXPECT_EQ(spec.train_examples, 1000);
  EXPECT_EQ(spec.test_examples, 0);
  EXPECT_EQ(spec.budget_kind, sgdsweep::spec::BudgetKind::epochs);
  EXPECT_EQ(spec.budgets, (std::vector<double>{2.5}));
  EXPECT_DOUBLE_EQ(spec.gamma, 3.0);
  EXPECT_DOUBLE_EQ(spec.warmup_epochs, 1.0);
  ASSERT_EQ(spec.optimizers.size(), 2u);
  EXPECT_EQ(spec.optimizers[0], sgdsweep::spec::OptimizerKind::momentum);
  EXPECT_DOUBLE_EQ(spec.momentum, 0.8);
  EXPECT_DOUBLE_EQ(spec.l2, 1e-5);  // the autoencoder's default
  EXPECT_EQ(spec.batch_sizes, (std::vector<std::int64_t>{64, 16}));
  EXPECT_EQ(spec.log2_effective_learning_rates, (std::vector<double>{-8, -7.5, -7, -6.5, -6}));
  EXPECT_EQ(spec.evaluations, 4);
  EXPECT_EQ(spec.best_k, 2);
  EXPECT_EQ(spec.source_text, kValid);
}

TEST(Spec, ExplicitRateListAndStepBudget) {
  std::string text = replace(kValid, "log2_effective_lr = { from = -8, to = -6, step = 0.5 }",
                             "log2_effective_lr = [-3, -5, -4]");
  text = replace(text, "epochs = 2.5", "steps = 500");
  const auto spec = parse_spec(text, "unit.toml");
  EXPECT_EQ(spec.log2_effective_learning_rates, (std::vector<double>{-5, -4, -3}));
  EXPECT_EQ(spec.budget_kind, sgdsweep::spec::BudgetKind::steps);
  EXPECT_EQ(spec.budgets, (std::vector<double>{500}));
}

TEST(Spec, BestKDefaultsToAllSeeds) {
  const auto spec = parse_spec(replace(kValid, "best_k = 2", ""), "unit.toml");
  EXPECT_EQ(spec.best_k, 3);
}

TEST(Spec, UnknownKeyNamesItsLineAndTheValidKeys) {
  expect_error([] { parse_spec(replace(kValid, "batch_sizes", "batch_size"), "unit.toml"); },
               {"unit.toml:27:", "unknown key 'batch_size' in [grid]", "valid keys: batch_sizes, log2_effective_lr"});
  expect_error([] { parse_spec(std::string(kValid) + "\n[extra]\nx = 1\n", "unit.toml"); },
               {"unknown section [extra]"});
}

TEST(Spec, BadTypeNamesTheField) {
  expect_error([] { parse_spec(replace(kValid, "seeds = 3", "seeds = \"three\""), "unit.toml"); },
               {"unit.toml:5:", "[sweep].seeds must be an integer", "got string"});
  expect_error([] { parse_spec(replace(kValid, "batch_sizes = [64, 16]", "batch_sizes = [64, 1.5]"), "unit.toml"); },
               {"[grid].batch_sizes must be a non-empty array of integers"});
}

TEST(Spec, DeviceOptions) {
  const auto defaults = parse_spec(kValid, "unit.toml");
  EXPECT_EQ(defaults.device, "host");
  EXPECT_TRUE(defaults.deterministic);
  EXPECT_FALSE(defaults.tf32);
  const auto gpu = parse_spec(replace(kValid, "seeds = 3", "seeds = 3\ndevice = \"cuda\"\ndeterministic = false\ntf32 = true"),
                              "unit.toml");
  EXPECT_EQ(gpu.device, "cuda");
  EXPECT_FALSE(gpu.deterministic);
  EXPECT_TRUE(gpu.tf32);
  expect_error([] { parse_spec(replace(kValid, "seeds = 3", "seeds = 3\ntf32 = 1"), "unit.toml"); },
               {"unit.toml:6:", "[sweep].tf32", "true or false"});
  expect_error([] { parse_spec(replace(kValid, "seeds = 3", "seeds = 3\ndevice = \"tpu\""), "unit.toml"); },
               {"[sweep].device", "\"host\" or \"cuda\""});
}

TEST(Spec, PackIsEveryModelButResNet50) {
  EXPECT_EQ(parse_spec(kValid, "unit.toml").pack, 1);
  auto spec = parse_spec(kValid + std::string("\n[parallel]\npack = 16\n"), "unit.toml");
  EXPECT_EQ(spec.pack, 16);
  apply_overrides(spec, "cuda", 64);
  EXPECT_EQ(spec.pack, 64);
  EXPECT_EQ(spec.device, "cuda");
  apply_overrides(spec, "", 0);  // nothing given: nothing changes
  EXPECT_EQ(spec.pack, 64);
  expect_error([] { parse_spec(kValid + std::string("\n[parallel]\npack = 0\n"), "unit.toml"); },
               {"[parallel].pack", "between 1 and 4096"});
  const std::string resnet =
      replace(kValid, "name = \"autoencoder\"\ninit = \"glorot\"", "name = \"resnet50\"");
  expect_error([&] { parse_spec(resnet + "\n[parallel]\npack = 2\n", "unit.toml"); },
               {"[parallel].pack", "ResNet-50 does not train in packs"});
  auto resnet50 = parse_spec(resnet, "unit.toml");
  expect_error([&] { apply_overrides(resnet50, "", 2); }, {"--pack 2", "ResNet-50 does not"});
  const std::string wrn = replace(kValid, "name = \"autoencoder\"\ninit = \"glorot\"", "name = \"wrn-16-4\"");
  EXPECT_EQ(parse_spec(wrn + "\n[parallel]\npack = 2\n", "unit.toml").pack, 2);
  const std::string lstm =
      replace(kValid, "name = \"autoencoder\"\ninit = \"glorot\"", "name = \"lstm\"\nhidden = 32");
  auto packed_lstm = parse_spec(lstm + "\n[parallel]\npack = 8\n", "unit.toml");
  EXPECT_EQ(packed_lstm.pack, 8);
  apply_overrides(packed_lstm, "", 3);
  EXPECT_EQ(packed_lstm.pack, 3);
}

TEST(Spec, NegativeBatchSizeNamesTheEntry) {
  expect_error([] { parse_spec(replace(kValid, "[64, 16]", "[64, -16]"), "unit.toml"); },
               {"unit.toml:27:", "[grid].batch_sizes", "[1] = -16", "must be positive"});
}

TEST(Spec, OtherRangeErrors) {
  expect_error([] { parse_spec(replace(kValid, "epochs = 2.5", "epochs = 2.5\nsteps = 10"), "s.toml"); },
               {"exactly one of epochs"});
  expect_error([] { parse_spec(replace(kValid, "momentum = 0.8", "momentum = 1.0"), "s.toml"); },
               {"[optimizer].momentum", "(0, 1)"});
  expect_error([] { parse_spec(replace(kValid, "\"momentum\", \"sgd\"", "\"adam\""), "s.toml"); },
               {"[optimizer].names", "'adam'"});
  expect_error([] { parse_spec(replace(kValid, "best_k = 2", "best_k = 4"), "s.toml"); },
               {"[analysis].best_k", "seeds = 3"});
  expect_error([] { parse_spec(replace(kValid, "name = \"autoencoder\"", "name = \"resnet\""), "s.toml"); },
               {"[model].name", "'resnet'"});
  expect_error([] { parse_spec(replace(kValid, "[model]\nname = \"autoencoder\"", "[model]"), "s.toml"); },
               {"missing required [model].name"});
  expect_error([] { parse_spec("[sweep\n", "broken.toml"); }, {"broken.toml:", "TOML syntax error"});
}

TEST(Spec, RelativeDataPathIsResolvedAgainstTheSpecFolder) {
  const auto spec = parse_spec(replace(kValid, "/usr/share/datasets/fashion-mnist", "../data/fm"),
                               "/work/specs/unit.toml");
  EXPECT_EQ(spec.data_path, "/work/data/fm");
}

TEST(Spec, MissingSpecFileIsNamed) {
  expect_error([] { sgdsweep::spec::load_spec("/nonexistent/sweep.toml"); }, {"/nonexistent/sweep.toml", "cannot open"});
}

TEST(Spec, GridExtendEntries) {
  const std::string text = std::string(kValid) + R"(
# Added by sgdsweep-analyze --refine
[[grid.extend]]
optimizer = "sgd"
batch_size = 16
log2_effective_lr = [-4, -5]

[[grid.extend]]
optimizer = "momentum"
batch_size = 64
budget = 2.5
log2_effective_lr = { from = -10, to = -9 }
)";
  const auto spec = parse_spec(text, "unit.toml");
  ASSERT_EQ(spec.grid_extensions.size(), 2u);
  const auto& first = spec.grid_extensions[0];
  EXPECT_EQ(first.optimizer, sgdsweep::spec::OptimizerKind::sgd);
  EXPECT_EQ(first.batch_size, 16);
  EXPECT_EQ(first.budget, 2.5);  // the only budget
  EXPECT_EQ(first.log2_effective_learning_rates, (std::vector<double>{-5, -4}));
  EXPECT_TRUE(first.log2_final_effective_learning_rates.empty());
  const auto& second = spec.grid_extensions[1];
  EXPECT_EQ(second.optimizer, sgdsweep::spec::OptimizerKind::momentum);
  EXPECT_EQ(second.log2_effective_learning_rates, (std::vector<double>{-10, -9}));
  EXPECT_TRUE(parse_spec(kValid, "unit.toml").grid_extensions.empty());
}

TEST(Spec, GridExtendDecoupledFinalRatesDefaultToTheGrid) {
  std::string text = replace(kValid, "gamma = 3.0\n", "");
  text = replace(text, "log2_effective_lr = { from = -8, to = -6, step = 0.5 }",
                 "log2_effective_lr = [-2, 0]\nlog2_final_effective_lr = [-8, -1]");
  const auto spec = parse_spec(text + R"(
[[grid.extend]]
optimizer = "sgd"
batch_size = 64
log2_effective_lr = [1]

[[grid.extend]]
optimizer = "sgd"
batch_size = 64
log2_effective_lr = [1]
log2_final_effective_lr = [-9]
)", "unit.toml");
  EXPECT_EQ(spec.grid_extensions[0].log2_final_effective_learning_rates, (std::vector<double>{-8, -1}));
  EXPECT_EQ(spec.grid_extensions[1].log2_final_effective_learning_rates, (std::vector<double>{-9}));
}

TEST(Spec, GridExtendErrorsNameTheEntryAndField) {
  const auto extended = [](const std::string& entries) { return std::string(kValid) + "\n" + entries; };
  const std::string good = "[[grid.extend]]\noptimizer = \"sgd\"\nbatch_size = 16\nlog2_effective_lr = [-3]\n";
  expect_error([&] { parse_spec(extended(good + "rates = [1]\n"), "unit.toml"); },
               {"unit.toml:", "unknown key 'rates' in [grid].extend[0]", "valid keys: optimizer, batch_size"});
  expect_error([&] { parse_spec(replace(extended(good), "\"momentum\", \"sgd\"", "\"momentum\""), "unit.toml"); },
               {"[grid].extend[0].optimizer", "'sgd' is not one of [optimizer].names (momentum)"});
  expect_error([&] { parse_spec(extended(good + "\n" + replace(good, "16", "32")), "unit.toml"); },
               {"[grid].extend[1].batch_size", "= 32 is not one of [grid].batch_sizes (64, 16)"});
  expect_error([&] { parse_spec(extended(good + "budget = 3\n"), "unit.toml"); },
               {"[grid].extend[0].budget", "= 3 is not one of the [budget] values (2.5)"});
  expect_error([&] { parse_spec(replace(extended(good), "epochs = 2.5", "epochs = [1, 2]"), "unit.toml"); },
               {"missing required [grid].extend[0].budget", "several budgets", "1, 2"});
  expect_error([&] { parse_spec(extended(replace(good, "[-3]", "[]")), "unit.toml"); },
               {"[grid].extend[0].log2_effective_lr", "at least one learning rate"});
  expect_error([&] { parse_spec(extended(replace(good, "log2_effective_lr = [-3]\n", "")), "unit.toml"); },
               {"missing required [grid].extend[0].log2_effective_lr"});
  expect_error([&] { parse_spec(extended(replace(good, "optimizer = \"sgd\"\n", "")), "unit.toml"); },
               {"missing required [grid].extend[0].optimizer", "one of [optimizer].names: momentum, sgd"});
  expect_error([&] { parse_spec(extended(good + "log2_final_effective_lr = [-9]\n"), "unit.toml"); },
               {"[grid].extend[0].log2_final_effective_lr", "decoupled specs only"});
  expect_error([&] { parse_spec(replace(kValid, "[grid]\n", "[grid]\nextend = 3\n"), "unit.toml"); },
               {"[grid].extend must be an array of tables", "[[grid.extend]]"});
}

TEST(Spec, UnrecordedDifferencesAreTheSectionsTheColumnsDoNotHold) {
  using sgdsweep::spec::unrecorded_differences;
  const std::string extended =
      std::string(kValid) + "\n[[grid.extend]]\noptimizer = \"sgd\"\nbatch_size = 16\nlog2_effective_lr = [-3]\n";
  EXPECT_TRUE(unrecorded_differences(kValid, extended).empty());
  EXPECT_TRUE(unrecorded_differences(kValid, replace(kValid, "[64, 16]", "[64, 16, 256]")).empty());
  EXPECT_EQ(unrecorded_differences(kValid, replace(kValid, "init = \"glorot\"", "init = \"sparse\"")),
            (std::vector<std::string>{"[model]"}));
  EXPECT_EQ(unrecorded_differences(kValid, replace(kValid, "points = 4", "points = 4\ntrain_examples = 10")),
            (std::vector<std::string>{"[evaluation]"}));
  EXPECT_EQ(unrecorded_differences(replace(kValid, "train_examples = 1000\n", ""), kValid),
            (std::vector<std::string>{"[data]"}));
}

// ResNet-50 (Goyal et al.): the name, the defaults the paper and Goyal et al. give it (L2 1e-4 on
// weights, ghost batches of 64, no warmup, γ = 2), the keys that apply to it and those that do
// not, and what the planner derives from it (microbatch, FLOPs at CIFAR's 32×32, parameters).
TEST(Spec, ResNet50NameDefaultsAndKeys) {
  std::string resnet = replace(kValid, "name = \"autoencoder\"\ninit = \"glorot\"", "name = \"resnet50\"");
  resnet = replace(resnet, "path = \"/usr/share/datasets/fashion-mnist\"", "path = \"data/cifar\"");
  resnet = replace(resnet, "[schedule]\ngamma = 3.0\nwarmup_epochs = 1\n", "");
  const auto with_key = [&](const std::string& line) {
    return replace(resnet, "name = \"resnet50\"", "name = \"resnet50\"\n" + line);
  };
  const auto spec = parse_spec(resnet, "/work/specs/r.toml");
  EXPECT_EQ(spec.model, sgdsweep::spec::ModelKind::resnet);
  EXPECT_EQ(static_cast<int>(spec.model), 3);  // stored in sweep files: never renumbered
  EXPECT_EQ(spec.model_name, "resnet50");
  EXPECT_EQ(spec.dataset, "cifar10");  // the default; "image-folder" reads ImageNet-layout JPEGs
  EXPECT_DOUBLE_EQ(spec.l2, 1e-4);
  EXPECT_EQ(spec.ghost_batch_size, 64);
  EXPECT_TRUE(spec.batch_norm);
  EXPECT_DOUBLE_EQ(spec.dropout, 0.0);
  EXPECT_DOUBLE_EQ(spec.warmup_epochs, 0.0);
  EXPECT_DOUBLE_EQ(spec.gamma, 2.0);
  EXPECT_EQ(sgdsweep::spec::microbatch_size(spec, 256), 64);
  EXPECT_EQ(sgdsweep::spec::microbatch_size(spec, 32), 32);
  // 83,431,424 multiply-adds forward at 32×32 with 10 classes; × 2 FLOPs × 3 (forward, backward).
  EXPECT_DOUBLE_EQ(sgdsweep::spec::flops_per_example(spec), 6.0 * 83431424);
  // torchvision's 25,557,032 for 1000 classes, less 990 classes × 2049, plus 53,120 running statistics.
  EXPECT_EQ(sgdsweep::spec::parameter_count(spec), 23528522 + 53120);
  EXPECT_EQ(sgdsweep::spec::parameter_count(spec, 1000), 25557032 + 53120);

  const auto ghost = parse_spec(with_key("ghost_batch_size = 32"), "r.toml");
  EXPECT_EQ(ghost.ghost_batch_size, 32);
  EXPECT_EQ(sgdsweep::spec::microbatch_size(ghost, 256), 32);
  EXPECT_DOUBLE_EQ(parse_spec(replace(resnet, "momentum = 0.8", "momentum = 0.8\nl2 = 5e-5"), "r.toml").l2, 5e-5);
  EXPECT_EQ(parse_spec(replace(resnet, "[data]", "[data]\ndataset = \"cifar100\""), "r.toml").dataset, "cifar100");

  expect_error([&] { parse_spec(with_key("normalization = \"skipinit\""), "r.toml"); },
               {"[model].normalization", "applies to wrn-<depth>-<width> only", "'resnet50'"});
  expect_error([&] { parse_spec(with_key("dropout = 0.5"), "r.toml"); },
               {"[model].dropout", "applies to wrn and lstm only"});
  expect_error([&] { parse_spec(with_key("microbatch = 32"), "r.toml"); },
               {"[model].microbatch", "set ghost_batch_size instead"});
  expect_error([&] { parse_spec(replace(resnet, "[data]", "[data]\ndataset = \"ptb\""), "r.toml"); },
               {"[data].dataset", "'ptb' does not fit model 'resnet50'", "resnet50: cifar10, cifar100, image-folder"});

  // An ImageNet-layout folder: its splits and crop size, and keys that belong to it alone.
  const std::string folder =
      replace(resnet, "[data]", "[data]\ndataset = \"image-folder\"\ntrain_split = \"tr\"\nimage_size = 64");
  const auto images = parse_spec(folder, "/work/specs/r.toml");
  EXPECT_EQ(images.dataset, "image-folder");
  EXPECT_EQ(images.train_split, "tr");
  EXPECT_EQ(images.test_split, "val");
  EXPECT_EQ(images.image_size, 64);
  EXPECT_EQ(sgdsweep::spec::image_size(images), (std::pair<std::int64_t, std::int64_t>{64, 64}));
  EXPECT_EQ(sgdsweep::spec::image_size(spec), (std::pair<std::int64_t, std::int64_t>{32, 32}));
  EXPECT_EQ(parse_spec(replace(resnet, "[data]", "[data]\ndataset = \"image-folder\""), "r.toml").image_size, 224);
  expect_error([&] { parse_spec(replace(folder, "image_size = 64", "image_size = 4"), "r.toml"); },
               {"[data].image_size", "must be 8 … 4096"});
  expect_error([&] { parse_spec(replace(resnet, "[data]", "[data]\nimage_size = 64"), "r.toml"); },
               {"[data].image_size", "applies to image-folder only"});
  expect_error([&] { parse_spec(replace(kValid, "[data]", "[data]\ndataset = \"image-folder\""), "r.toml"); },
               {"[data].dataset", "'image-folder' does not fit model 'autoencoder'"});
  expect_error([&] { parse_spec(replace(resnet, "\"resnet50\"", "\"resnet-50\""), "r.toml"); },
               {"[model].name", "'resnet-50' is not a known model", "resnet50"});
}
