// One trial of a spec, trained alone on a chosen device, its curve written as JSON: the host and
// GPU runs of the same trial are compared by bench/gpu/compare_curves.py (issue #4: the same curve
// on CPU and GPU within tolerance). No MPI: the trial runs as a team of one.
//
// Usage: sgdsweep-trial-curve SPEC.toml --device host|cuda [--trial N] [--data DIR] --out CURVE.json
//   --data replaces the spec's [data] path (the GPU machine has the data elsewhere).
// Output: {"device", "version" (git describe when the build was configured), "spec", "trial": {index, batch_size, steps, learning_rate, seed}, "status",
//   "wall_seconds", "examples_per_second", "curve": [{step, train_loss, test_metric}], "step_losses"}.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "comm/gradient_reducer.hpp"
#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "spec/spec.hpp"
#include "train/task_data.hpp"
#include "train/trainer.hpp"
#include "util/error.hpp"
#include "util/version.hpp"

namespace {

// Full precision, and null for a non-finite value (JSON has no NaN).
std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

using sgdsweep::kGitDescribe;

int run(const std::string& spec_path, const std::string& device, int index, const std::string& data,
        const std::string& out_path) {
  using namespace sgdsweep;
  spec::Spec spec = spec::load_spec(spec_path);
  spec.device = device;
  if (!data.empty()) spec.data_path = data;
  const auto backend = ops::make_backend(device, {0, spec.deterministic, spec.tf32});
  const auto task = train::load_task_data(spec, *backend);
  const std::vector<spec::Trial> trials = spec::expand_grid(spec, task->shape());
  if (index < 0 || index >= static_cast<int>(trials.size())) {
    fail("trial ", index, " does not exist (the spec has ", trials.size(), ")");
  }
  const spec::Trial& trial = trials[static_cast<std::size_t>(index)];
  std::cerr << "trial " << index << ": B = " << trial.batch_size << ", " << trial.steps << " steps, rate "
            << trial.learning_rate << ", on " << device << "\n";
  const auto alone = comm::make_identity_reducer();
  train::TrialContext context{*backend, *task, spec, *alone};
  const spec::TrialOutcome outcome = train::train_trial(trial, context);

  std::ofstream out(out_path);
  out << "{\"device\": \"" << device << "\", \"version\": \"" << kGitDescribe << "\", \"spec\": \"" << spec_path << "\", \"trial\": {\"index\": " << index
      << ", \"batch_size\": " << trial.batch_size << ", \"steps\": " << trial.steps
      << ", \"learning_rate\": " << number(trial.learning_rate) << ", \"seed\": " << trial.seed << "},\n"
      << " \"status\": \"" << spec::name(outcome.status) << "\", \"wall_seconds\": " << number(outcome.wall_seconds)
      << ", \"examples_per_second\": " << number(outcome.examples_per_second) << ",\n \"curve\": [";
  for (std::size_t k = 0; k < outcome.curve.size(); ++k) {
    const spec::CurvePoint& p = outcome.curve[k];
    out << (k ? ",\n  " : "\n  ") << "{\"step\": " << p.step << ", \"train_loss\": " << number(p.train_loss)
        << ", \"test_metric\": " << number(p.test_metric) << "}";
  }
  out << "],\n \"step_losses\": [";
  for (std::size_t k = 0; k < outcome.step_losses.size(); ++k) out << (k ? ", " : "") << number(outcome.step_losses[k]);
  out << "]}\n";
  if (!out) fail("cannot write ", out_path);
  std::cerr << "trial " << index << " on " << device << ": " << spec::name(outcome.status) << ", "
            << outcome.steps_completed << " steps in " << outcome.wall_seconds << " s, final train loss "
            << (outcome.curve.empty() ? NAN : outcome.curve.back().train_loss) << "; " << out_path << "\n";
  return outcome.status == spec::TrialStatus::finished ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train one trial of a spec alone on a device and write its curve as JSON (compare host and GPU "
               "with bench/gpu/compare_curves.py)"};
  std::string spec_path, device = "host", data, out_path;
  int index = 0;
  app.add_option("spec", spec_path, "sweep spec (TOML)")->required()->check(CLI::ExistingFile);
  app.add_option("--device", device, "host | cuda")->check(CLI::IsMember({"host", "cuda"}));
  app.add_option("--trial", index, "the trial's index in the spec's grid (default 0)");
  app.add_option("--data", data, "replaces the spec's [data] path");
  app.add_option("--out,-o", out_path, "the curve, as JSON")->required();
  CLI11_PARSE(app, argc, argv);
  const sgdsweep::ops::Runtime runtime;
  try {
    return run(spec_path, device, index, data, out_path);
  } catch (const sgdsweep::Error& e) {
    std::cerr << "sgdsweep-trial-curve: " << e.what() << "\n";
    return 1;
  }
}
