// Refinement: rates beyond the grid edges that optima and error bars touch.
#include "refine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

#include "util/error.hpp"

namespace sgdsweep::analysis {

namespace {

// The smallest gap between distinct rates; 1 for a single rate.
double grid_step(const std::set<double>& rates) {
  double step = INFINITY;
  for (auto it = rates.begin(); it != rates.end() && std::next(it) != rates.end(); ++it) {
    step = std::min(step, *std::next(it) - *it);
  }
  return std::isfinite(step) ? step : 1.0;
}

// Adds `count` rates beyond the low and/or high end of `rates`.
void extend(const std::set<double>& rates, bool low, bool high, int count, std::set<double>& out) {
  const double step = grid_step(rates);
  for (int k = 1; k <= count; ++k) {
    if (low) out.insert(*rates.begin() - k * step);
    if (high) out.insert(*rates.rbegin() + k * step);
  }
}

// The shortest decimal that reads back as the same double (the spec must name exactly the file's
// budgets and rates).
std::string exact(double value) {
  char buffer[40];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string number_list(const std::set<double>& values) {
  std::string out = "[";
  for (auto it = values.begin(); it != values.end(); ++it) out += (it == values.begin() ? "" : ", ") + exact(*it);
  return out + "]";
}

}  // namespace

std::vector<Extension> refine(const std::vector<ConfigResult>& results, int rates_beyond) {
  if (rates_beyond < 1) fail("--refine-rates must be at least 1 (got ", rates_beyond, ")");
  std::vector<Extension> extensions;
  for (const ConfigResult& result : results) {
    std::set<double> initial, final;
    int available = 0;
    for (const RateSummary& rate : result.rates) {
      initial.insert(rate.log2_effective_learning_rate);
      if (result.decoupled) final.insert(rate.log2_final_effective_learning_rate);
      available += rate.available();
    }
    std::set<double> new_initial, new_final;
    std::vector<std::string> reasons;
    for (const auto& [optimum, objective] : {std::pair{&result.test, "test"}, std::pair{&result.train, "train"}}) {
      if (!optimum->found()) continue;
      const RateSummary& at = result.rates[optimum->index];
      const bool low = at.log2_effective_learning_rate == *initial.begin() || optimum->bar_log2_low == *initial.begin();
      const bool high = at.log2_effective_learning_rate == *initial.rbegin() || optimum->bar_log2_high == *initial.rbegin();
      extend(initial, low, high, rates_beyond, new_initial);
      bool final_low = false, final_high = false;
      if (result.decoupled) {
        final_low = at.log2_final_effective_learning_rate == *final.begin() || optimum->bar_log2_final_low == *final.begin();
        final_high = at.log2_final_effective_learning_rate == *final.rbegin() || optimum->bar_log2_final_high == *final.rbegin();
        extend(final, final_low, final_high, rates_beyond, new_final);
      }
      if (low || high || final_low || final_high) {
        reasons.push_back(concat(objective, " optimum or error bar at the ",
                                 low || final_low ? (high || final_high ? "bottom and top" : "bottom") : "top",
                                 result.decoupled ? (low || high ? " of the initial rates" : " of the final rates") : ""));
      }
    }
    if (!result.test.found() && !result.train.found() && available > 0) {
      extend(initial, true, false, rates_beyond, new_initial);
      reasons.push_back("no rate with best_k usable runs (all diverged?): lower rates");
    }
    if (new_initial.empty() && new_final.empty()) continue;
    Extension extension{result.config, {}, {}, {}};
    for (std::size_t i = 0; i < reasons.size(); ++i) extension.reason += (i ? "; " : "") + reasons[i];
    if (result.decoupled) {  // every new pair: (old and new initial) × (old and new final); old pairs skip
      new_initial.insert(initial.begin(), initial.end());
      new_final.insert(final.begin(), final.end());
      extension.log2_final_rates.assign(new_final.begin(), new_final.end());
    }
    extension.log2_rates.assign(new_initial.begin(), new_initial.end());
    extensions.push_back(std::move(extension));
  }
  return extensions;
}

std::string extension_toml(const std::vector<Extension>& extensions, bool with_budget) {
  std::ostringstream out;
  for (const Extension& extension : extensions) {
    const ConfigKey& c = extension.config;
    out << "\n# " << c.optimizer << ", B = " << c.batch_size << ", " << c.budget << ": " << extension.reason
        << "\n[[grid.extend]]\noptimizer = \"" << c.optimizer << "\"\nbatch_size = " << c.batch_size << "\n";
    if (with_budget) out << "budget = " << exact(c.budget_value) << "\n";
    out << "log2_effective_lr = "
        << number_list(std::set<double>(extension.log2_rates.begin(), extension.log2_rates.end())) << "\n";
    if (!extension.log2_final_rates.empty()) {
      out << "log2_final_effective_lr = "
          << number_list(std::set<double>(extension.log2_final_rates.begin(), extension.log2_final_rates.end()))
          << "\n";
    }
  }
  return out.str();
}

}  // namespace sgdsweep::analysis
