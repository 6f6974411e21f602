// The regime summary: series of configurations, their fits, and SGD against Momentum.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <tuple>

#include "util/error.hpp"

namespace sgdsweep::analysis {

namespace {

// A series: everything of the key but the batch size (and the optimizer, for the comparison).
auto series_key(const ConfigKey& c) { return std::make_tuple(c.model, c.optimizer, c.budget_kind, c.budget_value); }
auto comparison_key(const ConfigKey& c) {
  return std::make_tuple(c.model, c.budget_kind, c.budget_value, c.batch_size);
}

// The smallest gap between the initial rates of the series' grids: how well an optimum is known.
double grid_step(const std::vector<ConfigResult>& results, const std::vector<int>& configs) {
  double step = INFINITY;
  for (int i : configs) {
    const auto& rates = results[i].rates;
    for (std::size_t r = 1; r < rates.size(); ++r) {
      const double gap = rates[r].log2_effective_learning_rate - rates[r - 1].log2_effective_learning_rate;
      if (gap > 0) step = std::min(step, gap);
    }
  }
  return std::isfinite(step) ? step : 1.0;
}

}  // namespace

std::vector<Series> fit_series(const std::vector<ConfigResult>& results) {
  std::vector<Series> series;
  std::map<decltype(series_key(ConfigKey{})), std::size_t> index;
  for (std::size_t i = 0; i < results.size(); ++i) {  // results are sorted: B ascends within a series
    const ConfigKey& key = results[i].config;
    const auto [found, inserted] = index.try_emplace(series_key(key), series.size());
    if (inserted) {
      series.push_back({key, {}, {}, {}, {}});
      series.back().key.batch_size = 0;
    }
    Series& s = series[found->second];
    s.configs.push_back(static_cast<int>(i));
    const ConfigResult& result = results[i];
    if (!result.test.found()) continue;
    const RateSummary& rate = result.rates[result.test.index];
    s.points.push_back({std::log2(static_cast<double>(key.batch_size)), rate.log2_effective_learning_rate,
                        result.test.bar_log2_low, result.test.bar_log2_high, result.test.at_edge});
    s.point_configs.push_back(static_cast<int>(i));
  }
  for (Series& s : series) s.fit = fit_regime(s.points, grid_step(results, s.configs));
  return series;
}

std::vector<Regime> config_regimes(const std::vector<ConfigResult>& results, const std::vector<Series>& series) {
  std::vector<Regime> regimes(results.size(), Regime::unknown);
  for (const Series& s : series) {
    for (std::size_t p = 0; p < s.point_configs.size() && p < s.fit.regimes.size(); ++p) {
      regimes[s.point_configs[p]] = s.fit.regimes[p];
    }
  }
  return regimes;
}

std::string regime_summary(const std::vector<ConfigResult>& results, const std::vector<Series>& series,
                           bool higher_is_better) {
  std::ostringstream out;
  out << "Regimes (optimal ε_eff against B on log–log axes, fit log2 ε = a + s·min(log2 B, log2 B*)):\n";
  int shown = 0;
  for (const Series& s : series) {
    if (s.configs.size() < 2) continue;  // one batch size: nothing to say about B
    out << "- " << s.key.model << " · " << s.key.optimizer << " · " << s.key.budget << ": "
        << describe(s.fit, s.points) << "\n";
    ++shown;
  }
  if (shown == 0) out << "- none: every series (model × optimizer × budget) has a single batch size\n";

  // SGD against Momentum wherever both ran the same configuration.
  std::map<decltype(comparison_key(ConfigKey{})), std::map<std::string, const ConfigResult*>> pairs;
  for (const ConfigResult& result : results) pairs[comparison_key(result.config)][result.config.optimizer] = &result;
  const std::vector<Regime> regimes = config_regimes(results, series);
  bool header = false;
  for (const auto& [key, by_optimizer] : pairs) {
    const auto sgd = by_optimizer.find("sgd");
    const auto momentum = by_optimizer.find("momentum");
    if (sgd == by_optimizer.end() || momentum == by_optimizer.end()) continue;
    if (!header) {
      out << "\nSGD against Momentum at each batch size (test metric at each one's optimal rate, mean ± std "
             "of the best k):\n";
      header = true;
    }
    const ConfigResult& a = *sgd->second;
    const ConfigResult& b = *momentum->second;
    out << "- " << a.config.model << " · " << a.config.budget << " · B = " << a.config.batch_size << ": ";
    if (!a.test.found() || !b.test.found()) {
      out << "no optimum for " << (a.test.found() ? "Momentum" : "SGD") << "\n";
      continue;
    }
    const Summary& sa = a.rates[a.test.index].test;
    const Summary& sb = b.rates[b.test.index].test;
    const double difference = sb.mean - sa.mean;
    const double sigma = std::sqrt(sa.std * sa.std + sb.std * sb.std);
    out << "SGD " << format_significant(sa.mean) << " ± " << format_significant(sa.std) << ", Momentum "
        << format_significant(sb.mean) << " ± " << format_significant(sb.std) << ": ";
    if (std::fabs(difference) <= sigma) {
      out << "the same within one combined sigma";
    } else {
      const bool momentum_better = higher_is_better ? difference > 0 : difference < 0;
      out << (momentum_better ? "Momentum" : "SGD") << " better by " << format_significant(std::fabs(difference), 3)
          << " (" << format_significant(std::fabs(difference) / sigma, 2) << " sigma)";
    }
    const Regime regime = regimes[&a - results.data()];
    if (regime != Regime::unknown) out << "; SGD's regime here: " << name(regime);
    out << "\n";
  }
  return out.str();
}

}  // namespace sgdsweep::analysis
