// The paper's analysis protocol: per-rate best-k statistics for both objectives, optima, error bars
// and grid-edge flags.
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
  return std::tie(a.model, a.optimizer, a.budget_kind, a.budget_value, a.batch_size, a.budget) <
         std::tie(b.model, b.optimizer, b.budget_kind, b.budget_value, b.batch_size, b.budget);
}
bool operator==(const ConfigKey& a, const ConfigKey& b) {
  return std::tie(a.model, a.optimizer, a.budget_kind, a.budget_value, a.batch_size, a.budget) ==
         std::tie(b.model, b.optimizer, b.budget_kind, b.budget_value, b.batch_size, b.budget);
}
bool operator!=(const ConfigKey& a, const ConfigKey& b) { return !(a == b); }

namespace {

std::string describe(const ConfigKey& config) {
  return concat("(model ", config.model, ", optimizer ", config.optimizer, ", budget ", config.budget,
                ", batch size ", config.batch_size, ")");
}

// A run that produced a number to rank: finished or diverged.
struct Run {
  double test_metric;
  double train_loss;
  std::int32_t seed_index;
  bool diverged;
};

// The summary of one objective: best k runs by `value` (direction), their mean, population std,
// and the mean of `other` over the same runs. Ties go to the lower seed, so the same runs (and the
// same `other` mean) are picked on every reading. A run whose value is not finite, or that
// diverged, ranks last and makes the summary unusable when it is among the best k.
template <class Value, class Other>
Summary summarize(std::vector<Run> runs, int best_k, Direction direction, Value value, Other other) {
  const auto bad = [&](const Run& run) { return run.diverged || !std::isfinite(value(run)); };
  std::sort(runs.begin(), runs.end(), [&](const Run& a, const Run& b) {
    if (bad(a) != bad(b)) return !bad(a);
    if (!bad(a) && value(a) != value(b)) {
      return direction == Direction::lower_is_better ? value(a) < value(b) : value(a) > value(b);
    }
    return a.seed_index < b.seed_index;
  });
  Summary summary;
  summary.used = std::min<int>(best_k, static_cast<int>(runs.size()));
  if (summary.used == 0) return summary;
  bool any_bad = false;
  double sum = 0, other_sum = 0;
  for (int i = 0; i < summary.used; ++i) {
    any_bad = any_bad || bad(runs[i]);
    sum += value(runs[i]);
    other_sum += other(runs[i]);
  }
  summary.other = other_sum / summary.used;
  if (any_bad) {
    const double inf = std::numeric_limits<double>::infinity();
    summary.mean = direction == Direction::lower_is_better ? inf : -inf;
    return summary;
  }
  summary.mean = sum / summary.used;
  double squares = 0;  // two passes: numpy.std(ddof=0)
  for (int i = 0; i < summary.used; ++i) squares += (value(runs[i]) - summary.mean) * (value(runs[i]) - summary.mean);
  summary.std = std::sqrt(squares / summary.used);
  summary.usable = summary.used == best_k;
  return summary;
}

bool better(double a, double b, Direction direction) {
  return direction == Direction::lower_is_better ? a < b : a > b;
}

// The optimum, error bar and edge flags of one objective over a configuration's rates.
Optimum locate(const std::vector<RateSummary>& rates, const Summary RateSummary::*objective, Direction direction) {
  Optimum optimum;
  const int count = static_cast<int>(rates.size());
  for (int i = 0; i < count; ++i) {  // ascending rates and a strict comparison: ties keep the smaller
    const Summary& s = rates[i].*objective;
    if (s.usable && (optimum.index < 0 || better(s.mean, (rates[optimum.index].*objective).mean, direction))) {
      optimum.index = i;
    }
  }
  if (optimum.index < 0) return optimum;
  const Summary& best = rates[optimum.index].*objective;
  double grid_low = INFINITY, grid_high = -INFINITY, final_low = INFINITY, final_high = -INFINITY;
  for (const RateSummary& rate : rates) {
    grid_low = std::min(grid_low, rate.log2_effective_learning_rate);
    grid_high = std::max(grid_high, rate.log2_effective_learning_rate);
    final_low = std::min(final_low, rate.log2_final_effective_learning_rate);
    final_high = std::max(final_high, rate.log2_final_effective_learning_rate);
  }
  optimum.bar_low = optimum.bar_high = optimum.index;
  optimum.bar_log2_low = optimum.bar_log2_high = rates[optimum.index].log2_effective_learning_rate;
  optimum.bar_log2_final_low = optimum.bar_log2_final_high = rates[optimum.index].log2_final_effective_learning_rate;
  for (int i = 0; i < count; ++i) {
    const Summary& s = rates[i].*objective;
    if (!s.usable || std::fabs(s.mean - best.mean) > best.std) continue;
    optimum.bar_low = std::min(optimum.bar_low, i);
    optimum.bar_high = std::max(optimum.bar_high, i);
    optimum.bar_log2_low = std::min(optimum.bar_log2_low, rates[i].log2_effective_learning_rate);
    optimum.bar_log2_high = std::max(optimum.bar_log2_high, rates[i].log2_effective_learning_rate);
    optimum.bar_log2_final_low = std::min(optimum.bar_log2_final_low, rates[i].log2_final_effective_learning_rate);
    optimum.bar_log2_final_high = std::max(optimum.bar_log2_final_high, rates[i].log2_final_effective_learning_rate);
  }
  const RateSummary& at = rates[optimum.index];
  const auto on_edge = [](double value, double low, double high) { return value == low || value == high; };
  optimum.at_edge = on_edge(at.log2_effective_learning_rate, grid_low, grid_high) ||
                    on_edge(at.log2_final_effective_learning_rate, final_low, final_high);
  optimum.bar_at_edge = optimum.bar_log2_low == grid_low || optimum.bar_log2_high == grid_high ||
                        optimum.bar_log2_final_low == final_low || optimum.bar_log2_final_high == final_high;
  return optimum;
}

}  // namespace

std::vector<ConfigResult> analyze(const std::vector<Observation>& observations, int best_k, Direction direction) {
  if (best_k < 1) fail("analysis: best_k must be at least 1 (got ", best_k, ")");

  // Per configuration, per rate (initial, then final; NaN finals sort alike): counts and runs.
  struct RateGroup {
    RateSummary summary;
    std::vector<Run> runs;
    std::set<std::int32_t> seeds;
  };
  struct RateOrder {
    bool operator()(const std::pair<double, double>& a, const std::pair<double, double>& b) const {
      if (a.first != b.first) return a.first < b.first;
      if (std::isnan(a.second) || std::isnan(b.second)) return !std::isnan(a.second) && std::isnan(b.second);
      return a.second < b.second;
    }
  };
  std::map<ConfigKey, std::map<std::pair<double, double>, RateGroup, RateOrder>> groups;

  for (const Observation& observation : observations) {
    const double log2_rate = observation.log2_effective_learning_rate;
    if (!std::isfinite(log2_rate)) {
      fail("analysis: trial ", describe(observation.config), " seed ", observation.seed_index,
           " has a non-finite log2 effective learning rate");
    }
    RateGroup& group = groups[observation.config][{log2_rate, observation.log2_final_effective_learning_rate}];
    RateSummary& summary = group.summary;
    if (group.seeds.empty()) {
      summary.log2_effective_learning_rate = log2_rate;
      summary.effective_learning_rate = observation.effective_learning_rate;
      summary.log2_final_effective_learning_rate = observation.log2_final_effective_learning_rate;
      summary.final_effective_learning_rate = observation.final_effective_learning_rate;
    }
    if (!group.seeds.insert(observation.seed_index).second) {
      fail("analysis: two trials of ", describe(observation.config), " at log2 rate ", log2_rate,
           " share seed_index ", observation.seed_index,
           "; the sweep file has duplicate trials — check how it was merged");
    }
    switch (observation.status) {
      case spec::TrialStatus::finished:
        ++summary.finished;
        group.runs.push_back({observation.test_metric, observation.train_loss, observation.seed_index, false});
        break;
      case spec::TrialStatus::diverged:
        ++summary.diverged;
        group.runs.push_back({observation.test_metric, observation.train_loss, observation.seed_index, true});
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

  const auto test_metric = [](const Run& run) { return run.test_metric; };
  const auto train_loss = [](const Run& run) { return run.train_loss; };
  std::vector<ConfigResult> results;
  results.reserve(groups.size());
  for (auto& [config, rates] : groups) {
    ConfigResult result;
    result.config = config;
    for (auto& [key, group] : rates) {
      group.summary.test = summarize(group.runs, best_k, direction, test_metric, train_loss);
      group.summary.train = summarize(group.runs, best_k, Direction::lower_is_better, train_loss, test_metric);
      if (group.summary.missing > 0) result.complete = false;
      result.decoupled = result.decoupled || !std::isnan(key.second);
      result.rates.push_back(group.summary);
    }
    result.test = locate(result.rates, &RateSummary::test, direction);
    result.train = locate(result.rates, &RateSummary::train, Direction::lower_is_better);
    results.push_back(std::move(result));
  }
  return results;
}

std::string format_significant(double value, int digits) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

std::string format_learning_rate(double effective_learning_rate, double log2_effective_learning_rate) {
  const double rounded = std::round(log2_effective_learning_rate);
  const std::string exponent = rounded == log2_effective_learning_rate
                                   ? concat(static_cast<long long>(rounded))
                                   : format_significant(log2_effective_learning_rate);
  return concat(format_significant(effective_learning_rate), " (2^", exponent, ")");
}

}  // namespace sgdsweep::analysis
