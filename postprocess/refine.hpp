// Adaptive grid refinement: the learning rates beyond every optimum or error bar that touches the
// edge of its configuration's grid, as `[[grid.extend]]` tables that `sgdsweep run --append` adds
// to the same sweep file (docs/analysis.md, docs/spec.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol.hpp"

namespace sgdsweep::analysis {

// One `[[grid.extend]]` table: new rates for one configuration.
struct Extension {
  ConfigKey config;
  std::vector<double> log2_rates;        // new initial rates (may be empty for a final-only extension)
  std::vector<double> log2_final_rates;  // decoupled: the final rates to pair with (empty: the spec's)
  std::string reason;                    // e.g. "test optimum at the top of the grid"
};

// For every configuration and both objectives: an optimum or error bar at the top (bottom) of the
// configuration's initial (final) rates adds `rates_beyond` rates above (below) it, spaced like
// the grid (its smallest gap; 1 for a single rate). A configuration where no rate had k usable runs
// (all diverged) adds rates below its lowest. Extensions of one configuration are merged.
std::vector<Extension> refine(const std::vector<ConfigResult>& results, int rates_beyond);

// The extensions as TOML to append to the sweep's spec. `with_budget`: write each table's
// `budget` (needed when the spec lists several budgets).
std::string extension_toml(const std::vector<Extension>& extensions, bool with_budget);

}  // namespace sgdsweep::analysis
