// The rank loop of a sweep (see runner.hpp).
#include "sweep/runner.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "store/sweep_file.hpp"
#include "train/task_data.hpp"
#include "train/trainer.hpp"
#include "util/log.hpp"

namespace sgdsweep::sweep {
namespace {

using Clock = std::chrono::steady_clock;

// Runs `step` on every rank; if it throws anywhere, every rank throws CollectiveError (the rank
// that failed with its own message, the others pointing at it).
template <class Step>
void agree(const comm::Communicator& comm, const char* what, Step&& step) {
  std::optional<std::string> error;
  try {
    step();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (comm.all_ok(!error)) return;
  if (error) throw CollectiveError(*error);
  throw CollectiveError(concat(what, " failed on another rank (see its message)"));
}

std::string describe(const spec::Trial& trial) {
  return concat(spec::name(trial.optimizer), " B=", trial.batch_size, " eps_eff=2^",
                trial.log2_effective_learning_rate, " seed ", trial.seed_index);
}

}  // namespace

RunSummary run_sweep(const spec::Spec& spec, const RunOptions& options, const comm::Communicator& comm) {
  const Clock::time_point start = Clock::now();
  const std::filesystem::path output(options.output_path);

  agree(comm, "checking the output path", [&] {
    if (comm.rank() != 0) return;
    if (std::filesystem::exists(output) && !options.overwrite) {
      fail(output.string(), " already exists (pass --overwrite to replace it)");
    }
    const std::filesystem::path folder =
        output.has_parent_path() ? output.parent_path() : std::filesystem::path(".");
    if (!std::filesystem::is_directory(folder)) {
      fail("the folder of ", output.string(), " does not exist");
    }
  });

  std::unique_ptr<ops::Backend> backend;
  std::unique_ptr<train::TaskData> data;
  std::vector<spec::Trial> trials;
  agree(comm, "loading the data", [&] {
    backend = ops::make_backend(spec.device);
    data = train::load_task_data(spec, *backend);
    trials = spec::expand_grid(spec, data->shape());
  });
  const spec::DataShape shape = data->shape();
  const std::vector<std::int64_t> mine = spec::partition(trials, comm.size())[comm.rank()];
  if (comm.rank() == 0) {
    log::info("sweep '", spec.name, "': ", trials.size(), " trials of ", spec.model_name, " on ",
              comm.size(), " rank(s); ", shape.train_examples, " training and ", shape.test_examples,
              spec.model == spec::ModelKind::lstm ? " test tokens" : " test examples", "; writing ",
              output.string());
  }

  store::Provenance provenance;
  provenance.train_examples = shape.train_examples;
  provenance.test_examples = shape.test_examples;
  provenance.eval_train_examples =
      spec.eval_train_examples > 0 ? std::min(spec.eval_train_examples, shape.train_examples)
                                   : shape.train_examples;
  provenance.train_source = data->train_source();
  provenance.test_source = data->test_source();
  provenance.ranks = comm.size();
  store::SweepFile file =
      store::SweepFile::create(output.string(), comm.get(), spec, trials, provenance);

  train::TrialContext context{*backend, *data, spec};
  RunSummary local;
  for (std::size_t n = 0; n < mine.size(); ++n) {
    const spec::Trial& trial = trials[mine[n]];
    spec::TrialOutcome outcome;
    const Clock::time_point trial_start = Clock::now();
    try {
      outcome = train::train_trial(trial, context);
    } catch (const std::exception& e) {
      outcome = spec::TrialOutcome{};
      outcome.status = spec::TrialStatus::failed;
      outcome.message = concat("rank ", comm.rank(), ": ", e.what());
      outcome.wall_seconds = std::chrono::duration<double>(Clock::now() - trial_start).count();
      outcome.examples_per_second = NAN;
      log::error("trial ", trial.index, " (", describe(trial), ") failed: ", e.what());
    }
    file.write_outcome(trial, outcome, comm.rank());
    ++local.trials;
    local.finished += outcome.status == spec::TrialStatus::finished;
    local.diverged += outcome.status == spec::TrialStatus::diverged;
    local.failed += outcome.status == spec::TrialStatus::failed;
    const double metric = outcome.curve.empty() ? NAN : outcome.curve.back().test_metric;
    log::info("trial ", trial.index, " (", describe(trial), "): ", spec::name(outcome.status),
              " after ", outcome.steps_completed, "/", trial.steps, " steps in ",
              outcome.wall_seconds, " s, test metric ", metric, " [", n + 1, "/", mine.size(),
              " on this rank]");
  }
  file.close();

  RunSummary summary;
  summary.trials = comm.sum(static_cast<long long>(local.trials));
  summary.finished = comm.sum(static_cast<long long>(local.finished));
  summary.diverged = comm.sum(static_cast<long long>(local.diverged));
  summary.failed = comm.sum(static_cast<long long>(local.failed));
  summary.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summary;
}

}  // namespace sgdsweep::sweep
