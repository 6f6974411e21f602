// The training loop of one trial (see trainer.hpp).
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "data/batcher.hpp"
#include "nn/models/autoencoder.hpp"
#include "train/lr_schedule.hpp"
#include "train/optimizer.hpp"
#include "util/error.hpp"

namespace sgdsweep::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<nn::Model> make_model(const spec::Trial& trial, const TrialContext& context,
                                      std::int64_t max_batch) {
  switch (trial.model) {
    case spec::ModelKind::autoencoder:
      return std::make_unique<nn::Autoencoder>(
          context.backend, max_batch, nn::parse_autoencoder_init(context.init), trial.seed);
  }
  fail("trial ", trial.index, ": unknown model");
}

// Mean loss and mean metric over the first `count` rows of `pixels`, in fixed chunks.
struct Evaluation {
  double loss = 0.0;
  double metric = 0.0;
};

class Evaluator {
 public:
  Evaluator(ops::Backend& backend, std::int64_t features)
      : backend_(backend),
        features_(features),
        rows_(backend, static_cast<std::size_t>(kEvaluationRows)),
        batch_(backend, static_cast<std::size_t>(kEvaluationRows * features)),
        sums_(backend, 2) {
    std::vector<std::int32_t> identity(static_cast<std::size_t>(kEvaluationRows));
    for (std::int64_t i = 0; i < kEvaluationRows; ++i) identity[i] = static_cast<std::int32_t>(i);
    rows_.upload(identity.data(), identity.size());
  }

  Evaluation run(nn::Model& model, const std::uint8_t* pixels, std::int64_t count) {
    double loss = 0.0;
    double metric = 0.0;
    for (std::int64_t begin = 0; begin < count; begin += kEvaluationRows) {
      const std::int64_t rows = std::min(kEvaluationRows, count - begin);
      backend_.gather_rows_u8(pixels + begin * features_, features_, rows_.data(), rows,
                              1.0f / 255.0f, batch_.data());
      model.evaluate({batch_.data(), nullptr, rows}, sums_.data(), sums_.data() + 1);
      double host[2];
      sums_.download(host, 2);
      loss += host[0];
      metric += host[1];
    }
    return {loss / static_cast<double>(count), metric / static_cast<double>(count)};
  }

 private:
  ops::Backend& backend_;
  std::int64_t features_;
  ops::Buffer<std::int32_t> rows_;  // 0, 1, 2, …: a contiguous slice through the gather op
  ops::Buffer<float> batch_;
  ops::Buffer<double> sums_;
};

}  // namespace

std::int64_t evaluation_step(const spec::Trial& trial, std::int32_t k) {
  return (static_cast<std::int64_t>(k) * trial.steps + trial.evaluations / 2) / trial.evaluations;
}

spec::TrialOutcome train_trial(const spec::Trial& trial, TrialContext& context) {
  const Clock::time_point trial_start = Clock::now();
  ops::Backend& backend = context.backend;
  const StagedData& data = context.data;
  const std::int64_t features = data.features();
  const std::int64_t batch_size = trial.batch_size;
  const std::int64_t eval_train =
      context.eval_train_examples > 0 ? std::min(context.eval_train_examples, data.train_count())
                                      : data.train_count();

  auto model = make_model(trial, context, std::max(batch_size, kEvaluationRows));
  Optimizer optimizer(model->parameters(), trial.momentum, trial.l2);
  const LearningRateSchedule schedule(trial.learning_rate, trial.steps, trial.gamma,
                                      trial.warmup_steps);
  data::EpochSampler sampler(trial.seed, data.train_count(), batch_size);
  if (sampler.steps_per_epoch() != trial.steps_per_epoch) {
    fail("trial ", trial.index, ": ", sampler.steps_per_epoch(), " steps per epoch in the data, ",
         trial.steps_per_epoch, " in the grid");
  }
  Evaluator evaluator(backend, features);
  ops::Buffer<std::int32_t> batch_rows(backend, static_cast<std::size_t>(batch_size));
  ops::Buffer<float> batch(backend, static_cast<std::size_t>(batch_size * features));
  ops::Buffer<double> loss_sum(backend, 1);

  spec::TrialOutcome outcome;
  outcome.step_losses.reserve(static_cast<std::size_t>(spec::step_loss_count(trial)));
  double training_seconds = 0.0;

  std::int32_t next_evaluation = 0;
  auto evaluate_if_due = [&](std::int64_t steps_done) {
    while (next_evaluation <= trial.evaluations &&
           evaluation_step(trial, next_evaluation) == steps_done) {
      const Evaluation train = evaluator.run(*model, data.train_pixels(), eval_train);
      const Evaluation test = evaluator.run(*model, data.test_pixels(), data.test_count());
      outcome.curve.push_back({steps_done,
                               static_cast<double>(steps_done) / trial.steps_per_epoch,
                               schedule.at(std::max<std::int64_t>(0, steps_done - 1)), train.loss,
                               test.metric});
      ++next_evaluation;
      if (!std::isfinite(train.loss) || !std::isfinite(test.metric)) {
        outcome.status = spec::TrialStatus::diverged;
        outcome.message = concat("non-finite evaluation at step ", steps_done);
        return false;
      }
    }
    return true;
  };

  bool healthy = evaluate_if_due(0);
  for (std::int64_t step = 0; healthy && step < trial.steps; ++step) {
    const Clock::time_point step_start = Clock::now();
    batch_rows.upload(sampler.batch(step), static_cast<std::size_t>(batch_size));
    backend.gather_rows_u8(data.train_pixels(), features, batch_rows.data(), batch_size,
                           1.0f / 255.0f, batch.data());
    model->forward_backward({batch.data(), nullptr, batch_size},
                            1.0f / static_cast<float>(batch_size), loss_sum.data());
    double minibatch_loss = 0.0;
    loss_sum.download(&minibatch_loss, 1);
    minibatch_loss /= static_cast<double>(batch_size);
    if (step % trial.step_loss_every == 0) {
      outcome.step_losses.push_back(static_cast<float>(minibatch_loss));
    }
    if (!std::isfinite(minibatch_loss)) {
      outcome.status = spec::TrialStatus::diverged;
      outcome.message = concat("non-finite training loss at step ", step);
      break;
    }
    optimizer.step(schedule.at(step));
    outcome.steps_completed = step + 1;
    training_seconds += seconds_since(step_start);
    healthy = evaluate_if_due(step + 1);
  }
  if (outcome.status == spec::TrialStatus::pending) outcome.status = spec::TrialStatus::finished;

  outcome.wall_seconds = seconds_since(trial_start);
  outcome.examples_per_second =
      training_seconds > 0
          ? static_cast<double>(outcome.steps_completed * batch_size) / training_seconds
          : 0.0;
  return outcome;
}

}  // namespace sgdsweep::train
