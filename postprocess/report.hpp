// The regime summary of a sweep (004 §5): per series of configurations that differ only in batch
// size (model × optimizer × budget), the fit of the test-optimal rate against B (regime.hpp), and
// at every batch size both optimizers ran, SGD against Momentum.
#pragma once

#include <string>
#include <vector>

#include "protocol.hpp"
#include "regime.hpp"

namespace sgdsweep::analysis {

struct Series {
  ConfigKey key;              // batch_size is 0: the series spans every B
  std::vector<int> configs;   // indices into the results, ascending batch size
  std::vector<RatePoint> points;  // one per config with a test optimum (log2 B, log2 ε_opt, bar)
  std::vector<int> point_configs; // the config of each point
  RegimeFit fit;
};

// Groups the results into series and fits each. Results of the decoupled schedule are fitted on
// their optimal initial rate.
std::vector<Series> fit_series(const std::vector<ConfigResult>& results);

// The regime of each configuration (index into results), from its series' fit; unknown without one.
std::vector<Regime> config_regimes(const std::vector<ConfigResult>& results, const std::vector<Series>& series);

// Plain text: one paragraph per series, then the SGD/Momentum comparison at each batch size.
std::string regime_summary(const std::vector<ConfigResult>& results, const std::vector<Series>& series,
                           bool higher_is_better);

}  // namespace sgdsweep::analysis
