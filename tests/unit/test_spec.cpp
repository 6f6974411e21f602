// Spec parsing: a full spec, defaults, and the errors a user meets (each naming file, line, field).
#include <gtest/gtest.h>

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
