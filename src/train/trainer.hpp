// One trial, start to finish: build the model on the rank's backend, draw batches, step the
// optimizer on the schedule, evaluate at fixed fractions of the budget, and report the outcome.
// A step is computed microbatch by microbatch (the ghost batch with BN) and the gradients summed
// in a fixed tree — across the members of a team too, so a trial gives the same bits on 1, 2 or 4
// ranks when its microbatch count is a power of two. A non-finite loss ends the trial as diverged
// with its curve so far.
//
// A pack (train_pack) trains many trials of a model that packs (spec::model_packs) together on one
// rank: one model with a copy per trial, every op a packed op, one step for all of them. A copy's
// arithmetic does not depend on the pack, so each trial gives the bits it gives alone.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "comm/gradient_reducer.hpp"
#include "nn/model.hpp"
#include "ops/backend.hpp"
#include "spec/spec.hpp"
#include "spec/trial.hpp"
#include "train/gradient_accumulator.hpp"
#include "train/optimizer.hpp"
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
  // Record a step once and replay it (Backend::record) where the trial allows it; unset: when the
  // backend prefers it (a GPU). Either way the same bits.
  std::optional<bool> record_steps = std::nullopt;
};

// The steps after which evaluation k = 0 … evaluations happens: round(k · steps / evaluations).
std::int64_t evaluation_step(const spec::Trial& trial, std::int32_t k);

// The trial's model, initialised from its seed, sized for its microbatch; `copies` > 1: a pack,
// every copy initialised from the trial's seed (spec::model_packs; the others throw).
std::unique_ptr<nn::Model> make_model(const spec::Spec& spec, const spec::Trial& trial,
                                      const TaskData& data, ops::Backend& backend, std::int64_t copies = 1);

// One trial's updates, step by step, as train_trial runs them (and bench/ times them): the
// microbatches of this team member, forward and backward, the gradient tree, the team's sum, the
// minibatch loss, clipping and the update; recorded once and replayed where the trial allows it
// (TrialContext::record_steps).
//
// For a pack (the model's copies > 1) it steps every copy at once, each copy at its own step of its
// own trial; `trial` then gives the shapes all copies share (spec::packs_with).
class StepRunner {
 public:
  StepRunner(const spec::Trial& trial, nn::Model& model, TrialBatches& batches, comm::GradientReducer& team,
             ops::Backend& backend, std::optional<bool> record_steps = std::nullopt);
  StepRunner(const spec::Trial& trial, nn::Model& model, PackBatches& batches, ops::Backend& backend,
             std::optional<bool> record_steps = std::nullopt);
  ~StepRunner();
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  // Update `step` at rate `learning_rate` (ε); returns the minibatch loss (Σ loss / terms). A
  // non-finite loss ends the trial: the update is then skipped (op by op) or already made
  // (recorded), which nothing can observe.
  double run(std::int64_t step, double learning_rate) { return run_pack({step}, {learning_rate}).front(); }
  // One update of every copy c of a pack: its step steps[c] at rate learning_rates[c]; returns the
  // copies' minibatch losses. Every copy is updated, whatever its loss.
  const std::vector<double>& run_pack(const std::vector<std::int64_t>& steps,
                                      const std::vector<double>& learning_rates);
  // Zeroes copy `copy`'s optimizer state (a pack slot starting its next trial).
  void reset(std::int64_t copy) { optimizer_.reset(copy); }
  bool recorded() const { return record_; }

 private:
  StepRunner(const spec::Trial& trial, nn::Model& model, TrialBatches* trial_batches, PackBatches* pack_batches,
             comm::GradientReducer& team, ops::Backend& backend, std::optional<bool> record_steps);
  // Microbatch m of this member for the current steps_: staged (upload), gathered by backend ops
  // (gather), or both (batch).
  void upload(std::int64_t m);
  nn::Batch gather(std::int64_t m);
  nn::Batch batch(std::int64_t m);
  std::int64_t first_row(std::int64_t m) const;
  std::int64_t rows(std::int64_t m) const;
  // Global-norm clipping of each copy's trainable gradients (PyTorch's clip_grad_norm_): when
  // ‖g‖ > threshold, g ← g · threshold / (‖g‖ + 1e−6). Running statistics are not gradients.
  void clip_gradients();
  // Forward and backward over this member's microbatches (batch(m) stages microbatch m), the
  // gradients summed in the tree into parameters.gradients().
  void gradients(const std::function<nn::Batch(std::int64_t)>& batch);

  const spec::Trial& trial_;
  nn::Model& model_;
  TrialBatches* trial_batches_;  // one trial
  PackBatches* pack_batches_;    // or a pack
  comm::GradientReducer& team_;
  ops::Backend& backend_;
  nn::Parameters& parameters_;
  Optimizer optimizer_;
  std::int64_t copies_, microbatches_, mine_ = 1, first_microbatch_ = 0;
  std::vector<std::int64_t> steps_;  // of the step being run, per copy
  double terms_ = 1.0;
  std::unique_ptr<GradientAccumulator> accumulator_;
  ops::Buffer<double> losses_;
  std::vector<float> staged_gradients_;
  std::vector<const nn::ParameterTensor*> clipped_;  // the tensors clipping sees
  ops::Buffer<double> squares_;                      // [tensor][copy]: Σ g² (clipping)
  ops::Buffer<float> clip_scales_;                   // [copy]: the factor clipping scales by
  std::vector<double> my_losses_, all_losses_, minibatch_losses_;  // [microbatch][copy]; [copy]
  bool record_ = false, warmed_up_ = false;
  std::unique_ptr<ops::Backend::Recording> recording_;
};

// Trains `trial`. Throws Error only for problems outside the trial's arithmetic (bad sizes, no
// memory); divergence is reported in the outcome.
spec::TrialOutcome train_trial(const spec::Trial& trial, TrialContext& context);

struct PackContext {
  ops::Backend& backend;
  TaskData& data;
  const spec::Spec& spec;
  std::int64_t copies = 1;  // slots of the pack
  // The next trial for a free slot, one that spec::packs_with the pack's first; nullptr when there
  // is none (the slot stays empty and the pack drains).
  std::function<const spec::Trial*()> next = {};
  // Called as each trial ends (finished or diverged), with its outcome.
  std::function<void(const spec::Trial&, spec::TrialOutcome)> done = {};
  // After every step of the pack, with the examples it trained (batch size × trials in the pack).
  std::function<void(std::int64_t)> after_step = {};
  std::optional<bool> record_steps = std::nullopt;
};

// Bytes one copy of a pack of `trial`'s model takes (parameters, gradients, velocity, the gradient
// tree, training activations, carried state and staged batches), and the copies to use: spec.pack,
// or as many as fit in 80 % of `free_bytes` beside what one copy at a time uses (evaluation) if
// fewer (at least 1). `classes_or_vocabulary`: TaskData::classes_or_vocabulary (0: the dataset's
// default).
std::size_t pack_copy_bytes(const spec::Spec& spec, const spec::Trial& trial, std::int64_t classes_or_vocabulary = 0);
std::int64_t pack_copies(const spec::Spec& spec, const spec::Trial& trial, std::size_t free_bytes,
                         std::int64_t classes_or_vocabulary = 0);

// Trains trials in a pack of `copies` slots until next() has no more and every slot is done: each
// slot trains its trial to its own budget, steps, schedule and evaluation points, and then takes
// the next trial (its copy re-initialised from that trial's seed). A diverged trial leaves its slot
// at once; the rest go on. Each trial's outcome has the bits train_trial gives it; its times are
// the pack's (wall time in the pack, examples of that trial per second of packed steps).
void train_pack(PackContext& context);

// Trains every trial `claim` hands out (nullptr: none left) in successive packs (train_pack): a
// pack of copies_for(its first trial) slots takes the trials that spec::packs_with its first as
// slots free up; the first that does not waits for the next pack. When a pack throws (no memory,
// say), each of its trials still training ends as failed with the message, and the next pack goes
// on. `context.next` is this function's; the rest of the context is used as given.
void train_in_packs(PackContext context, const std::function<const spec::Trial*()>& claim,
                    const std::function<std::int64_t(const spec::Trial&)>& copies_for);

}  // namespace sgdsweep::train
