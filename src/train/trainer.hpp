// One trial, start to finish: build the model on the rank's backend, draw batches, step the
// optimizer on the schedule, evaluate at fixed fractions of the budget, and report the outcome.
// A non-finite loss ends the trial as diverged with its curve so far.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "ops/backend.hpp"
#include "spec/trial.hpp"
#include "train/training_data.hpp"

namespace sgdsweep::train {

struct TrialContext {
  ops::Backend& backend;
  const StagedData& data;
  std::string init = "sparse";           // [model].init
  std::int64_t eval_train_examples = 0;  // [evaluation].train_examples (0 = all used)
};

// The steps after which evaluation k = 0 … evaluations happens: round(k · steps / evaluations).
std::int64_t evaluation_step(const spec::Trial& trial, std::int32_t k);

// Rows per evaluation forward pass; fixed so evaluation does not depend on the batch size.
inline constexpr std::int64_t kEvaluationRows = 500;

// Trains `trial`. Throws Error only for problems outside the trial's arithmetic (bad sizes, no
// memory); divergence is reported in the outcome.
spec::TrialOutcome train_trial(const spec::Trial& trial, TrialContext& context);

}  // namespace sgdsweep::train
