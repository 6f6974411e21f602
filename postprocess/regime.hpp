// Regime detection (004 §3 and §5): "the optimal learning rate is proportional to batch size when the
// batch is small (noise dominated), then constant (curvature dominated)". From the optimal effective
// learning rate of each batch size, both on log2 axes, estimate the small-batch slope (≈ 1 linear
// scaling, ≈ 0.5 square-root scaling as for the LSTM, 004 App. C.3), the critical batch size B* where
// the optimum stops growing, and which batch sizes lie on which side of it.
//
// Method (deterministic: a fixed scan, no random restarts, no iteration to convergence):
// - Each point's sigma is half its error bar, (high − low) / 2, floored at grid_step / 2: a rate on a
//   log2 grid of step h is known to ±h/2 at best, and the floor keeps every weight finite. Points
//   whose optimum sits on the grid edge are only bounds on the optimum: they are left out of the fit.
// - Model: y = a + s·min(x, x_c) with x = log2 B, y = log2 ε_opt. For fixed x_c it is linear in
//   (a, s), so weighted least squares is closed form; χ²(x_c) is profiled on an even grid of spacing
//   ≤ 0.01 from the second-smallest distinct x (two batch sizes at or below x_c determine the slope)
//   to the largest x, where the model is the pure power law (any x_c ≥ max x gives the same fit).
//   Ties keep the smaller x_c.
// - Break acceptance: a break is reported only if the best x_c lies below max x, it beats the pure
//   power law by Δχ² > 1, and the slope below it is positive by more than its one sigma (a "break"
//   after a flat or falling rate is no noise-to-curvature transition). Δχ² > 1 is the interval's own
//   level, so a break is reported exactly when its one-sigma interval is bounded above. It is a
//   lenient test, since the scan picks the x_c that fits the noise best: on a pure power law over
//   B = 2^4 … 2^13 it reports a spurious break in about 16% of draws when Gaussian noise is as large as
//   the error bars, and in none when the only error is rounding to the log2 grid (the σ floor h/2
//   exceeds rounding's h/√12). A break whose interval ends close to max x is tentative.
// - Interval for x_c: the hull of the x_c with χ²(x_c) ≤ χ²_min + 1 (Δχ² = 1, one parameter of
//   interest); reaching max x makes it unbounded above (+inf). Every x_c between the smallest and the
//   second-smallest x fits exactly as well as the second-smallest (one point below the break, the
//   slope absorbs the rest), so an interval that reaches the scan's start reaches down to the smallest
//   x — and to −inf if a constant (x_c ≤ min x) also fits within Δχ² = 1 (then so does the power law,
//   its superset: no break).
// - Scatter beyond the error bars (χ²_min/dof > 1 at the best break, dof = points − 3): the bars are
//   taken as too small by sqrt(χ²_min/dof), so the Δχ² level of both the interval and the acceptance
//   becomes χ²_min/dof (acceptance still equals "bounded above"), as slope_std is inflated below.
// - slope_std: sqrt of the (s, s) element of (XᵀWX)⁻¹ at the chosen x_c, scaled by sqrt(χ²/dof) when
//   χ²/dof > 1 (dof = points − 3 with a break, points − 2 without; no scaling at dof ≤ 0). It is
//   conditional on x_c, so it runs small when the break is poorly placed (on the noisy synthetic
//   curves of the tests, 95% of slopes lie within 3 sigma of the truth, not 99.7%).
// - Regimes with a break: x < log2_critical_low noise dominated, x > log2_critical_high curvature
//   dominated, otherwise transition. Without a break (three or more batch sizes): if
//   0 ≤ slope + sigma < 0.5 (slower than even square-root scaling, not clearly falling) the rate is
//   flat, so every fitted point is curvature dominated; otherwise, if the slope is positive by more
//   than one sigma the rate keeps growing, so every fitted point is noise dominated (004 App. C, table 7: "the optimal
//   effective learning rate is independent of the batch size ... close to curvature dominated
//   regime"); else (a falling rate, or too uncertain a slope) unknown. Edge points are classified by
//   x against a reported break, unknown without one.
// - Fewer than two distinct batch sizes: no fit, everything NaN/unknown. Exactly two: the slope
//   through them, no break test, regimes unknown. The reason goes in `note`.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace sgdsweep::analysis {

// One configuration's optimum: x = log2 B, the optimal log2 ε_eff and its one-sigma error bar
// [low, high] on the log2 grid (low <= rate <= high; low == high when only the optimum is within one std).
struct RatePoint {
  double log2_batch_size = 0;
  double log2_rate = 0;
  double log2_low = 0, log2_high = 0;
  bool at_edge = false;   // optimum on the grid edge: excluded from the fit (reported as excluded)
};

enum class Regime : signed char { unknown = 0, noise_dominated = 1, curvature_dominated = 2, transition = 3 };
const char* name(Regime regime);  // "unknown", "noise dominated", "curvature dominated", "transition"

struct RegimeFit {
  int points = 0;                 // points in the fit (not at edge)
  double slope = NAN, slope_std = NAN;
  // log2_critical NaN: no break seen within the range. Then, with three or more batch sizes,
  // [log2_critical_low, +inf) is still the one-sigma range of B* the data allow: a lower bound on B*,
  // -inf when even a constant fits. With a break the range is finite, low >= the smallest fitted x.
  // All NaN with fewer than three batch sizes, or when a best break was rejected (see note).
  double log2_critical = NAN, log2_critical_low = NAN, log2_critical_high = NAN;
  double log2_plateau = NAN;      // a + s * log2_critical
  double intercept = NAN;         // a
  double chi2 = NAN; int dof = 0;
  std::vector<Regime> regimes;    // one per input point, same order
  std::string note;               // why something is NaN/unknown (too few points, ...), empty otherwise
};

// Fits log2 ε_opt = a + s * min(x, x_c), weighted least squares (method above). grid_step: the rate
// grid's spacing in log2 units. Throws Error on non-finite input, an error bar that does not contain
// its rate, or grid_step not positive.
RegimeFit fit_regime(const std::vector<RatePoint>& points, double grid_step = 1.0);

// A few lines of plain text describing the fit for humans (continuation lines indented by two
// spaces, no trailing newline), e.g.
// "slope 0.98 ± 0.07 below B* = 2^9.0 (512; 2^8.5 … 2^9.5): linear scaling (noise dominated up to
// B = 256; curvature dominated from B = 1024)".
std::string describe(const RegimeFit& fit, const std::vector<RatePoint>& points);

}  // namespace sgdsweep::analysis
