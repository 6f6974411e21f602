// The /analysis group: built under a temporary name, then renamed into place.
#include "analysis_file.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>

#include "store/h5.hpp"
#include "util/error.hpp"
#include "util/file_lock.hpp"
#include "util/log.hpp"
#include "util/version.hpp"

namespace sgdsweep::analysis {

namespace h5 = store::h5;

namespace {

using Group = h5::Id<H5Gclose>;

constexpr const char* group_name = "analysis";
constexpr const char* partial_name = "analysis.partial";

template <class T>
hid_t write_column(hid_t group, const std::string& name, const std::vector<T>& values,
                   const std::string& description) {
  const hsize_t size = values.size();
  h5::Dataspace space(h5::check(H5Screate_simple(1, &size, nullptr), "H5Screate_simple"));
  const std::string path = concat("/", partial_name, "/", name);
  h5::Dataset dataset(h5::check(H5Dcreate2(group, name.c_str(), h5::native_type<T>(), space.get(), H5P_DEFAULT,
                                           H5P_DEFAULT, H5P_DEFAULT),
                                "creating " + path));
  if (size > 0) {
    h5::check_status(H5Dwrite(dataset.get(), h5::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                     "writing " + path);
  }
  h5::write_attribute(dataset.get(), "long_name", description);
  return group;
}

void write_flags(hid_t group, const std::string& name, std::vector<std::int8_t> codes, const std::string& meanings) {
  h5::Dataset dataset = h5::open_dataset(group, name);
  h5::write_attribute(dataset.get(), "flag_values", codes);
  h5::write_attribute(dataset.get(), "flag_meanings", meanings);
}

std::int8_t optimizer_code(const std::string& name) {
  if (name == "sgd") return 0;
  if (name == "momentum") return 1;
  fail("analysis: unknown optimizer '", name, "'");
}

// The root's category codes on a table's model / optimizer / budget_kind columns.
void write_key_columns(hid_t group, signed char model_code, const std::vector<ConfigKey>& keys) {
  std::vector<std::int8_t> model, optimizer, budget_kind;
  std::vector<double> budget;
  for (const ConfigKey& key : keys) {
    model.push_back(model_code);
    optimizer.push_back(optimizer_code(key.optimizer));
    budget_kind.push_back(static_cast<std::int8_t>(key.budget_kind));
    budget.push_back(key.budget_value);
  }
  write_column(group, "model", model, "model (flag_values / flag_meanings)");
  write_column(group, "optimizer", optimizer, "optimizer (flag_values / flag_meanings)");
  write_column(group, "budget_kind", budget_kind, "epochs or steps (flag_values / flag_meanings)");
  write_column(group, "budget", budget, "the budget in epochs or steps (budget_kind)");
  write_flags(group, "model", {0, 1, 2, 3}, "autoencoder wrn lstm resnet");
  write_flags(group, "optimizer", {0, 1}, "sgd momentum");
  write_flags(group, "budget_kind", {0, 1}, "epochs steps");
}

struct Objective {
  const char* prefix;
  const Optimum ConfigResult::*optimum;
  const Summary RateSummary::*summary;
};
constexpr Objective objectives[] = {{"test", &ConfigResult::test, &RateSummary::test},
                                    {"train", &ConfigResult::train, &RateSummary::train}};

void write_config_table(hid_t group, signed char model_code, const std::vector<ConfigResult>& results,
                        const std::vector<Regime>& regimes) {
  std::vector<ConfigKey> keys;
  std::vector<std::int64_t> batch_size, rate_start, rate_count;
  std::vector<std::int8_t> complete, decoupled, regime;
  std::int64_t rows = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const ConfigResult& result = results[i];
    keys.push_back(result.config);
    batch_size.push_back(result.config.batch_size);
    complete.push_back(result.complete);
    decoupled.push_back(result.decoupled);
    rate_start.push_back(rows);
    rate_count.push_back(static_cast<std::int64_t>(result.rates.size()));
    regime.push_back(static_cast<std::int8_t>(regimes[i]));
    rows += static_cast<std::int64_t>(result.rates.size());
  }
  write_key_columns(group, model_code, keys);
  write_column(group, "batch_size", batch_size, "batch size B");
  write_column(group, "complete", complete, "1: no trial of the configuration is pending or failed");
  write_column(group, "decoupled", decoupled, "1: the rates are (initial, final) pairs");
  write_column(group, "rate_start", rate_start, "first row of the configuration in /analysis/rate");
  write_column(group, "rate_count", rate_count, "rows of the configuration in /analysis/rate");
  write_column(group, "regime", regime, "regime of the batch size, from the test-optimal rates");
  write_flags(group, "regime", {0, 1, 2, 3}, "unknown noise_dominated curvature_dominated transition");

  for (const Objective& objective : objectives) {
    std::vector<std::int64_t> optimum;
    std::vector<double> mean, std, other, rate, final_rate, low, high, final_low, final_high;
    std::vector<std::int8_t> at_edge, bar_at_edge;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const ConfigResult& result = results[i];
      const Optimum& o = result.*objective.optimum;
      optimum.push_back(o.found() ? rate_start[i] + o.index : -1);
      const RateSummary* r = o.found() ? &result.rates[o.index] : nullptr;
      const Summary* s = r ? &(r->*objective.summary) : nullptr;
      mean.push_back(s ? s->mean : NAN);
      std.push_back(s ? s->std : NAN);
      other.push_back(s ? s->other : NAN);
      rate.push_back(r ? r->log2_effective_learning_rate : NAN);
      final_rate.push_back(r ? r->log2_final_effective_learning_rate : NAN);
      low.push_back(o.bar_log2_low);
      high.push_back(o.bar_log2_high);
      final_low.push_back(o.bar_log2_final_low);
      final_high.push_back(o.bar_log2_final_high);
      at_edge.push_back(o.at_edge);
      bar_at_edge.push_back(o.bar_at_edge);
    }
    const std::string p = objective.prefix;
    write_column(group, p + "_optimum", optimum, "row in /analysis/rate of the optimal rate (-1: none)");
    write_column(group, p + "_mean", mean, "mean of the best k at the optimum");
    write_column(group, p + "_std", std, "standard deviation (ddof 0) of the best k at the optimum");
    write_column(group, p + "_other", other, "the other quantity over the same runs");
    write_column(group, p + "_log2_effective_lr", rate, "log2 of the optimal (initial) effective rate");
    write_column(group, p + "_log2_final_effective_lr", final_rate, "log2 of the optimal final rate (decoupled)");
    write_column(group, p + "_bar_log2_low", low, "error bar: lowest log2 initial rate within one std");
    write_column(group, p + "_bar_log2_high", high, "error bar: highest log2 initial rate within one std");
    write_column(group, p + "_bar_log2_final_low", final_low, "error bar: lowest log2 final rate (decoupled)");
    write_column(group, p + "_bar_log2_final_high", final_high, "error bar: highest log2 final rate (decoupled)");
    write_column(group, p + "_at_edge", at_edge, "1: the optimum is on the edge of the grid");
    write_column(group, p + "_bar_at_edge", bar_at_edge, "1: the error bar reaches the edge of the grid");
  }
}

void write_rate_table(hid_t group, const std::vector<ConfigResult>& results) {
  std::vector<std::int64_t> config;
  std::vector<double> log2_rate, rate, log2_final, final_rate;
  std::vector<std::int32_t> finished, diverged, missing;
  for (std::size_t i = 0; i < results.size(); ++i) {
    for (const RateSummary& r : results[i].rates) {
      config.push_back(static_cast<std::int64_t>(i));
      log2_rate.push_back(r.log2_effective_learning_rate);
      rate.push_back(r.effective_learning_rate);
      log2_final.push_back(r.log2_final_effective_learning_rate);
      final_rate.push_back(r.final_effective_learning_rate);
      finished.push_back(r.finished);
      diverged.push_back(r.diverged);
      missing.push_back(r.missing);
    }
  }
  write_column(group, "config", config, "row in /analysis/config");
  write_column(group, "log2_effective_lr", log2_rate, "log2 of the (initial) effective learning rate");
  write_column(group, "effective_lr", rate, "the (initial) effective learning rate");
  write_column(group, "log2_final_effective_lr", log2_final, "log2 of the final rate (decoupled; NaN otherwise)");
  write_column(group, "final_effective_lr", final_rate, "the final rate (decoupled; NaN otherwise)");
  write_column(group, "finished", finished, "finished trials at this rate");
  write_column(group, "diverged", diverged, "diverged trials at this rate");
  write_column(group, "missing", missing, "pending or failed trials at this rate");
  for (const Objective& objective : objectives) {
    std::vector<std::int32_t> used;
    std::vector<double> mean, std, other;
    std::vector<std::int8_t> usable;
    for (const ConfigResult& result : results) {
      for (const RateSummary& r : result.rates) {
        const Summary& s = r.*objective.summary;
        used.push_back(s.used);
        mean.push_back(s.mean);
        std.push_back(s.std);
        other.push_back(s.other);
        usable.push_back(s.usable);
      }
    }
    const std::string p = objective.prefix;
    write_column(group, p + "_used", used, "runs averaged: min(best_k, finished + diverged)");
    write_column(group, p + "_mean", mean, "mean of the best k runs (+-inf: a diverged run among them)");
    write_column(group, p + "_std", std, "standard deviation (ddof 0) of the best k runs");
    write_column(group, p + "_other", other, "the other quantity over the same runs");
    write_column(group, p + "_usable", usable, "1: best_k runs available, none diverged");
  }
}

void write_regime_table(hid_t group, signed char model_code, const std::vector<Series>& series) {
  std::vector<ConfigKey> keys;
  std::vector<std::int32_t> points, dof;
  std::vector<double> slope, slope_std, critical, critical_low, critical_high, plateau, intercept, chi2;
  for (const Series& s : series) {
    keys.push_back(s.key);
    points.push_back(s.fit.points);
    dof.push_back(s.fit.dof);
    slope.push_back(s.fit.slope);
    slope_std.push_back(s.fit.slope_std);
    critical.push_back(s.fit.log2_critical);
    critical_low.push_back(s.fit.log2_critical_low);
    critical_high.push_back(s.fit.log2_critical_high);
    plateau.push_back(s.fit.log2_plateau);
    intercept.push_back(s.fit.intercept);
    chi2.push_back(s.fit.chi2);
  }
  write_key_columns(group, model_code, keys);
  write_column(group, "points", points, "batch sizes in the fit");
  write_column(group, "slope", slope, "d log2 eps_opt / d log2 B below the critical batch size");
  write_column(group, "slope_std", slope_std, "one-sigma uncertainty of the slope");
  write_column(group, "log2_critical_batch_size", critical, "log2 of the critical batch size B* (NaN: no break)");
  write_column(group, "log2_critical_batch_size_low", critical_low, "lower end of its interval (delta chi2 = 1)");
  write_column(group, "log2_critical_batch_size_high", critical_high, "upper end of its interval (delta chi2 = 1)");
  write_column(group, "log2_plateau_effective_lr", plateau, "log2 of the optimal rate above B*");
  write_column(group, "intercept", intercept, "a of log2 eps_opt = a + s min(log2 B, log2 B*)");
  write_column(group, "chi2", chi2, "chi-squared of the fit");
  write_column(group, "dof", dof, "degrees of freedom of the fit");
}

bool link_exists(hid_t file, const char* name) {
  const htri_t exists = H5Lexists(file, name, H5P_DEFAULT);
  h5::check_status(exists < 0 ? -1 : 0, concat("looking for /", name));
  return exists > 0;
}

Group create_group(hid_t parent, const std::string& name) {
  return Group(h5::check(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                         "creating group " + name));
}

}  // namespace

void write_analysis(const std::string& path, signed char model_code, const std::vector<ConfigResult>& results,
                    const std::vector<Series>& series, const AnalysisAttributes& attributes) {
  h5::silence_automatic_error_printing();
  const std::string lock_path = path + ".lock";
  const bool had_lock_file = std::filesystem::exists(lock_path);
  std::optional<FileLock> lock;
  try {
    lock.emplace(lock_path, FileLock::Mode::exclusive);
  } catch (const Error& e) {
    fail(path, ": cannot write /analysis while a sweep is writing the file (", e.what(),
         "); wait for it to end, or pass --no-write");
  }
  {
    h5::File file(h5::check(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "opening " + path + " for writing"));
    if (link_exists(file.get(), partial_name)) {
      h5::check_status(H5Ldelete(file.get(), partial_name, H5P_DEFAULT), "removing a stale /analysis.partial");
    }
    {
      Group group = create_group(file.get(), partial_name);
      h5::write_attribute(group.get(), "analysis_schema_version", std::int32_t{1});
      h5::write_attribute(group.get(), "sgdsweep_version", std::string(kVersion));
      h5::write_attribute(group.get(), "created_utc", log::utc_now());
      h5::write_attribute(group.get(), "best_k", std::int32_t{attributes.best_k});
      h5::write_attribute(group.get(), "seeds", std::int32_t{attributes.seeds});
      h5::write_attribute(group.get(), "metric_higher_is_better", std::int8_t{attributes.metric_higher_is_better});
      h5::write_attribute(group.get(), "trials_committed", std::int64_t{attributes.trials_committed});
      h5::write_attribute(group.get(), "regime_summary", attributes.regime_summary);
      Group config = create_group(group.get(), "config");
      write_config_table(config.get(), model_code, results, config_regimes(results, series));
      Group rate = create_group(group.get(), "rate");
      write_rate_table(rate.get(), results);
      Group regime = create_group(group.get(), "regime");
      write_regime_table(regime.get(), model_code, series);
    }
    if (link_exists(file.get(), group_name)) {
      h5::check_status(H5Ldelete(file.get(), group_name, H5P_DEFAULT), "removing the old /analysis");
    }
    h5::check_status(H5Lmove(file.get(), partial_name, file.get(), group_name, H5P_DEFAULT, H5P_DEFAULT),
                     "renaming /analysis.partial to /analysis");
    file.close("closing " + path);
  }
  lock.reset();
  if (!had_lock_file) std::filesystem::remove(lock_path);
}

}  // namespace sgdsweep::analysis
