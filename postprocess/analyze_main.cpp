// `sgdsweep-analyze`: reads a sweep file and applies the paper's protocol (SPEC §4): tables shaped
// like the paper's (Markdown on stdout, CSV, LaTeX), the regime summary, the analysis written back
// into the file under /analysis, and optionally a refinement spec for `sgdsweep run --append`.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "analysis_file.hpp"
#include "protocol.hpp"
#include "refine.hpp"
#include "report.hpp"
#include "spec/spec.hpp"
#include "store/sweep_file.hpp"
#include "tables.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace {

using namespace sgdsweep;

struct Options {
  std::string path;
  std::string csv_path, latex_path, markdown_path, refine_path;
  std::string sections;  // empty: the default
  bool sections_given = false;
  int best_k = 0;        // 0: the spec's
  int refine_rates = 2;
  bool write = true;
};

// The spec's budget of a trial: its steps, or the epoch budget b with round(b · steps per epoch) =
// steps (the realised epochs differ from b by rounding, and every B of one budget must group).
double nominal_budget(const spec::Trial& trial, const spec::Spec& spec) {
  if (trial.budget_kind == spec::BudgetKind::steps) return static_cast<double>(trial.steps);
  for (double epochs : spec.budgets) {
    if (std::llround(epochs * static_cast<double>(trial.steps_per_epoch)) == trial.steps) return epochs;
  }
  return trial.epochs;
}

analysis::Observation observe(const store::StoredTrial& stored, const spec::Spec& spec) {
  const spec::Trial& trial = stored.trial;
  analysis::Observation o;
  const double budget = nominal_budget(trial, spec);
  char label[64];
  std::snprintf(label, sizeof label, trial.budget_kind == spec::BudgetKind::epochs ? "%g epochs" : "%.0f steps",
                budget);
  o.config = {spec.model_name, spec::name(trial.optimizer), label, trial.batch_size,
              static_cast<int>(trial.budget_kind), budget};
  o.log2_effective_learning_rate = trial.log2_effective_learning_rate;
  o.effective_learning_rate = trial.effective_learning_rate;
  if (!spec.log2_final_effective_learning_rates.empty()) {  // the decoupled schedule: pairs
    // ε_eff·γ^−10 with γ = (ε0/εf)^(1/10) comes back as εf up to rounding: snap its exponent, so that
    // trials of one pair group together.
    o.log2_final_effective_learning_rate = std::round(std::log2(trial.final_effective_learning_rate) * 1e6) / 1e6;
    o.final_effective_learning_rate = std::exp2(o.log2_final_effective_learning_rate);
  }
  o.seed_index = trial.seed_index;
  o.status = stored.outcome.status;
  o.test_metric = stored.final_test_metric;
  o.train_loss = stored.final_train_loss;
  return o;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out) fail(path, ": cannot open for writing");
  out << text;
  if (!out.flush()) fail(path, ": write failed");
}

int analyze_file(const Options& options) {
  const store::SweepContents sweep = store::read_sweep(options.path);
  const spec::Spec spec = spec::parse_spec(sweep.spec_toml, options.path + " (attribute spec_toml)");
  std::vector<analysis::Observation> observations;
  std::map<spec::TrialStatus, int> counts;
  for (const store::StoredTrial& stored : sweep.trials) {
    observations.push_back(observe(stored, spec));
    ++counts[stored.outcome.status];
  }
  const int best_k = options.best_k > 0 ? options.best_k : sweep.best_k;
  if (best_k > sweep.seeds) {
    fail("--best-k ", best_k, " exceeds the sweep's ", sweep.seeds, " seeds (k of n needs k <= n)");
  }
  const bool higher = sweep.metric_higher_is_better;
  const std::vector<analysis::ConfigResult> results = analysis::analyze(
      observations, best_k, higher ? analysis::Direction::higher_is_better : analysis::Direction::lower_is_better);
  const std::vector<analysis::Series> series = analysis::fit_series(results);
  const std::string regimes = analysis::regime_summary(results, series, higher);
  const analysis::TableLabels labels{sweep.metric_name, "final " + sweep.loss_name, best_k, sweep.seeds};
  const std::vector<analysis::Field> sections =
      options.sections_given ? analysis::parse_fields(options.sections) : analysis::default_sections(results);
  const std::string markdown = analysis::markdown_tables(results, labels, sections);

  std::cout << "Sweep '" << sweep.sweep_name << "' (" << options.path << ", sgdsweep " << sweep.engine_version
            << "): " << sweep.trials.size() << " trials — " << counts[spec::TrialStatus::finished] << " finished, "
            << counts[spec::TrialStatus::diverged] << " diverged, " << counts[spec::TrialStatus::pending]
            << " pending, " << counts[spec::TrialStatus::failed] << " failed.\n"
            << "Protocol: per learning rate the mean ± std of the best " << best_k << " of " << sweep.seeds
            << " seeds; the optimal effective learning rate and its one-sigma error bar, for the test metric ("
            << (higher ? "higher" : "lower") << " is better) and for the final training loss.\n\n"
            << markdown << "\n" << regimes;

  write_text(options.csv_path, analysis::csv_table(results));
  std::cout << "\nCSV: " << options.csv_path << "\n";
  if (!options.markdown_path.empty()) {
    write_text(options.markdown_path, markdown + "\n" + regimes);
    std::cout << "Markdown: " << options.markdown_path << "\n";
  }
  if (!options.latex_path.empty()) {
    write_text(options.latex_path, analysis::latex_tables(results, labels, sections));
    std::cout << "LaTeX: " << options.latex_path << "\n";
  }
  if (options.write) {
    const long long committed = static_cast<long long>(sweep.trials.size()) - counts[spec::TrialStatus::pending];
    analysis::write_analysis(options.path, static_cast<signed char>(spec.model), results, series,
                             {best_k, sweep.seeds, higher, committed, regimes});
    std::cout << "Analysis written to " << options.path << ":/analysis\n";
  }
  if (!options.refine_path.empty()) {
    const std::vector<analysis::Extension> extensions = analysis::refine(results, options.refine_rates);
    if (extensions.empty()) {
      std::cout << "Refinement: no optimum or error bar touches the edge of its grid; " << options.refine_path
                << " not written.\n";
      return 0;
    }
    write_text(options.refine_path,
               sweep.spec_toml + concat("\n# Added by sgdsweep-analyze --refine on ", log::utc_now(), " from ",
                                        options.path, ": ", extensions.size(),
                                        " configuration(s) whose optimum or error bar touches the grid edge.\n") +
                   analysis::extension_toml(extensions, spec.budgets.size() > 1));
    std::cout << "Refinement: " << extensions.size() << " configuration(s) extended, spec in "
              << options.refine_path << "; add the trials to this file with\n  mpirun -np P sgdsweep run "
              << options.refine_path << " --out " << options.path << " --append\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sgdsweep-analyze — the paper's protocol (SPEC §4, 004 §4 and §7) on a sweep file. For every "
      "configuration (model, optimizer, budget, batch size) and learning rate: the mean and standard "
      "deviation of the best k of n seeds, for the test metric and for the final training loss. For each "
      "objective: the optimal effective learning rate, its one-sigma error bar (every rate whose mean is "
      "within one std of the optimum's), grid-edge flags, and the other quantity at the optimum. Then the "
      "regime of each batch size from the optimal rate against B (slope and critical batch size), and SGD "
      "against Momentum. Prints Markdown tables shaped like the paper's, writes CSV (and LaTeX, Markdown on "
      "request), and stores everything in the file under /analysis (docs/hdf5-schema.md) for "
      "postprocess/plots.py. Only committed trials count; run it again after a --resume or --append.",
      "sgdsweep-analyze"};
  Options options;
  app.add_option("file", options.path, "sweep file written by `sgdsweep run`")->required()->check(CLI::ExistingFile);
  app.add_option("--csv", options.csv_path, "CSV output, one row per configuration (default: FILE with .csv)");
  app.add_option("--latex", options.latex_path, "also write the tables as LaTeX (booktabs) to this file");
  app.add_option("--markdown", options.markdown_path, "also write the Markdown tables and regime summary here");
  app.add_option("--sections", options.sections,
                 "configuration fields that split the results into separate tables, comma-separated from "
                 "model, optimizer, budget, batch_size (the other fields label the rows; \"\" for one table). "
                 "Default: model,optimizer,budget — or model,optimizer,batch_size for a sweep over budgets at "
                 "one batch size");
  app.add_option("--best-k", options.best_k, "override the spec's [analysis].best_k (at most the seeds)")
      ->check(CLI::PositiveNumber);
  app.add_flag("!--no-write", options.write, "do not write the /analysis group into the file (read-only)");
  app.add_option("--refine", options.refine_path,
                 "write a follow-up spec: the sweep's spec plus [[grid.extend]] tables with the rates beyond "
                 "every optimum or error bar at the edge of its grid (append them with sgdsweep run --append)");
  app.add_option("--refine-rates", options.refine_rates, "rates to add beyond each edge (default 2)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  options.sections_given = app.count("--sections") > 0;
  if (options.csv_path.empty()) options.csv_path = std::filesystem::path(options.path).replace_extension(".csv").string();
  try {
    return analyze_file(options);
  } catch (const std::exception& e) {
    std::cerr << "sgdsweep-analyze: " << e.what() << "\n";
    return 1;
  }
}
