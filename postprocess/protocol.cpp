// The paper's analysis protocol: per-rate best-k statistics, optimum, error bar, edge flags, tables.
#include "protocol.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "util/error.hpp"

namespace sgdsweep::analysis {

bool operator<(const ConfigKey& a, const ConfigKey& b) {
  return std::tie(a.model, a.optimizer, a.budget, a.batch_size) <
         std::tie(b.model, b.optimizer, b.budget, b.batch_size);
}
bool operator==(const ConfigKey& a, const ConfigKey& b) {
  return std::tie(a.model, a.optimizer, a.budget, a.batch_size) ==
         std::tie(b.model, b.optimizer, b.budget, b.batch_size);
}
bool operator!=(const ConfigKey& a, const ConfigKey& b) { return !(a == b); }

namespace {

std::string describe(const ConfigKey& config) {
  return concat("(model ", config.model, ", optimizer ", config.optimizer, ", budget ",
                config.budget, ", batch size ", config.batch_size, ")");
}

// A run that produced a number to rank: finished or diverged.
struct Run {
  double test_metric;
  double train_loss;
  std::int32_t seed_index;
  bool diverged;  // diverged status, or finished with a non-finite metric
};

// True when `a` ranks before `b`: finished before diverged, then better metric, then lower seed
// (so that ties pick the same runs, and the same train_loss_mean, on every reading).
bool ranks_before(const Run& a, const Run& b, Direction direction) {
  if (a.diverged != b.diverged) return !a.diverged;
  if (!a.diverged && a.test_metric != b.test_metric) {
    return direction == Direction::lower_is_better ? a.test_metric < b.test_metric
                                                   : a.test_metric > b.test_metric;
  }
  return a.seed_index < b.seed_index;
}

// The worst possible mean: what a rate with a diverged run among its best k scores.
double worst_value(Direction direction) {
  const double inf = std::numeric_limits<double>::infinity();
  return direction == Direction::lower_is_better ? inf : -inf;
}

bool better(double a, double b, Direction direction) {
  return direction == Direction::lower_is_better ? a < b : a > b;
}

// Fills used, mean, std, train_loss_mean and usable of `summary` from the rate's runs.
void summarize_rate(std::vector<Run> runs, int best_k, Direction direction, RateSummary& summary) {
  std::sort(runs.begin(), runs.end(),
            [direction](const Run& a, const Run& b) { return ranks_before(a, b, direction); });
  const int used = std::min<int>(best_k, static_cast<int>(runs.size()));
  summary.used = used;
  if (used == 0) return;
  bool any_diverged = false;
  double metric_sum = 0, loss_sum = 0;
  for (int i = 0; i < used; ++i) {
    any_diverged = any_diverged || runs[i].diverged;
    metric_sum += runs[i].test_metric;
    loss_sum += runs[i].train_loss;
  }
  summary.train_loss_mean = loss_sum / used;
  if (any_diverged) {
    summary.mean = worst_value(direction);
    summary.std = NAN;
    summary.usable = false;
    return;
  }
  summary.mean = metric_sum / used;
  double squared_deviation_sum = 0;  // two passes: numpy.std(ddof=0)
  for (int i = 0; i < used; ++i) {
    const double deviation = runs[i].test_metric - summary.mean;
    squared_deviation_sum += deviation * deviation;
  }
  summary.std = std::sqrt(squared_deviation_sum / used);
  summary.usable = used == best_k;
}

// Optimum, error bar and edge flags of one configuration whose rates are summarized.
void locate_optimum(ConfigResult& result, Direction direction) {
  const int count = static_cast<int>(result.rates.size());
  for (int i = 0; i < count; ++i) {  // ascending rates and a strict comparison: ties keep the smaller
    const RateSummary& rate = result.rates[i];
    if (!rate.usable) continue;
    if (result.optimum < 0 || better(rate.mean, result.rates[result.optimum].mean, direction)) {
      result.optimum = i;
    }
  }
  if (result.optimum < 0) return;
  const RateSummary& optimal = result.rates[result.optimum];
  result.bar_low = result.bar_high = result.optimum;
  for (int i = 0; i < count; ++i) {
    const RateSummary& rate = result.rates[i];
    if (!rate.usable || std::fabs(rate.mean - optimal.mean) > optimal.std) continue;
    result.bar_low = std::min(result.bar_low, i);
    result.bar_high = std::max(result.bar_high, i);
  }
  result.optimum_at_edge = result.optimum == 0 || result.optimum == count - 1;
  result.bar_at_edge = result.bar_low == 0 || result.bar_high == count - 1;
}

}  // namespace

std::vector<ConfigResult> analyze(const std::vector<Observation>& observations, int best_k,
                                  Direction direction) {
  if (best_k < 1) fail("analysis: best_k must be at least 1 (got ", best_k, ")");

  // Per configuration, per log2 rate (ascending): the rate's counts and its rankable runs.
  struct RateGroup {
    RateSummary summary;
    std::vector<Run> runs;
    std::set<std::int32_t> seeds;
  };
  std::map<ConfigKey, std::map<double, RateGroup>> groups;

  for (const Observation& observation : observations) {
    const double log2_rate = observation.log2_effective_learning_rate;
    if (!std::isfinite(log2_rate)) {
      fail("analysis: trial ", describe(observation.config), " seed ", observation.seed_index,
           " has a non-finite log2 effective learning rate");
    }
    RateGroup& group = groups[observation.config][log2_rate];
    RateSummary& summary = group.summary;
    if (group.seeds.empty()) {
      summary.log2_effective_learning_rate = log2_rate;
      summary.effective_learning_rate = observation.effective_learning_rate;
    }
    if (!group.seeds.insert(observation.seed_index).second) {
      fail("analysis: two trials of ", describe(observation.config), " at log2 rate ", log2_rate,
           " share seed_index ", observation.seed_index,
           "; the sweep file has duplicate trials — check how it was merged");
    }
    switch (observation.status) {
      case spec::TrialStatus::finished:
        ++summary.finished;
        group.runs.push_back({observation.test_metric, observation.train_loss,
                              observation.seed_index, !std::isfinite(observation.test_metric)});
        break;
      case spec::TrialStatus::diverged:
        ++summary.diverged;
        group.runs.push_back(
            {observation.test_metric, observation.train_loss, observation.seed_index, true});
        break;
      case spec::TrialStatus::pending:
      case spec::TrialStatus::failed:
        ++summary.missing;
        break;
      default:
        fail("analysis: trial ", describe(observation.config), " seed ", observation.seed_index,
             " has unknown status code ", static_cast<int>(observation.status),
             " (expected 0 pending, 1 finished, 2 diverged, 3 failed)");
    }
  }

  std::vector<ConfigResult> results;
  results.reserve(groups.size());
  for (auto& [config, rates] : groups) {
    ConfigResult result;
    result.config = config;
    for (auto& [log2_rate, group] : rates) {
      summarize_rate(std::move(group.runs), best_k, direction, group.summary);
      if (group.summary.missing > 0) result.complete = false;
      result.rates.push_back(group.summary);
    }
    locate_optimum(result, direction);
    results.push_back(std::move(result));
  }
  return results;
}

// ---- Formatting -------------------------------------------------------------------------------

std::string format_significant(double value, int digits) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

std::string format_learning_rate(double effective_learning_rate,
                                 double log2_effective_learning_rate) {
  const double rounded = std::round(log2_effective_learning_rate);
  const std::string exponent =
      rounded == log2_effective_learning_rate
          ? concat(static_cast<long long>(rounded))
          : format_significant(log2_effective_learning_rate);
  return concat(format_significant(effective_learning_rate), " (2^", exponent, ")");
}

namespace {

// A Markdown cell: pipes would end the cell, newlines the row.
std::string markdown_cell(const std::string& text) {
  std::string cell;
  for (char c : text) {
    if (c == '|') cell += "\\|";
    else if (c == '\n' || c == '\r') cell += ' ';
    else cell += c;
  }
  return cell;
}

// A CSV field (RFC 4180): quoted only when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string field = "\"";
  for (char c : text) {
    if (c == '"') field += '"';
    field += c;
  }
  return field + '"';
}

std::string csv_number(double value) {
  if (std::isnan(value)) return "nan";
  return format_significant(value, 17);
}

std::string flags_text(const ConfigResult& result) {
  std::vector<std::string> flags;
  if (!result.has_optimum()) flags.push_back("no usable rate");
  if (result.optimum_at_edge) flags.push_back("optimum at grid edge");
  if (result.bar_at_edge) flags.push_back("error bar at grid edge");
  if (!result.complete) flags.push_back("incomplete");
  std::string text;
  for (const std::string& flag : flags) text += (text.empty() ? "" : ", ") + flag;
  return text;
}

}  // namespace

std::string markdown_table(const std::vector<ConfigResult>& results, const TableLabels& labels) {
  std::string table = concat("| Model | Optimizer | Budget | Batch size | ",
                             markdown_cell(labels.metric_name), " (mean ± std, best k of n) | ",
                             "Optimal ε_eff [error bar] | ", markdown_cell(labels.loss_name),
                             " at optimum | Flags |\n");
  table += "|---|---|---|---:|---:|---:|---:|---|\n";
  for (const ConfigResult& result : results) {
    std::string metric = "—", optimal_rate = "—", loss = "—";
    if (result.has_optimum()) {
      const RateSummary& optimal = result.rates[result.optimum];
      const RateSummary& low = result.rates[result.bar_low];
      const RateSummary& high = result.rates[result.bar_high];
      metric = concat(format_significant(optimal.mean), " ± ", format_significant(optimal.std),
                      " (best ", optimal.used, " of ", optimal.available(), ")");
      optimal_rate = concat(
          format_learning_rate(optimal.effective_learning_rate, optimal.log2_effective_learning_rate),
          " [", format_learning_rate(low.effective_learning_rate, low.log2_effective_learning_rate),
          ", ", format_learning_rate(high.effective_learning_rate, high.log2_effective_learning_rate),
          "]");
      loss = format_significant(optimal.train_loss_mean);
    }
    table += concat("| ", markdown_cell(result.config.model), " | ",
                    markdown_cell(result.config.optimizer), " | ",
                    markdown_cell(result.config.budget), " | ", result.config.batch_size, " | ",
                    metric, " | ", optimal_rate, " | ", loss, " | ", flags_text(result), " |\n");
  }
  return table;
}

std::string csv_table(const std::vector<ConfigResult>& results, const TableLabels& /*labels*/) {
  std::string table =
      "model,optimizer,budget,batch_size,metric_mean,metric_std,k,n,optimal_effective_lr,"
      "optimal_log2_effective_lr,bar_low_effective_lr,bar_high_effective_lr,"
      "train_loss_at_optimum,optimum_at_edge,bar_at_edge,complete\n";
  const auto boolean = [](bool value) { return value ? "true" : "false"; };
  for (const ConfigResult& result : results) {
    RateSummary none;  // every statistic NaN, counts 0
    none.log2_effective_learning_rate = none.effective_learning_rate = NAN;
    const bool has = result.has_optimum();
    const RateSummary& optimal = has ? result.rates[result.optimum] : none;
    const RateSummary& low = has ? result.rates[result.bar_low] : none;
    const RateSummary& high = has ? result.rates[result.bar_high] : none;
    table += concat(csv_field(result.config.model), ",", csv_field(result.config.optimizer), ",",
                    csv_field(result.config.budget), ",", result.config.batch_size, ",",
                    csv_number(optimal.mean), ",", csv_number(optimal.std), ",", optimal.used, ",",
                    optimal.available(), ",", csv_number(optimal.effective_learning_rate), ",",
                    csv_number(optimal.log2_effective_learning_rate), ",",
                    csv_number(low.effective_learning_rate), ",",
                    csv_number(high.effective_learning_rate), ",",
                    csv_number(optimal.train_loss_mean), ",", boolean(result.optimum_at_edge), ",",
                    boolean(result.bar_at_edge), ",", boolean(result.complete), "\n");
  }
  return table;
}

}  // namespace sgdsweep::analysis
