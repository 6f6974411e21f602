// `sgdsweep plan` (see plan_command.hpp): the spec's grid on its data (or the full dataset's sizes
// when the data is not on this machine), the cost model (optionally calibrated on a finished
// sweep), the plan and its report.
#include "sweep/plan_command.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "ops/registry.hpp"
#include "spec/grid.hpp"
#include "spec/model_size.hpp"
#include "store/sweep_file.hpp"
#include "sweep/planner.hpp"
#include "train/task_data.hpp"
#include "util/error.hpp"

namespace sgdsweep::sweep {
namespace {

// The full datasets' sizes (examples; PTB: tokens of the standard training and test splits),
// with the spec's limits applied: for planning sweeps whose data is not on this machine.
spec::DataShape nominal_data_shape(const spec::Spec& spec) {
  spec::DataShape shape{60000, 10000};
  if (spec.dataset == "cifar10" || spec.dataset == "cifar100") shape = {50000, 10000};
  if (spec.dataset == "ptb") shape = {929589, 82430};
  if (spec.dataset == "image-folder") shape = {1281167, 50000};  // ILSVRC2012 train / val
  if (spec.train_examples > 0) shape.train_examples = std::min(shape.train_examples, spec.train_examples);
  if (spec.test_examples > 0) shape.test_examples = std::min(shape.test_examples, spec.test_examples);
  return shape;
}

CostModel calibrate_on(const CostModel& model, const std::string& path) {
  const store::SweepContents sweep = store::read_sweep(path);
  const spec::Spec spec = spec::parse_spec(sweep.spec_toml, path);
  const spec::DataShape shape{sweep.train_examples, sweep.test_examples};
  const std::int64_t parameters = spec::parameter_count(spec, 0);
  std::vector<std::pair<double, double>> pairs;
  for (const store::StoredTrial& stored : sweep.trials) {
    if (stored.outcome.status != spec::TrialStatus::finished) continue;
    // A trial of a pack ran for its time in the pack (the file says which pack; -1: before packs).
    const double alone = model.trial_seconds(spec, stored.trial, shape, parameters, std::max(1, stored.team_size));
    pairs.emplace_back(stored.outcome.pack > 1 ? model.packed_seconds(alone, stored.trial, stored.outcome.pack) : alone,
                       stored.outcome.wall_seconds);
  }
  if (pairs.empty()) fail(path, ": no finished trial to calibrate on");
  return calibrated(model, pairs);
}

}  // namespace

int plan_command(const std::string& spec_path, const PlanOptions& options, std::ostream& out) {
  spec::Spec spec = spec::load_spec(spec_path);
  spec::apply_overrides(spec, options.device, options.pack);
  spec::DataShape shape = nominal_data_shape(spec);
  std::int64_t classes_or_vocabulary = 0;
  std::string data_note;
  try {
    const auto backend = ops::make_backend("host");
    const auto data = train::load_task_data(spec, *backend);
    shape = data->shape();
    classes_or_vocabulary = spec.model == spec::ModelKind::lstm ? data->vocabulary() : data->classes();
  } catch (const Error& error) {
    data_note = concat("note: the data is not readable here (", error.what(),
                       "); planned with the full dataset's sizes\n");
  }
  const std::vector<spec::Trial> trials = spec::expand_grid(spec, shape);
  std::vector<std::int64_t> all(trials.size());
  for (std::size_t i = 0; i < trials.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  CostModel cost = cost_model_for(spec);
  if (!options.calibration_file.empty()) cost = calibrate_on(cost, options.calibration_file);
  const Plan plan = make_plan(spec, trials, all, options.ranks, shape,
                              spec::parameter_count(spec, classes_or_vocabulary), cost);
  out << data_note << plan_report(plan, spec, trials);
  return 0;
}

}  // namespace sgdsweep::sweep
