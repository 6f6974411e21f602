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

spec::TrialOutcome train_trial(const spec::Trial& trial, TrialContext& context) {
  const Clock::time_point trial_start = Clock::now();
  ops::Backend& backend = context.backend;
  TaskData& data = context.data;
  comm::GradientReducer& team = context.team;
  const bool leader = team.rank() == 0;

  auto model = make_model(context.spec, trial, data, backend);
  nn::Parameters& parameters = model->parameters();
  Optimizer optimizer(parameters, trial.momentum, trial.l2);
  const LearningRateSchedule schedule(trial.learning_rate, trial.steps, trial.gamma, trial.warmup_steps);
  const std::unique_ptr<TrialBatches> batches = data.batches(trial);
  const std::int64_t microbatches = (trial.batch_size + trial.microbatch - 1) / trial.microbatch;
  if (microbatches % team.size() != 0) {
    fail("trial ", trial.index, ": ", microbatches, " microbatches cannot be split over a team of ",
         team.size(), " ranks");
  }
  const std::int64_t mine = microbatches / team.size();  // this member's aligned run
  const std::int64_t first_microbatch = team.rank() * mine;
  std::unique_ptr<GradientAccumulator> accumulator;
  if (mine > 1) accumulator = std::make_unique<GradientAccumulator>(backend, parameters.size(), mine);
  ops::Buffer<double> losses(backend, static_cast<std::size_t>(mine));
  // A team on a GPU backend all-reduces a host copy of the gradients (allocated once per trial).
  std::vector<float> staged_gradients;
  if (team.size() > 1 && !backend.host_addressable()) staged_gradients.resize(static_cast<std::size_t>(parameters.size()));
  std::vector<double> my_losses(static_cast<std::size_t>(mine));
  std::vector<double> all_losses(static_cast<std::size_t>(microbatches));
  const double terms = static_cast<double>(trial.batch_size * model->terms_per_example());
  const auto loss_scale = static_cast<float>(1.0 / terms);

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
    if (step % trial.steps_per_epoch == 0) model->reset_training_state();
    if (accumulator) accumulator->reset();
    for (std::int64_t m = 0; m < mine; ++m) {
      const std::int64_t first = (first_microbatch + m) * trial.microbatch;
      const std::int64_t count = std::min(trial.microbatch, trial.batch_size - first);
      model->forward_backward(batches->batch(step, first, count), loss_scale, losses.data() + m);
      if (accumulator) accumulator->add(parameters.gradients());
    }
    if (accumulator) accumulator->finish(parameters.gradients());
    if (team.size() > 1) {
      if (staged_gradients.empty()) {
        team.sum(parameters.gradients(), parameters.size());
      } else {  // GPU memory: through the host (the same tree order, so the same bits)
        backend.copy_to_host(staged_gradients.data(), parameters.gradients(), staged_gradients.size() * sizeof(float));
        team.sum(staged_gradients.data(), parameters.size());
        backend.copy_to_device(parameters.gradients(), staged_gradients.data(), staged_gradients.size() * sizeof(float));
      }
    }
    losses.download(my_losses.data(), my_losses.size());
    team.gather(my_losses.data(), mine, all_losses.data());
    double loss_sum = 0.0;
    for (double value : all_losses) loss_sum += value;  // microbatch order, whatever the team
    const double minibatch_loss = loss_sum / terms;
    if (step % trial.step_loss_every == 0) outcome.step_losses.push_back(static_cast<float>(minibatch_loss));
    if (!std::isfinite(minibatch_loss)) {
      outcome.status = spec::TrialStatus::diverged;
      outcome.message = concat("non-finite training loss at step ", step);
      break;
    }
    if (trial.clip_norm > 0) clip_gradient_norm(parameters, trial.clip_norm);
    optimizer.step(schedule.at(step), microbatches);
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
