// The training loop of one trial (see trainer.hpp).
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "nn/models/autoencoder.hpp"
#include "nn/models/lstm_lm.hpp"
#include "nn/models/resnet.hpp"
#include "nn/models/wide_resnet.hpp"
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

// Global-norm clipping of the trainable gradients (PyTorch's clip_grad_norm_): when
// ‖g‖ > threshold, g ← g · threshold / (‖g‖ + 1e−6). Running statistics are not gradients.
void clip_gradient_norm(nn::Parameters& parameters, double threshold) {
  ops::Backend& backend = parameters.backend();
  double squares = 0.0;
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    if (tensor.role == nn::ParameterRole::running_statistic) continue;
    squares += backend.sum_of_squares(parameters.gradients() + tensor.offset, tensor.count);
  }
  const double norm = std::sqrt(squares);
  if (!(norm > threshold)) return;
  const auto scale = static_cast<float>(threshold / (norm + 1e-6));
  for (const nn::ParameterTensor& tensor : parameters.tensors()) {
    if (tensor.role == nn::ParameterRole::running_statistic) continue;
    float* gradient = parameters.gradients() + tensor.offset;
    backend.axpby(scale, gradient, 0.0f, gradient, tensor.count);
  }
}

}  // namespace

std::int64_t evaluation_step(const spec::Trial& trial, std::int32_t k) {
  return (static_cast<std::int64_t>(k) * trial.steps + trial.evaluations / 2) / trial.evaluations;
}

std::unique_ptr<nn::Model> make_model(const spec::Spec& spec, const spec::Trial& trial,
                                      const TaskData& data, ops::Backend& backend) {
  switch (spec.model) {
    case spec::ModelKind::autoencoder:
      return std::make_unique<nn::Autoencoder>(backend, std::max(trial.microbatch, kEvaluationRows),
                                               nn::parse_autoencoder_init(spec.init), trial.seed);
    case spec::ModelKind::wide_resnet: {
      nn::WideResNetConfig config;
      config.depth = spec.depth;
      config.width = spec.width;
      config.batch_norm = spec.batch_norm;
      config.dropout = static_cast<float>(spec.dropout);
      config.classes = data.classes();
      return std::make_unique<nn::WideResNet>(backend, trial.microbatch, config, trial.seed);
    }
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
                                                     spec.evaluation_streams, config, trial.seed);
    }
  }
  fail("trial ", trial.index, ": unknown model");
}

StepRunner::StepRunner(const spec::Trial& trial, nn::Model& model, TrialBatches& batches, comm::GradientReducer& team,
                       ops::Backend& backend, std::optional<bool> record_steps)
    : trial_(trial), model_(model), batches_(batches), team_(team), backend_(backend),
      parameters_(model.parameters()), optimizer_(parameters_, trial.momentum, trial.l2),
      microbatches_((trial.batch_size + trial.microbatch - 1) / trial.microbatch) {
  if (microbatches_ % team.size() != 0) {
    fail("trial ", trial.index, ": ", microbatches_, " microbatches cannot be split over a team of ", team.size(),
         " ranks");
  }
  mine_ = microbatches_ / team.size();  // this member's aligned run
  first_microbatch_ = team.rank() * mine_;
  if (mine_ > 1) accumulator_ = std::make_unique<GradientAccumulator>(backend, parameters_.size(), mine_);
  losses_ = ops::Buffer<double>(backend, static_cast<std::size_t>(mine_));
  // A team on a GPU backend all-reduces a host copy of the gradients (allocated once per trial).
  if (team.size() > 1 && !backend.host_addressable()) staged_gradients_.resize(static_cast<std::size_t>(parameters_.size()));
  my_losses_.resize(static_cast<std::size_t>(mine_));
  all_losses_.resize(static_cast<std::size_t>(microbatches_));
  terms_ = static_cast<double>(trial.batch_size * model.terms_per_example());
  // Recorded steps (a CUDA graph per trial on a GPU) where nothing in the step needs the host in
  // its middle (a team's all-reduce, clipping by the gradient norm) or the step number (dropout).
  record_ = record_steps.value_or(backend.prefers_recording()) && team.size() == 1 && trial.clip_norm <= 0 &&
            model.replayable() && batches.replayable();
}

StepRunner::~StepRunner() = default;

std::int64_t StepRunner::first_row(std::int64_t m) const { return (first_microbatch_ + m) * trial_.microbatch; }

std::int64_t StepRunner::rows(std::int64_t m) const {
  return std::min(trial_.microbatch, trial_.batch_size - first_row(m));
}

void StepRunner::gradients(const std::function<nn::Batch(std::int64_t)>& batch) {
  const auto loss_scale = static_cast<float>(1.0 / terms_);
  if (accumulator_) accumulator_->reset();
  for (std::int64_t m = 0; m < mine_; ++m) {
    model_.forward_backward(batch(m), loss_scale, losses_.data() + m);
    if (accumulator_) accumulator_->add(parameters_.gradients());
  }
  if (accumulator_) accumulator_->finish(parameters_.gradients());
}

double StepRunner::run(std::int64_t step, double learning_rate) {
  if (step % trial_.steps_per_epoch == 0) model_.reset_training_state();
  if (record_) {
    // The batches are uploaded, then the step's ops — gathers, forward and backward per
    // microbatch, the gradient tree, the update — replay as one recording. The first step runs
    // unrecorded (it sizes the scratch memory), the second is recorded. The update happens before
    // the loss is read: on a non-finite loss the trial ends all the same, and nothing reads the
    // weights afterwards.
    for (std::int64_t m = 0; m < mine_; ++m) batches_.upload(step, first_row(m), rows(m), static_cast<std::size_t>(m));
    optimizer_.set_rate(learning_rate);
    const auto recorded_step = [this] {  // backend ops only (see Backend::record)
      gradients([this](std::int64_t m) { return batches_.gather(static_cast<std::size_t>(m)); });
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
    gradients([&](std::int64_t m) { return batches_.batch(step, first_row(m), rows(m)); });
  }
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
  losses_.download(my_losses_.data(), my_losses_.size());
  team_.gather(my_losses_.data(), mine_, all_losses_.data());
  double loss_sum = 0.0;
  for (double value : all_losses_) loss_sum += value;  // microbatch order, whatever the team
  const double minibatch_loss = loss_sum / terms_;
  if (!record_ && std::isfinite(minibatch_loss)) {
    if (trial_.clip_norm > 0) clip_gradient_norm(parameters_, trial_.clip_norm);
    optimizer_.step(learning_rate, microbatches_);
  }
  return minibatch_loss;
}

spec::TrialOutcome train_trial(const spec::Trial& trial, TrialContext& context) {
  const Clock::time_point trial_start = Clock::now();
  TaskData& data = context.data;
  comm::GradientReducer& team = context.team;
  const bool leader = team.rank() == 0;

  auto model = make_model(context.spec, trial, data, context.backend);
  const LearningRateSchedule schedule(trial.learning_rate, trial.steps, trial.gamma, trial.warmup_steps);
  const std::unique_ptr<TrialBatches> batches = data.batches(trial);
  StepRunner runner(trial, *model, *batches, team, context.backend, context.record_steps);

  spec::TrialOutcome outcome;
  outcome.step_losses.reserve(static_cast<std::size_t>(spec::step_loss_count(trial)));
  double training_seconds = 0.0;

  // Evaluation, split over the team: every member gets the same numbers (and so the same verdict).
  std::int32_t next_evaluation = 0;
  auto evaluate_if_due = [&](std::int64_t steps_done) {
    bool healthy = true;
    while (next_evaluation <= trial.evaluations && evaluation_step(trial, next_evaluation) == steps_done) {
      ++next_evaluation;
      const Evaluation train = data.evaluate(*model, false, context.spec.eval_train_examples, team);
      const Evaluation test = data.evaluate(*model, true, 0, team);
      outcome.curve.push_back({steps_done, static_cast<double>(steps_done) / trial.steps_per_epoch,
                               schedule.at(std::max<std::int64_t>(0, steps_done - 1)), train.loss,
                               test.metric});
      if (leader) {
        log::debug("trial ", trial.index, ": step ", steps_done, "/", trial.steps, ", train loss ",
                   train.loss, ", test metric ", test.metric);
      }
      if (healthy && (!std::isfinite(train.loss) || !std::isfinite(test.metric))) {
        outcome.status = spec::TrialStatus::diverged;
        outcome.message = concat("non-finite evaluation at step ", steps_done);
        healthy = false;
      }
    }
    return healthy;
  };

  bool healthy = evaluate_if_due(0);
  for (std::int64_t step = 0; healthy && step < trial.steps; ++step) {
    const Clock::time_point step_start = Clock::now();
    const double minibatch_loss = runner.run(step, schedule.at(step));
    if (step % trial.step_loss_every == 0) outcome.step_losses.push_back(static_cast<float>(minibatch_loss));
    if (!std::isfinite(minibatch_loss)) {
      outcome.status = spec::TrialStatus::diverged;
      outcome.message = concat("non-finite training loss at step ", step);
      break;
    }
    outcome.steps_completed = step + 1;
    training_seconds += seconds_since(step_start);
    if (context.after_step) context.after_step();
    healthy = evaluate_if_due(step + 1);
  }
  if (outcome.status == spec::TrialStatus::pending) outcome.status = spec::TrialStatus::finished;

  outcome.wall_seconds = seconds_since(trial_start);
  outcome.examples_per_second =
      training_seconds > 0 ? static_cast<double>(outcome.steps_completed * trial.batch_size) / training_seconds
                           : 0.0;
  return outcome;
}

}  // namespace sgdsweep::train
