// The rank loop of a sweep (see runner.hpp): agree on inputs, lock and create (or reopen) the
// file, split the ranks into the plan's teams, then take trials from the class's shared counter
// until none are left; rank 0 reports progress from the shared progress counters.
#include "sweep/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "comm/gradient_reducer.hpp"
#include "comm/node_ranks.hpp"
#include "comm/shared_counters.hpp"
#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "spec/model_size.hpp"
#include "store/sweep_file.hpp"
#include "sweep/planner.hpp"
#include "train/task_data.hpp"
#include "train/trainer.hpp"
#include "util/file_lock.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"

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

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string describe(const spec::Trial& trial) {
  return concat(spec::name(trial.optimizer), " B=", trial.batch_size, " eps_eff=2^",
                trial.log2_effective_learning_rate, " seed ", trial.seed_index);
}

// Slots of the shared counters after the per-class "next trial" counters.
enum Progress { kFinished = 0, kExamples = 1, kFinishedMilliseconds = 2, kProgressSlots = 3 };

}  // namespace

RunSummary run_sweep(const spec::Spec& spec, const RunOptions& options, const comm::Communicator& comm) {
  const Clock::time_point start = Clock::now();
  const std::filesystem::path output(options.output_path);
  const std::string lock_path = output.string() + ".lock";

  agree(comm, "checking the output path", [&] {
    if (comm.rank() != 0) return;
    const bool exists = std::filesystem::exists(output);
    if (options.resume && !exists) fail("nothing to resume: ", output.string(), " does not exist");
    if (options.append && !exists) {
      fail("nothing to append to: ", output.string(), " does not exist (run without --append to create it)");
    }
    if (!options.resume && !options.append && exists && !options.overwrite) {
      fail(output.string(), " already exists (--resume continues it, --append adds the spec's new trials to it, "
           "--overwrite replaces it)");
    }
    const std::filesystem::path folder =
        output.has_parent_path() ? output.parent_path() : std::filesystem::path(".");
    if (!std::filesystem::is_directory(folder)) fail("the folder of ", output.string(), " does not exist");
    // Nobody may still be writing the file: a killed job's ranks can outlive its launcher.
    FileLock probe(lock_path, FileLock::Mode::exclusive);
  });

  std::unique_ptr<ops::Backend> backend;
  std::unique_ptr<train::TaskData> data;
  std::vector<spec::Trial> trials;
  ops::DeviceOptions device;
  device.node_rank = comm.node_rank();  // collective: every rank, before anything can fail
  device.deterministic = spec.deterministic;
  device.tf32 = spec.tf32;
  agree(comm, "opening the device and loading the data", [&] {
    backend = ops::make_backend(spec.device, device);
    data = train::load_task_data(spec, *backend);
    trials = spec::expand_grid(spec, data->shape());
  });
  const spec::DataShape shape = data->shape();
  std::optional<FileLock> lock;
  agree(comm, "locking the output", [&] { lock.emplace(lock_path, FileLock::Mode::shared); });

  store::Provenance provenance;
  provenance.train_examples = shape.train_examples;
  provenance.test_examples = shape.test_examples;
  provenance.eval_train_examples = spec.eval_train_examples > 0
                                       ? std::min(spec.eval_train_examples, shape.train_examples)
                                       : shape.train_examples;
  provenance.train_source = data->train_source();
  provenance.test_source = data->test_source();
  provenance.ranks = comm.size();
  std::optional<store::SweepFile> file;
  std::vector<std::int64_t> to_run;
  if (options.resume || options.append) {
    // Both fail on every rank alike (rank 0 decides and tells the others), before any training.
    store::SweepFile::Resume resume;
    agree(comm, options.append ? "appending to the sweep file" : "reopening the sweep file", [&] {
      file.emplace(options.append
                       ? store::SweepFile::append(output.string(), comm.get(), spec, trials, provenance, resume)
                       : store::SweepFile::reopen(output.string(), comm.get(), spec, trials, resume));
    });
    to_run = resume.to_run;
    if (comm.rank() == 0) {
      log::info(options.append ? concat("appending ", resume.added, " new trials to ") : std::string("resuming "),
                output.string(), ": ", resume.kept, " committed trials kept, ", to_run.size(), " to run (",
                resume.failed, " failed before, ", resume.corrupt, " with a bad checksum)");
    }
  } else {
    file.emplace(store::SweepFile::create(output.string(), comm.get(), spec, trials, provenance));
    for (const spec::Trial& trial : trials) to_run.push_back(trial.index);
  }

  // Every rank computes the same plan: who is in which team, which trials each class runs.
  Plan plan;
  agree(comm, "planning", [&] {
    const std::int64_t parameters = spec::parameter_count(spec, data->classes_or_vocabulary());
    plan = make_plan(spec, trials, to_run, comm.size(), shape, parameters, cost_model_for(spec));
  });
  const Plan::Placement place = plan.placement(comm.rank());
  const comm::Communicator team_comm =
      comm.split(place.class_index < 0 ? -1 : place.class_index * (1 << 20) + place.team, place.member);
  const int team_size = place.class_index < 0 ? 0 : plan.classes[place.class_index].team_size;
  // Reducers for every split a trial of this class may use: the whole team, or (a padded trial
  // that cannot split that far) its first e members, e a power of two.
  std::vector<comm::Communicator> sub_teams;
  std::vector<std::unique_ptr<comm::GradientReducer>> reducers;  // [k]: the first 2^k members
  reducers.push_back(comm::make_identity_reducer());
  for (int e = 2; e <= team_size; e *= 2) {
    if (e == team_size) {
      reducers.push_back(comm::make_mpi_reducer(team_comm));
    } else {
      sub_teams.push_back(team_comm.split(place.member < e ? 0 : -1, place.member));
      reducers.push_back(place.member < e ? comm::make_mpi_reducer(sub_teams.back()) : nullptr);
    }
  }
  const auto reducer_for = [&](int split) { return reducers[static_cast<std::size_t>(std::log2(split))].get(); };
  const bool leader = place.member == 0;
  if (comm.rank() == 0) {
    log::info("sweep '", spec.name, "': ", to_run.size(), " of ", trials.size(), " trials of ", spec.model_name,
              " to run on ", comm.size(), " rank(s) (", plan.classes.size(), " team class(es), predicted ",
              format_duration(plan.makespan_seconds), " at ", static_cast<int>(plan.efficiency * 100 + 0.5),
              "% efficiency); ", shape.train_examples, " training and ", shape.test_examples,
              spec.model == spec::ModelKind::lstm ? " test tokens" : " test examples", "; writing ",
              output.string());
  }

  const int classes = static_cast<int>(plan.classes.size());
  comm::SharedCounters counters(comm, classes + kProgressSlots);
  double total_milliseconds = 0;
  for (std::int64_t index : to_run) total_milliseconds += 1000 * plan.trial_seconds[index];
  ProgressDisplay progress(static_cast<std::int64_t>(to_run.size()), total_milliseconds,
                           comm.rank() == 0 && log::level() >= log::Level::info);
  const auto report_progress = [&](bool force) {
    progress.update(counters.read(classes + kFinished),
                    static_cast<double>(counters.read(classes + kFinishedMilliseconds)),
                    counters.read(classes + kExamples), force);
  };

  std::int64_t batch_size = 0;
  const auto after_step = [&] {
    if (leader) counters.fetch_add(classes + kExamples, batch_size);
    if (comm.rank() == 0) report_progress(false);
  };

  RunSummary local;
  TimeSplit& time = local.time;
  time.setup = seconds_since(start);
  // The team leader writes an ended trial to the file and counts it.
  const auto record = [&](const spec::Trial& trial, const spec::TrialOutcome& outcome, int split) {
    const Clock::time_point write_start = Clock::now();
    file->write_outcome(trial, outcome, comm.rank(), split);
    time.hdf5 += seconds_since(write_start);
    counters.fetch_add(classes + kFinished, 1);
    counters.fetch_add(classes + kFinishedMilliseconds,
                       static_cast<std::int64_t>(1000 * plan.trial_seconds[trial.index]));
    ++local.trials;
    local.finished += outcome.status == spec::TrialStatus::finished;
    local.diverged += outcome.status == spec::TrialStatus::diverged;
    local.failed += outcome.status == spec::TrialStatus::failed;
    const double metric = outcome.curve.empty() ? NAN : outcome.curve.back().test_metric;
    log::debug("trial ", trial.index, " (", describe(trial), ", team of ", split, "): ", spec::name(outcome.status),
               " after ", outcome.steps_completed, "/", trial.steps, " steps in ", outcome.wall_seconds,
               " s, test metric ", metric, outcome.message.empty() ? "" : " — ", outcome.message);
  };
  // A trial that threw `what`: failed, the message naming this rank, logged.
  const auto mark_failed = [&](const spec::Trial& trial, spec::TrialOutcome& outcome, const std::string& what) {
    outcome.status = spec::TrialStatus::failed;
    outcome.message = concat("rank ", comm.rank(), ": ", what);
    outcome.examples_per_second = NAN;
    log::error("trial ", trial.index, " (", describe(trial), ") failed: ", what);
  };
  if (place.class_index >= 0) {
    const TeamClass& team_class = plan.classes[place.class_index];
    // The leader takes the class's next trial; the team learns it by broadcast. -1: none left.
    const auto claim = [&]() -> std::int64_t {
      const Clock::time_point claim_start = Clock::now();
      std::int64_t trial_index = -1;
      if (leader) {
        const std::int64_t next = counters.fetch_add(place.class_index, 1);
        if (next < static_cast<std::int64_t>(team_class.trials.size())) trial_index = team_class.trials[next];
      }
      if (team_size > 1) team_comm.broadcast(&trial_index, sizeof trial_index, 0);
      time.scheduling += seconds_since(claim_start);
      return trial_index;
    };
    if (plan.pack > 1 && team_size == 1) {
      // Packs: the class list keeps each shape's trials together (planner.hpp); a pack's size is
      // [parallel] pack or what fits in this rank's share of the free memory.
      const std::size_t free_bytes =
          backend->free_memory_bytes() / (backend->host_addressable() ? comm::launcher_ranks_per_node() : 1);
      train::PackContext context{*backend, *data, spec};
      context.done = [&](const spec::Trial& trial, spec::TrialOutcome outcome) {
        if (outcome.status == spec::TrialStatus::failed) mark_failed(trial, outcome, outcome.message);
        record(trial, outcome, 1);
      };
      context.after_step = [&](std::int64_t examples) {
        batch_size = examples;
        after_step();
      };
      // Training is the packs' time less the claims and the file writes made from inside them.
      const Clock::time_point packs_start = Clock::now();
      const double elsewhere = time.scheduling + time.hdf5;
      train::train_in_packs(
          context,
          [&]() -> const spec::Trial* {
            const std::int64_t index = claim();
            return index < 0 ? nullptr : &trials[index];
          },
          [&](const spec::Trial& first) { return train::pack_copies(spec, first, free_bytes, data->classes_or_vocabulary()); });
      time.training += seconds_since(packs_start) - (time.scheduling + time.hdf5 - elsewhere);
    } else {
      for (std::int64_t trial_index = claim(); trial_index >= 0; trial_index = claim()) {
        const spec::Trial& trial = trials[trial_index];
        const int split = plan.team_size[trial_index];
        if (place.member >= split) continue;  // a padded trial: the first `split` members run it
        batch_size = trial.batch_size;
        train::TrialContext context{*backend, *data, spec, *reducer_for(split), after_step};
        spec::TrialOutcome outcome;
        const Clock::time_point trial_start = Clock::now();
        try {
          outcome = train::train_trial(trial, context);
        } catch (const std::exception& e) {
          if (split > 1) {
            // The team's other members are inside a collective of this trial: end the job (its
            // committed trials are safe; --resume reruns the rest).
            log::error("trial ", trial.index, " (", describe(trial), ") failed on team member ", place.member,
                       ": ", e.what(), " (aborting the job; --resume continues it)");
            MPI_Abort(comm.get(), 3);
          }
          outcome = spec::TrialOutcome{};
          outcome.wall_seconds = seconds_since(trial_start);
          mark_failed(trial, outcome, e.what());
        }
        time.training += seconds_since(trial_start);
        if (leader) record(trial, outcome, split);
      }
    }
  }
  // Rank 0 keeps reporting until every trial is in.
  const Clock::time_point idle_start = Clock::now();
  if (comm.rank() == 0) {
    while (counters.read(classes + kFinished) < static_cast<std::int64_t>(to_run.size())) {
      report_progress(false);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    progress.finish(counters.read(classes + kFinished),
                    static_cast<double>(counters.read(classes + kFinishedMilliseconds)),
                    counters.read(classes + kExamples));
  }
  comm.barrier();
  time.idle = seconds_since(idle_start);
  const Clock::time_point close_start = Clock::now();
  file->close();
  time.hdf5 += seconds_since(close_start);
  lock.reset();
  comm.barrier();
  if (comm.rank() == 0) std::filesystem::remove(lock_path);

  RunSummary summary;
  summary.trials = comm.sum(static_cast<long long>(local.trials));
  summary.finished = comm.sum(static_cast<long long>(local.finished));
  summary.diverged = comm.sum(static_cast<long long>(local.diverged));
  summary.failed = comm.sum(static_cast<long long>(local.failed));
  summary.wall_seconds = seconds_since(start);
  summary.ranks = comm.size();
  summary.time.setup = comm.sum(time.setup);
  summary.time.training = comm.sum(time.training);
  summary.time.hdf5 = comm.sum(time.hdf5);
  summary.time.scheduling = comm.sum(time.scheduling);
  summary.time.idle = comm.sum(time.idle);
  return summary;
}

}  // namespace sgdsweep::sweep
