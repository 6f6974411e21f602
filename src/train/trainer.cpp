// The training loop of one trial (see trainer.hpp).
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "nn/models/autoencoder.hpp"
#include "nn/models/lstm_lm.hpp"
#include "nn/models/resnet.hpp"
#include "nn/models/wide_resnet.hpp"
#include "spec/model_size.hpp"
#include "train/gradient_accumulator.hpp"
#include "train/lr_schedule.hpp"
#include "train/optimizer.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace sgdsweep::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

nn::WideResNetConfig wide_resnet_config(const spec::Spec& spec, std::int64_t classes) {
  nn::WideResNetConfig config;
  config.depth = spec.depth;
  config.width = spec.width;
  config.batch_norm = spec.batch_norm;
  config.dropout = static_cast<float>(spec.dropout);
  config.classes = classes;
  return config;
}

}  // namespace

std::int64_t evaluation_step(const spec::Trial& trial, std::int32_t k) {
  return (static_cast<std::int64_t>(k) * trial.steps + trial.evaluations / 2) / trial.evaluations;
}

std::unique_ptr<nn::Model> make_model(const spec::Spec& spec, const spec::Trial& trial,
                                      const TaskData& data, ops::Backend& backend, std::int64_t copies) {
  if (copies != 1 && !spec::model_packs(spec.model)) {
    fail("trial ", trial.index, ": ", spec.model_name, " does not train in packs");
  }
  switch (spec.model) {
    case spec::ModelKind::autoencoder:
      // A pack trains microbatches of every copy and evaluates one copy at a time.
      return std::make_unique<nn::Autoencoder>(backend, std::max(trial.microbatch, kEvaluationRows),
                                               nn::parse_autoencoder_init(spec.init), trial.seed, copies,
                                               copies > 1 ? trial.microbatch : 0);
    case spec::ModelKind::wide_resnet:
      return std::make_unique<nn::WideResNet>(backend, trial.microbatch, wide_resnet_config(spec, data.classes()),
                                              trial.seed, copies);
    case spec::ModelKind::resnet: {
      nn::ResNetConfig config;  // ResNet-50: [3, 4, 6, 3] bottleneck blocks, widths 64 … 512
      config.classes = data.classes();
      const auto [height, width] = spec::image_size(spec);
      config.image_height = height;
      config.image_width = width;
      return std::make_unique<nn::ResNet>(backend, trial.microbatch, config, trial.seed);
    }
    case spec::ModelKind::lstm: {
      nn::LstmLanguageModelConfig config;
      config.vocabulary = data.vocabulary();
      config.hidden = spec.hidden;
      config.layers = spec.layers;
      config.window = spec.unroll;
      config.dropout = static_cast<float>(spec.dropout);
      config.init_scale = static_cast<float>(spec.init_scale);
      return std::make_unique<nn::LstmLanguageModel>(backend, trial.microbatch, trial.batch_size,
                                                     spec.evaluation_streams, config, trial.seed, copies);
    }
  }
  fail("trial ", trial.index, ": unknown model");
}

StepRunner::StepRunner(const spec::Trial& trial, nn::Model& model, TrialBatches& batches, comm::GradientReducer& team,
                       ops::Backend& backend, std::optional<bool> record_steps)
    : StepRunner(trial, model, &batches, nullptr, team, backend, record_steps) {}

StepRunner::StepRunner(const spec::Trial& trial, nn::Model& model, PackBatches& batches, ops::Backend& backend,
                       std::optional<bool> record_steps)
    : StepRunner(trial, model, nullptr, &batches, comm::identity_reducer(), backend, record_steps) {}

StepRunner::StepRunner(const spec::Trial& trial, nn::Model& model, TrialBatches* trial_batches,
                       PackBatches* pack_batches, comm::GradientReducer& team, ops::Backend& backend,
                       std::optional<bool> record_steps)
    : trial_(trial), model_(model), trial_batches_(trial_batches), pack_batches_(pack_batches), team_(team),
      backend_(backend), parameters_(model.parameters()), optimizer_(parameters_, trial.momentum, trial.l2),
      copies_(model.copies()), microbatches_((trial.batch_size + trial.microbatch - 1) / trial.microbatch) {
  if (microbatches_ % team.size() != 0) {
    fail("trial ", trial.index, ": ", microbatches_, " microbatches cannot be split over a team of ", team.size(),
         " ranks");
  }
  if (copies_ > 1 && team.size() > 1) fail("trial ", trial.index, ": a pack of trials trains on one rank");
  mine_ = microbatches_ / team.size();  // this member's aligned run
  first_microbatch_ = team.rank() * mine_;
  if (mine_ > 1) accumulator_ = std::make_unique<GradientAccumulator>(backend, parameters_.total_size(), mine_);
  losses_ = ops::Buffer<double>(backend, static_cast<std::size_t>(mine_ * copies_));
  if (trial.clip_norm > 0) {
    for (const nn::ParameterTensor& tensor : parameters_.tensors()) {
      if (tensor.role != nn::ParameterRole::running_statistic) clipped_.push_back(&tensor);
    }
    squares_ = ops::Buffer<double>(backend, clipped_.size() * static_cast<std::size_t>(copies_));
    clip_scales_ = ops::Buffer<float>(backend, static_cast<std::size_t>(copies_));
  }
  // A team on a GPU backend all-reduces a host copy of the gradients (allocated once per trial).
  if (team.size() > 1 && !backend.host_addressable()) staged_gradients_.resize(static_cast<std::size_t>(parameters_.size()));
  my_losses_.resize(static_cast<std::size_t>(mine_ * copies_));
  all_losses_.resize(static_cast<std::size_t>(microbatches_ * copies_));
  minibatch_losses_.resize(static_cast<std::size_t>(copies_));
  terms_ = static_cast<double>(trial.batch_size * model.terms_per_example());
  // Recorded steps (a CUDA graph per trial on a GPU) where nothing in the step needs the host in
  // its middle (a team's all-reduce) and the model reads its step from backend memory.
  const bool batches_replay = pack_batches_ || trial_batches_->replayable();
  record_ = record_steps.value_or(backend.prefers_recording()) && team.size() == 1 &&
            model.replayable() && batches_replay;
}

StepRunner::~StepRunner() = default;

std::int64_t StepRunner::first_row(std::int64_t m) const { return (first_microbatch_ + m) * trial_.microbatch; }

std::int64_t StepRunner::rows(std::int64_t m) const {
  return std::min(trial_.microbatch, trial_.batch_size - first_row(m));
}

void StepRunner::upload(std::int64_t m) {
  if (pack_batches_) {
    pack_batches_->upload(steps_, first_row(m), rows(m), static_cast<std::size_t>(m));
  } else {
    trial_batches_->upload(steps_.front(), first_row(m), rows(m), static_cast<std::size_t>(m));
  }
}

nn::Batch StepRunner::gather(std::int64_t m) {
  const auto slot = static_cast<std::size_t>(m);
  return pack_batches_ ? pack_batches_->gather(slot) : trial_batches_->gather(slot);
}

nn::Batch StepRunner::batch(std::int64_t m) {
  if (trial_batches_) return trial_batches_->batch(steps_.front(), first_row(m), rows(m));
  upload(m);
  return gather(m);
}

void StepRunner::clip_gradients() {
  // Each copy's Σ g² per tensor, its factor from them in tensor order, every tensor scaled by it
  // (1 for a copy under the threshold: exact): backend ops only, so a clipped step can be recorded.
  const std::int64_t stride = parameters_.stride();
  for (std::size_t i = 0; i < clipped_.size(); ++i) {
    backend_.sum_of_squares_packed(copies_, parameters_.gradients() + clipped_[i]->offset, stride,
                                   clipped_[i]->count, squares_.data() + i * copies_);
  }
  backend_.clip_scales(copies_, squares_.data(), static_cast<std::int64_t>(clipped_.size()), trial_.clip_norm,
                       clip_scales_.data());
  for (const nn::ParameterTensor* tensor : clipped_) {
    float* gradient = parameters_.gradients() + tensor->offset;
    backend_.add_scaled_packed(copies_, nullptr, gradient, stride, clip_scales_.data(), 1, gradient, tensor->count);
  }
}

void StepRunner::gradients(const std::function<nn::Batch(std::int64_t)>& batch) {
  const auto loss_scale = static_cast<float>(1.0 / terms_);
  if (accumulator_) accumulator_->reset();
  for (std::int64_t m = 0; m < mine_; ++m) {
    model_.forward_backward(batch(m), loss_scale, losses_.data() + m * copies_);
    if (accumulator_) accumulator_->add(parameters_.gradients());
  }
  if (accumulator_) accumulator_->finish(parameters_.gradients());
}

const std::vector<double>& StepRunner::run_pack(const std::vector<std::int64_t>& steps,
                                                const std::vector<double>& learning_rates) {
  steps_ = steps;
  for (std::int64_t c = 0; c < copies_; ++c) {
    if (steps[c] % trial_.steps_per_epoch == 0) model_.reset_training_state(c);
  }
  optimizer_.set_rates(learning_rates);
  model_.begin_step(steps_);
  if (record_) {
    // The batches are uploaded, then the step's ops — gathers, forward and backward per
    // microbatch, the gradient tree, clipping, the update — replay as one recording. The first step runs
    // unrecorded (it sizes the scratch memory), the second is recorded.
    for (std::int64_t m = 0; m < mine_; ++m) upload(m);
    const auto recorded_step = [this] {  // backend ops only (see Backend::record)
      gradients([this](std::int64_t m) { return gather(m); });
      if (trial_.clip_norm > 0) clip_gradients();
      optimizer_.apply(microbatches_);
    };
    if (recording_) {
      recording_->replay();
    } else if (!warmed_up_) {
      recorded_step();
      warmed_up_ = true;
    } else {
      recording_ = backend_.record(recorded_step);
    }
  } else {
    gradients([this](std::int64_t m) { return batch(m); });
    if (team_.size() > 1) {
      if (staged_gradients_.empty()) {
        team_.sum(parameters_.gradients(), parameters_.size());
      } else {  // GPU memory: through the host (the same tree order, so the same bits)
        const std::size_t bytes = staged_gradients_.size() * sizeof(float);
        backend_.copy_to_host(staged_gradients_.data(), parameters_.gradients(), bytes);
        team_.sum(staged_gradients_.data(), parameters_.size());
        backend_.copy_to_device(parameters_.gradients(), staged_gradients_.data(), bytes);
      }
    }
    // A non-finite gradient makes the norm NaN, which clips nothing; the trial ends all the same.
    if (trial_.clip_norm > 0) clip_gradients();
    optimizer_.apply(microbatches_);
  }
  // The update happens before the loss is read: on a non-finite loss the trial ends all the same,
  // and nothing reads its weights afterwards.
  losses_.download(my_losses_.data(), my_losses_.size());
  team_.gather(my_losses_.data(), mine_ * copies_, all_losses_.data());
  for (std::int64_t c = 0; c < copies_; ++c) {
    double loss_sum = 0.0;
    for (std::int64_t m = 0; m < microbatches_; ++m) loss_sum += all_losses_[m * copies_ + c];  // microbatch order
    minibatch_losses_[c] = loss_sum / terms_;
  }
  return minibatch_losses_;
}

namespace {

// One trial's record while it trains, alone or in a pack: its schedule, its next evaluation, the
// outcome so far and its clocks.
struct TrialRecord {
  explicit TrialRecord(const spec::Trial& of)
      : trial(&of), schedule(of.learning_rate, of.steps, of.gamma, of.warmup_steps) {
    outcome.step_losses.reserve(static_cast<std::size_t>(spec::step_loss_count(of)));
  }

  // Whether an evaluation is due after `steps_done` updates (while the trial is healthy).
  bool evaluation_due(std::int64_t steps_done) const {
    return outcome.status == spec::TrialStatus::pending && next_evaluation <= trial->evaluations &&
           evaluation_step(*trial, next_evaluation) == steps_done;
  }
  // Adds the due curve points (several when the budget has fewer steps than evaluations); a
  // non-finite one ends the trial as diverged.
  void add_evaluation(std::int64_t steps_done, const Evaluation& train, const Evaluation& test) {
    while (evaluation_due(steps_done)) {
      ++next_evaluation;
      outcome.curve.push_back({steps_done, static_cast<double>(steps_done) / trial->steps_per_epoch,
                               schedule.at(std::max<std::int64_t>(0, steps_done - 1)), train.loss, test.metric});
      if (leader) {
        log::debug("trial ", trial->index, ": step ", steps_done, "/", trial->steps, ", train loss ", train.loss,
                   ", test metric ", test.metric);
      }
      if (!std::isfinite(train.loss) || !std::isfinite(test.metric)) {
        outcome.status = spec::TrialStatus::diverged;
        outcome.message = concat("non-finite evaluation at step ", steps_done);
      }
    }
  }
  // Records the minibatch loss of update `step`; a non-finite one ends the trial as diverged.
  void add_step(std::int64_t step, double minibatch_loss, double seconds) {
    if (step % trial->step_loss_every == 0) outcome.step_losses.push_back(static_cast<float>(minibatch_loss));
    if (!std::isfinite(minibatch_loss)) {
      outcome.status = spec::TrialStatus::diverged;
      outcome.message = concat("non-finite training loss at step ", step);
      return;
    }
    outcome.steps_completed = step + 1;
    training_seconds += seconds;
  }
  bool training() const {
    return outcome.status == spec::TrialStatus::pending && outcome.steps_completed < trial->steps;
  }
  // The outcome, its status settled and its times filled in.
  spec::TrialOutcome finish() {
    if (outcome.status == spec::TrialStatus::pending) outcome.status = spec::TrialStatus::finished;
    outcome.wall_seconds = seconds_since(start);
    outcome.examples_per_second =
        training_seconds > 0 ? static_cast<double>(outcome.steps_completed * trial->batch_size) / training_seconds
                             : 0.0;
    return std::move(outcome);
  }

  const spec::Trial* trial;
  LearningRateSchedule schedule;
  std::int32_t next_evaluation = 0;
  spec::TrialOutcome outcome;
  Clock::time_point start = Clock::now();
  double training_seconds = 0.0;
  bool leader = true;  // the team member that logs
};

}  // namespace

spec::TrialOutcome train_trial(const spec::Trial& trial, TrialContext& context) {
  TrialRecord record(trial);
  TaskData& data = context.data;
  comm::GradientReducer& team = context.team;
  record.leader = team.rank() == 0;
  auto model = make_model(context.spec, trial, data, context.backend);
  const std::unique_ptr<TrialBatches> batches = data.batches(trial);
  StepRunner runner(trial, *model, *batches, team, context.backend, context.record_steps);

  // Evaluation, split over the team: every member gets the same numbers (and so the same verdict).
  const auto evaluate_if_due = [&] {
    const std::int64_t steps_done = record.outcome.steps_completed;
    if (!record.evaluation_due(steps_done)) return;
    const Evaluation train = data.evaluate(*model, false, context.spec.eval_train_examples, team);
    const Evaluation test = data.evaluate(*model, true, 0, team);
    record.add_evaluation(steps_done, train, test);
  };
  evaluate_if_due();
  while (record.training()) {
    const Clock::time_point step_start = Clock::now();
    const std::int64_t step = record.outcome.steps_completed;
    record.add_step(step, runner.run(step, record.schedule.at(step)), seconds_since(step_start));
    if (context.after_step && record.outcome.status == spec::TrialStatus::pending) context.after_step();
    evaluate_if_due();
  }
  return record.finish();
}

namespace {

// Floats of the autoencoder's layer outputs per row (what evaluation allocates per row).
std::int64_t autoencoder_outputs_per_row() {
  const auto& widths = nn::Autoencoder::kWidths;
  return std::accumulate(widths.begin() + 1, widths.end(), std::int64_t{0});
}

// Floats of one copy's training activations per microbatch row, and of what a copy stages per row
// of its batch (lstm_lm.cpp and autoencoder.cpp allocate these).
std::int64_t activations_per_row(const spec::Spec& spec, std::int64_t classes_or_vocabulary) {
  if (spec.model != spec::ModelKind::autoencoder && classes_or_vocabulary <= 0) {
    classes_or_vocabulary = spec::default_classes_or_vocabulary(spec);
  }
  if (spec.model == spec::ModelKind::wide_resnet) {
    return nn::WideResNet::activation_floats_per_image(wide_resnet_config(spec, classes_or_vocabulary));
  }
  if (spec.model == spec::ModelKind::lstm) {
    // Per layer gates (4H), cells, outputs; per dropout site inputs and masks; the embedding, the
    // gradient ping-pong, the gate gradient (4H) and the logits; over the window.
    const std::int64_t hidden = spec.hidden;
    return spec.unroll * (spec.layers * 6 * hidden + (spec.layers + 1) * 2 * hidden + 7 * hidden + classes_or_vocabulary) +
           2 * hidden;
  }
  const auto& widths = nn::Autoencoder::kWidths;
  return autoencoder_outputs_per_row() + 2 * *std::max_element(widths.begin(), widths.end());
}

std::int64_t staged_per_row(const spec::Spec& spec) {
  switch (spec.model) {
    case spec::ModelKind::lstm: return 2 * spec.unroll;                       // tokens and labels
    case spec::ModelKind::wide_resnet: return 32 * 32 * 3 + 5;               // the image; row, crop, label
    default: return nn::Autoencoder::kWidths.front() + 1;                    // the image; row
  }
}

}  // namespace

std::size_t pack_copy_bytes(const spec::Spec& spec, const spec::Trial& trial, std::int64_t classes_or_vocabulary) {
  if (!spec::model_packs(spec.model)) fail(spec.model_name, " does not train in packs");
  const std::int64_t parameters = spec::parameter_count(spec, classes_or_vocabulary);
  const std::int64_t microbatches = (trial.batch_size + trial.microbatch - 1) / trial.microbatch;
  std::int64_t tree_levels = 0;  // GradientAccumulator: its levels and carry
  if (microbatches > 1) {
    for (tree_levels = 2; (std::int64_t{1} << (tree_levels - 2)) < microbatches;) ++tree_levels;
  }
  const std::int64_t buffers = 2 + (trial.momentum != 0 ? 1 : 0) + tree_levels;  // values, gradients, …
  // The carried state of a recurrent model: h and c per layer for each of the B streams.
  const std::int64_t state = spec.model == spec::ModelKind::lstm ? 2 * spec.layers * trial.batch_size * spec.hidden : 0;
  const std::int64_t staged = microbatches * trial.microbatch * staged_per_row(spec);
  return static_cast<std::size_t>(
      4 * (buffers * parameters + trial.microbatch * activations_per_row(spec, classes_or_vocabulary) + state + staged) +
      8 * microbatches);
}

std::int64_t pack_copies(const spec::Spec& spec, const spec::Trial& trial, std::size_t free_bytes,
                         std::int64_t classes_or_vocabulary) {
  if (spec.pack <= 1) return 1;
  // Less what one copy at a time uses: the autoencoder's evaluation outputs, the LSTM's evaluation
  // state (a Wide-ResNet evaluates in its first copy's activations).
  double shared = 0.0;
  if (spec.model == spec::ModelKind::autoencoder) {
    shared = 4.0 * static_cast<double>(kEvaluationRows * autoencoder_outputs_per_row());
  } else if (spec.model == spec::ModelKind::lstm) {
    shared = 8.0 * static_cast<double>(spec.layers * spec.evaluation_streams * spec.hidden);
  }
  const auto fit = static_cast<std::int64_t>((0.8 * static_cast<double>(free_bytes) - shared) /
                                             static_cast<double>(pack_copy_bytes(spec, trial, classes_or_vocabulary)));
  return std::max<std::int64_t>(1, std::min(spec.pack, fit));
}

void train_pack(PackContext& context) {
  const spec::Trial* first = context.next();
  if (!first) return;
  const std::int64_t copies = context.copies;
  auto model = make_model(context.spec, *first, context.data, context.backend, copies);
  const std::unique_ptr<PackBatches> batches = context.data.pack_batches(copies, first->microbatch);
  StepRunner runner(*first, *model, *batches, context.backend, context.record_steps);
  comm::GradientReducer& alone = comm::identity_reducer();

  std::vector<std::optional<TrialRecord>> slots(static_cast<std::size_t>(copies));
  const auto take_next = [&](std::int64_t c, const spec::Trial* trial) {
    slots[c].reset();
    if (trial && !spec::packs_with(*trial, *first)) {
      fail("trial ", trial->index, " cannot join the pack of trial ", first->index,
           " (a pack shares its batch, microbatch, momentum and L2)");
    }
    batches->assign(c, trial);
    if (!trial) return;
    if (c > 0 || trial != first) model->initialize(c, trial->seed);
    runner.reset(c);
    slots[c].emplace(*trial);
  };
  take_next(0, first);
  for (std::int64_t c = 1; c < copies; ++c) take_next(c, context.next());

  std::vector<std::int64_t> steps(static_cast<std::size_t>(copies), 0);
  std::vector<double> rates(static_cast<std::size_t>(copies), 0.0);
  for (;;) {
    // Evaluate the slots that are due, each copy alone (the calls of a trial alone, so its bits),
    // hand over the trials that are done and fill their slots, until nothing is due.
    for (bool settled = false; !settled;) {
      settled = true;
      for (std::int64_t c = 0; c < copies; ++c) {
        if (!slots[c] || !slots[c]->evaluation_due(slots[c]->outcome.steps_completed)) continue;
        const Evaluation train = context.data.evaluate_copy(*model, c, false, context.spec.eval_train_examples, alone);
        const Evaluation test = context.data.evaluate_copy(*model, c, true, 0, alone);
        slots[c]->add_evaluation(slots[c]->outcome.steps_completed, train, test);
      }
      for (std::int64_t c = 0; c < copies; ++c) {
        if (!slots[c] || slots[c]->training()) continue;
        spec::TrialOutcome outcome = slots[c]->finish();
        outcome.pack = copies;
        context.done(*slots[c]->trial, std::move(outcome));
        take_next(c, context.next());
        settled = settled && !slots[c];
      }
    }
    bool active = false;
    for (std::int64_t c = 0; c < copies; ++c) {
      active = active || slots[c].has_value();
      steps[c] = slots[c] ? slots[c]->outcome.steps_completed : 0;
      rates[c] = slots[c] ? slots[c]->schedule.at(steps[c]) : 0.0;  // an empty copy computes what no one reads
    }
    if (!active) return;
    const Clock::time_point step_start = Clock::now();
    const std::vector<double>& losses = runner.run_pack(steps, rates);
    const double seconds = seconds_since(step_start);
    std::int64_t trained = 0;
    for (std::int64_t c = 0; c < copies; ++c) {
      if (!slots[c]) continue;
      slots[c]->add_step(steps[c], losses[c], seconds);
      ++trained;
    }
    if (context.after_step) context.after_step(trained * first->batch_size);
  }
}

void train_in_packs(PackContext context, const std::function<const spec::Trial*()>& claim,
                    const std::function<std::int64_t(const spec::Trial&)>& copies_for) {
  const auto report = context.done;
  for (const spec::Trial* waiting = claim(); waiting;) {
    const spec::Trial& first = *waiting;
    std::vector<const spec::Trial*> in_pack;  // handed to the pack, not yet ended
    bool given_first = false;
    waiting = nullptr;
    context.copies = copies_for(first);
    context.next = [&]() -> const spec::Trial* {
      if (waiting) return nullptr;
      const spec::Trial* trial = given_first ? claim() : &first;
      given_first = true;
      if (!trial) return nullptr;
      if (!spec::packs_with(*trial, first)) {
        waiting = trial;
        return nullptr;
      }
      in_pack.push_back(trial);
      return trial;
    };
    context.done = [&](const spec::Trial& trial, spec::TrialOutcome outcome) {
      in_pack.erase(std::find(in_pack.begin(), in_pack.end(), &trial));
      report(trial, std::move(outcome));
    };
    const Clock::time_point start = Clock::now();
    try {
      train_pack(context);
    } catch (const std::exception& e) {
      for (const spec::Trial* trial : std::vector<const spec::Trial*>(in_pack)) {
        spec::TrialOutcome outcome;
        outcome.status = spec::TrialStatus::failed;
        outcome.message = e.what();
        outcome.wall_seconds = seconds_since(start);
        outcome.examples_per_second = NAN;
        outcome.pack = context.copies;
        context.done(*trial, std::move(outcome));
      }
    }
    if (!waiting) waiting = claim();
  }
}

}  // namespace sgdsweep::train
