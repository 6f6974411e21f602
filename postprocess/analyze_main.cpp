// `sgdsweep-analyze`: reads a sweep file and prints the paper's protocol (SPEC §4) as a Markdown
// table shaped like Table 1, and writes the same table as CSV.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "protocol.hpp"
#include "store/sweep_file.hpp"
#include "util/error.hpp"

namespace {

using namespace sgdsweep;

std::string budget_label(const spec::Trial& trial) {
  char text[64];
  if (trial.budget_kind == spec::BudgetKind::epochs) {
    std::snprintf(text, sizeof text, "%g epochs", trial.epochs);
  } else {
    std::snprintf(text, sizeof text, "%lld steps", static_cast<long long>(trial.steps));
  }
  return text;
}

int analyze_file(const std::string& path, const std::string& csv_path, int best_k_override) {
  const store::SweepContents sweep = store::read_sweep(path);
  std::vector<analysis::Observation> observations;
  std::map<spec::TrialStatus, int> counts;
  for (const store::StoredTrial& stored : sweep.trials) {
    const spec::Trial& trial = stored.trial;
    analysis::Observation observation;
    observation.config = {spec::name(trial.model), spec::name(trial.optimizer),
                          budget_label(trial), trial.batch_size};
    observation.log2_effective_learning_rate = trial.log2_effective_learning_rate;
    observation.effective_learning_rate = trial.effective_learning_rate;
    observation.seed_index = trial.seed_index;
    observation.status = stored.outcome.status;
    observation.test_metric = stored.final_test_metric;
    observation.train_loss = stored.final_train_loss;
    observations.push_back(observation);
    ++counts[stored.outcome.status];
  }
  const int best_k = best_k_override > 0 ? best_k_override : sweep.best_k;
  if (best_k > sweep.seeds) fail("--best-k ", best_k, " exceeds the sweep's ", sweep.seeds, " seeds");
  const auto direction = sweep.metric_higher_is_better ? analysis::Direction::higher_is_better
                                                       : analysis::Direction::lower_is_better;
  const std::vector<analysis::ConfigResult> results =
      analysis::analyze(observations, best_k, direction);
  const analysis::TableLabels labels{sweep.metric_name, "final " + sweep.loss_name};

  std::cout << "Sweep '" << sweep.sweep_name << "' (" << path << ", sgdsweep "
            << sweep.engine_version << "): " << sweep.trials.size() << " trials — "
            << counts[spec::TrialStatus::finished] << " finished, "
            << counts[spec::TrialStatus::diverged] << " diverged, "
            << counts[spec::TrialStatus::pending] << " pending, "
            << counts[spec::TrialStatus::failed] << " failed.\n"
            << "Protocol: mean ± std of the best " << best_k << " of " << sweep.seeds
            << " seeds per learning rate; the optimal effective learning rate and its 1-sigma "
               "error bar ("
            << (sweep.metric_higher_is_better ? "higher" : "lower") << " "
            << sweep.metric_name << " is better).\n\n"
            << analysis::markdown_table(results, labels) << "\n";

  std::ofstream csv(csv_path);
  if (!csv) fail(csv_path, ": cannot open for writing");
  csv << analysis::csv_table(results, labels);
  if (!csv.flush()) fail(csv_path, ": write failed");
  std::cout << "CSV: " << csv_path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sgdsweep-analyze — the paper's protocol on a sweep file: for every configuration (model, "
      "optimizer, budget, batch size) and learning rate, the mean and standard deviation of the "
      "best k of n seeds; the optimal effective learning rate with its one-sigma error bar; "
      "grid-edge flags; the mean final training loss at the optimum. Prints a Markdown table "
      "shaped like the paper's Table 1 and writes it as CSV.",
      "sgdsweep-analyze"};
  std::string path;
  std::string csv_path;
  int best_k = 0;
  app.add_option("file", path, "sweep file written by `sgdsweep run`")->required()->check(CLI::ExistingFile);
  app.add_option("--csv", csv_path, "CSV output (default: FILE with the extension .csv)");
  app.add_option("--best-k", best_k, "override the spec's [analysis].best_k")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (csv_path.empty()) csv_path = std::filesystem::path(path).replace_extension(".csv").string();
  try {
    return analyze_file(path, csv_path, best_k);
  } catch (const std::exception& e) {
    std::cerr << "sgdsweep-analyze: " << e.what() << "\n";
    return 1;
  }
}
