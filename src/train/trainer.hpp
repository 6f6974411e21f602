// One trial, start to finish: build the model on the rank's backend, draw batches, step the
// optimizer on the schedule, evaluate at fixed fractions of the budget, and report the outcome.
// A step is computed microbatch by microbatch (the ghost batch with BN) and the gradients summed
// in a fixed tree — across the members of a team too, so a trial gives the same bits on 1, 2 or 4
// ranks when its microbatch count is a power of two. A non-finite loss ends the trial as diverged
// with its curve so far.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "comm/gradient_reducer.hpp"
#include "nn/model.hpp"
#include "ops/backend.hpp"
#include "spec/spec.hpp"
#include "spec/trial.hpp"
#include "train/task_data.hpp"

namespace sgdsweep::train {

struct TrialContext {
  ops::Backend& backend;
  TaskData& data;
  const spec::Spec& spec;  // the model's architecture and the evaluation settings
  // The trial's team: member r of g computes microbatches [r·M/g, (r+1)·M/g) of every step and
  // the reducer sums the gradients; every member holds the whole model. The members split the
  // evaluation too; member 0's outcome is the one recorded.
  comm::GradientReducer& team;
  // Called after every update on every member (progress reporting); may be empty.
  std::function<void()> after_step = {};
};

// The steps after which evaluation k = 0 … evaluations happens: round(k · steps / evaluations).
std::int64_t evaluation_step(const spec::Trial& trial, std::int32_t k);

// The trial's model, initialised from its seed, sized for its microbatch.
std::unique_ptr<nn::Model> make_model(const spec::Spec& spec, const spec::Trial& trial,
                                      const TaskData& data, ops::Backend& backend);

// Trains `trial`. Throws Error only for problems outside the trial's arithmetic (bad sizes, no
// memory); divergence is reported in the outcome.
spec::TrialOutcome train_trial(const spec::Trial& trial, TrialContext& context);

}  // namespace sgdsweep::train
