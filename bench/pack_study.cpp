// A whole study trained in packs on one device, without MPI (the GPU machine has no MPI runtime):
// every trial of a spec's grid, in the order and packs `sgdsweep run` gives a one-rank job
// (the planner's class list, train::train_in_packs), with its wall time and GPU-hours beside the
// planner's prediction for one rank (issue #9: a reduced autoencoder study of >= 500 trials on
// the H100). Outcomes are counted, not written: the sweep file is the runner's business.
//
// Usage: sgdsweep-pack-study SPEC.toml --device host|cuda [--pack P] [--data DIR] --out STUDY.json
// Output: {"device", "version", "spec", "pack", "trials", "finished", "diverged", "failed",
//   "trial_steps", "wall_seconds", "device_hours", "trial_steps_per_second", "predicted_seconds",
//   "predicted_device_hours", "cost_model", "pack_shapes"}.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "spec/model_size.hpp"
#include "spec/spec.hpp"
#include "sweep/planner.hpp"
#include "train/task_data.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace {

using namespace sgdsweep;

int run(const std::string& spec_path, const std::string& device, std::int64_t pack, const std::string& data,
        const std::string& out_path) {
  spec::Spec spec = spec::load_spec(spec_path);
  spec::apply_overrides(spec, device, pack);
  if (!data.empty()) spec.data_path = data;
  const auto backend = ops::make_backend(spec.device, {0, spec.deterministic, spec.tf32});
  const auto task = train::load_task_data(spec, *backend);
  const std::vector<spec::Trial> trials = spec::expand_grid(spec, task->shape());
  std::vector<std::int64_t> all(trials.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  const sweep::Plan plan = sweep::make_plan(spec, trials, all, 1, task->shape(), spec::parameter_count(spec),
                                            sweep::cost_model_for(spec));
  std::vector<std::int64_t> order;
  for (const sweep::TeamClass& cls : plan.classes) order.insert(order.end(), cls.trials.begin(), cls.trials.end());
  std::cerr << trials.size() << " trials in packs of up to " << spec.pack << " on " << spec.device
            << "; predicted " << plan.makespan_seconds << " s\n";

  std::size_t next = 0, ended = 0;
  std::int64_t counts[4] = {0, 0, 0, 0}, trial_steps = 0;  // by TrialStatus
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  train::PackContext context{*backend, *task, spec};
  context.done = [&](const spec::Trial& trial, spec::TrialOutcome outcome) {
    ++counts[static_cast<int>(outcome.status)];
    trial_steps += outcome.steps_completed;
    if (outcome.status == spec::TrialStatus::failed) std::cerr << "trial " << trial.index << ": " << outcome.message << "\n";
    // Progress at every tenth of the trials, so that a run stopped early still says how far it got.
    ++ended;
    if (ended * 10 / trials.size() > (ended - 1) * 10 / trials.size()) {
      std::cerr << ended << " of " << trials.size() << " trials ended, " << trial_steps << " trial-steps, after "
                << seconds() << " s\n";
    }
  };
  train::train_in_packs(
      context, [&]() -> const spec::Trial* { return next < order.size() ? &trials[order[next++]] : nullptr; },
      [&](const spec::Trial& first) { return train::pack_copies(spec, first, backend->free_memory_bytes(), task->classes_or_vocabulary()); });
  backend->synchronize();
  const double wall = seconds();

  std::ofstream out(out_path);
  out << "{\"device\": \"" << spec.device << "\", \"version\": \"" << kGitDescribe << "\", \"spec\": \"" << spec_path
      << "\", \"pack\": " << spec.pack << ", \"trials\": " << trials.size() << ", \"finished\": " << counts[1]
      << ", \"diverged\": " << counts[2] << ", \"failed\": " << counts[3] << ", \"trial_steps\": " << trial_steps
      << ",\n \"wall_seconds\": " << wall << ", \"device_hours\": " << wall / 3600
      << ", \"trial_steps_per_second\": " << trial_steps / wall << ", \"predicted_seconds\": " << plan.makespan_seconds
      << ", \"predicted_device_hours\": " << plan.total_rank_seconds / 3600 << ",\n \"pack_shapes\": " << plan.pack_shapes
      << ", \"cost_model\": \"" << plan.cost_source << "\"}\n";
  if (!out) fail("cannot write ", out_path);
  std::cerr << trials.size() << " trials (" << counts[1] << " finished, " << counts[2] << " diverged, " << counts[3]
            << " failed), " << trial_steps << " trial-steps in " << wall << " s (predicted " << plan.makespan_seconds
            << " s); " << out_path << "\n";
  return counts[3] == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train every trial of a spec in packs on one device, without MPI, and write the study's wall time "
               "beside the planner's prediction as JSON"};
  std::string spec_path, device = "host", data, out_path;
  std::int64_t pack = 0;
  app.add_option("spec", spec_path, "sweep spec (TOML)")->required()->check(CLI::ExistingFile);
  app.add_option("--device", device, "host | cuda")->check(CLI::IsMember({"host", "cuda"}));
  app.add_option("--pack", pack, "overrides [parallel] pack")->check(CLI::Range(1, 4096));
  app.add_option("--data", data, "replaces the spec's [data] path");
  app.add_option("--out,-o", out_path, "the study's numbers, as JSON")->required();
  CLI11_PARSE(app, argc, argv);
  const ops::Runtime runtime;
  try {
    return run(spec_path, device, pack, data, out_path);
  } catch (const Error& e) {
    std::cerr << "sgdsweep-pack-study: " << e.what() << "\n";
    return 1;
  }
}
