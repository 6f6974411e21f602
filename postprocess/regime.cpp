// Regime detection: a profiled broken-power-law fit of the optimal rate against batch size.
#include "regime.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>

#include "util/error.hpp"

namespace sgdsweep::analysis {

const char* name(Regime regime) {
  switch (regime) {
    case Regime::noise_dominated: return "noise dominated";
    case Regime::curvature_dominated: return "curvature dominated";
    case Regime::transition: return "transition";
    case Regime::unknown: break;
  }
  return "unknown";
}

namespace {

constexpr double kScanStep = 0.01;  // log2 units: far below any grid's resolution of B*
constexpr double kDeltaChi2 = 1.0;  // one sigma for one parameter of interest
const double kInf = std::numeric_limits<double>::infinity();

struct Sample {
  double x, y, w;  // log2 B, log2 ε_opt, 1/σ²
};

// The weighted least-squares fit of y = a + s·u with u = min(x, x_c).
struct LineFit {
  double a = NAN, s = NAN;
  double var_s = NAN;  // (XᵀWX)⁻¹ (s, s): σ² taken at face value
  double chi2 = NAN;
};

LineFit fit_line(const std::vector<Sample>& samples, double x_c) {
  // Centred sums: u spans a few units around ~10, and the uncentred normal equations lose digits
  // exactly where the profile's minimum is decided.
  double sw = 0, su = 0, sy = 0;
  for (const Sample& p : samples) {
    sw += p.w;
    su += p.w * std::min(p.x, x_c);
    sy += p.w * p.y;
  }
  const double u_mean = su / sw, y_mean = sy / sw;
  double suu = 0, suy = 0;
  for (const Sample& p : samples) {
    const double du = std::min(p.x, x_c) - u_mean;
    suu += p.w * du * du;
    suy += p.w * du * (p.y - y_mean);
  }
  LineFit fit;
  if (!(suu > 0)) return fit;  // callers guarantee two distinct u; kept as a guard
  fit.s = suy / suu;
  fit.a = y_mean - fit.s * u_mean;
  fit.var_s = 1 / suu;
  fit.chi2 = 0;
  for (const Sample& p : samples) {
    const double r = p.y - fit.a - fit.s * std::min(p.x, x_c);
    fit.chi2 += p.w * r * r;
  }
  return fit;
}

// χ² of a constant (the weighted mean): the "flat everywhere" limit x_c ≤ min x.
double constant_chi2(const std::vector<Sample>& samples) {
  double sw = 0, sy = 0;
  for (const Sample& p : samples) {
    sw += p.w;
    sy += p.w * p.y;
  }
  double chi2 = 0;
  for (const Sample& p : samples) chi2 += p.w * (p.y - sy / sw) * (p.y - sy / sw);
  return chi2;
}

// The slope's one sigma: the error bars' covariance, inflated when the scatter exceeds them.
double slope_std(const LineFit& fit, int dof) {
  double sd = std::sqrt(fit.var_s);
  if (dof > 0 && fit.chi2 / dof > 1) sd *= std::sqrt(fit.chi2 / dof);
  return sd;
}

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

// A batch size from its log2: "512" when integral, else "2^9.37".
std::string batch(double log2_batch_size) {
  const double b = std::exp2(log2_batch_size);
  if (b >= 1 && b < 1e15 && b == std::round(b)) return fixed(b, 0);
  return "2^" + fixed(log2_batch_size, 2);
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

// "linear scaling" etc.: the nearest of slopes 1, 0.5 and 0 when within max(2σ, 0.15) of it.
std::string scaling(double slope, double sd) {
  struct Label {
    double slope;
    const char* text;
  };
  const Label labels[] = {{1.0, "linear scaling"}, {0.5, "square-root scaling"}, {0.0, "flat optimal rate"}};
  const Label* nearest = &labels[0];
  for (const Label& label : labels) {
    if (std::fabs(slope - label.slope) < std::fabs(slope - nearest->slope)) nearest = &label;
  }
  const double tolerance = std::max(2 * (std::isfinite(sd) ? sd : 0.0), 0.15);
  if (std::fabs(slope - nearest->slope) <= tolerance) return nearest->text;
  return "ε_opt ∝ B^" + fixed(slope, 2);
}

}  // namespace

RegimeFit fit_regime(const std::vector<RatePoint>& points, double grid_step) {
  if (!std::isfinite(grid_step) || grid_step <= 0) {
    fail("regime: the rate grid step must be a positive finite number of log2 units (got ", grid_step, ")");
  }
  std::vector<Sample> samples;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const RatePoint& p = points[i];
    if (!std::isfinite(p.log2_batch_size) || !std::isfinite(p.log2_rate) || !std::isfinite(p.log2_low) ||
        !std::isfinite(p.log2_high)) {
      fail("regime: point ", i, " (log2 B ", p.log2_batch_size, ", log2 rate ", p.log2_rate, ", error bar [",
           p.log2_low, ", ", p.log2_high, "]) is not finite; pass only configurations with an optimum");
    }
    if (!(p.log2_low <= p.log2_rate && p.log2_rate <= p.log2_high)) {
      fail("regime: point ", i, " (log2 B ", p.log2_batch_size, ") has error bar [", p.log2_low, ", ",
           p.log2_high, "] that does not contain its optimal log2 rate ", p.log2_rate);
    }
    if (p.at_edge) continue;
    const double sigma = std::max((p.log2_high - p.log2_low) / 2, grid_step / 2);
    samples.push_back({p.log2_batch_size, p.log2_rate, 1 / (sigma * sigma)});
  }

  RegimeFit fit;
  fit.points = static_cast<int>(samples.size());
  fit.regimes.assign(points.size(), Regime::unknown);
  std::vector<std::string> notes;
  const auto finish = [&]() {
    fit.note = join(notes, "; ");
    return fit;
  };

  std::vector<double> xs;
  for (const Sample& p : samples) xs.push_back(p.x);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  const int n = fit.points;
  if (xs.size() < 2) {
    notes.push_back(concat("fewer than two batch sizes with an optimum inside the rate grid (", n, " fitted, ",
                           points.size() - samples.size(), " at the grid edge): nothing to fit"));
    return finish();
  }

  const LineFit power = fit_line(samples, kInf);
  const auto report_power_law = [&]() {
    fit.slope = power.s;
    fit.intercept = power.a;
    fit.chi2 = power.chi2;
    fit.dof = n - 2;
    fit.slope_std = slope_std(power, fit.dof);
  };
  if (xs.size() == 2) {
    report_power_law();
    notes.push_back("only two batch sizes fitted: the slope is a two-point estimate and no break can be tested "
                    "(regimes unknown)");
    return finish();
  }

  // Profile χ²(x_c) from the second-smallest batch size to the largest (the power law) on an even grid.
  const double scan_low = xs[1], scan_high = xs.back();
  const int steps = std::max(1, static_cast<int>(std::ceil((scan_high - scan_low) / kScanStep - 1e-9)));
  const auto x_c_at = [&](int k) {
    return k == steps ? scan_high : scan_low + (scan_high - scan_low) * k / steps;
  };
  std::vector<double> profile(steps + 1);
  int best = 0;
  for (int k = 0; k <= steps; ++k) {
    profile[k] = fit_line(samples, x_c_at(k)).chi2;
    if (profile[k] < profile[best]) best = k;  // strict: ties keep the smaller x_c
  }
  const double chi2_min = profile[best];
  // When the scatter exceeds the error bars (χ²/dof > 1 at the best break) they are taken as too
  // small by sqrt(χ²/dof), as for slope_std: Δχ² is measured in units of χ²/dof.
  const int broken_dof = n - 3;
  const double delta = kDeltaChi2 * (broken_dof > 0 ? std::max(1.0, chi2_min / broken_dof) : 1.0);
  int first = best, last = best;
  for (int k = 0; k <= steps; ++k) {
    if (profile[k] <= chi2_min + delta) {
      first = std::min(first, k);
      last = std::max(last, k);
    }
  }
  // Below the scan: any x_c in (x_(1), x_(2)] fits as x_(2) does; x_c ≤ x_(1) is a constant. A
  // constant is also the power law with s = 0, so −inf only ever comes with "no break".
  double interval_low = x_c_at(first);
  if (first == 0) interval_low = constant_chi2(samples) <= chi2_min + delta ? -kInf : xs[0];
  const double interval_high = last == steps ? kInf : x_c_at(last);

  const LineFit broken = fit_line(samples, x_c_at(best));
  const double broken_std = slope_std(broken, broken_dof);
  const bool improves = power.chi2 - chi2_min > delta;  // implies best < steps, a bounded interval
  if (improves && broken.s - broken_std > 0) {
    fit.slope = broken.s;
    fit.slope_std = broken_std;
    fit.intercept = broken.a;
    fit.chi2 = broken.chi2;
    fit.dof = broken_dof;
    fit.log2_critical = x_c_at(best);
    fit.log2_critical_low = interval_low;
    fit.log2_critical_high = interval_high;
    fit.log2_plateau = broken.a + broken.s * fit.log2_critical;
    for (std::size_t i = 0; i < points.size(); ++i) {  // edge points too: B* is a statement about B
      const double x = points[i].log2_batch_size;
      fit.regimes[i] = x < interval_low    ? Regime::noise_dominated
                       : x > interval_high ? Regime::curvature_dominated
                                           : Regime::transition;
    }
    if (fit.dof <= 0) {
      notes.push_back("no degrees of freedom left: slope_std comes from the error bars alone and χ² tests nothing");
    }
    return finish();
  }

  report_power_law();
  if (improves) {
    notes.push_back(concat("the best break (B* = 2^", fixed(x_c_at(best), 2), ") has no rising slope below it (",
                           fixed(broken.s, 2), " ± ", fixed(broken_std, 2), "): not a noise-to-curvature "
                           "transition, so none is reported"));
  } else {
    fit.log2_critical_low = interval_low;
    fit.log2_critical_high = kInf;
    notes.push_back(interval_low == -kInf
                        ? std::string("no break seen within the range: any B* fits within Δχ² = 1")
                        : concat("no break seen within the range: B* ≥ 2^", fixed(interval_low, 2),
                                 " at one sigma, unbounded above"));
  }
  Regime regime = Regime::unknown;
  // Flat first: a slope positive by one sigma but below square-root scaling even at +1 sigma is a
  // plateau, not the noise-dominated growth (004 §5), and the label of describe() must agree.
  if (fit.slope + fit.slope_std < 0) {
    notes.push_back(concat("the optimal rate falls with B (slope ", fixed(fit.slope, 2), " ± ",
                           fixed(fit.slope_std, 2), "), which neither regime predicts: regimes unknown"));
  } else if (fit.slope + fit.slope_std < 0.5) {
    regime = Regime::curvature_dominated;  // flat: no growth, not even square-root scaling
  } else if (fit.slope - fit.slope_std > 0) {
    regime = Regime::noise_dominated;  // the optimum keeps growing with B
  } else {
    notes.push_back(concat("the slope ", fixed(fit.slope, 2), " ± ", fixed(fit.slope_std, 2),
                           " is neither clearly rising nor flat: regimes unknown"));
  }
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!points[i].at_edge) fit.regimes[i] = regime;
  }
  if (regime != Regime::unknown && fit.points < static_cast<int>(points.size())) {
    notes.push_back("points at the grid edge have no regime without a break");
  }
  if (fit.dof <= 0) {
    notes.push_back("no degrees of freedom left: slope_std comes from the error bars alone and χ² tests nothing");
  }
  return finish();
}

std::string describe(const RegimeFit& fit, const std::vector<RatePoint>& points) {
  std::vector<std::string> lines;
  std::vector<std::string> excluded;
  for (const RatePoint& p : points) {
    if (p.at_edge) excluded.push_back(batch(p.log2_batch_size));
  }
  const std::string excluded_text =
      excluded.empty() ? ""
                       : concat(", ", excluded.size(), " excluded (optimum at the grid edge: B = ",
                                join(excluded, ", "), ")");

  if (std::isnan(fit.slope)) {
    lines.push_back("no fit: " + (fit.note.empty() ? std::string("no points") : fit.note));
    lines.push_back(concat(fit.points, fit.points == 1 ? " point" : " points", " fitted", excluded_text));
    return join(lines, "\n  ");
  }

  // Which batch sizes fell where: the largest noise dominated, the transition's span, the smallest
  // curvature dominated.
  double noise_max = -kInf, transition_min = kInf, transition_max = -kInf, curvature_min = kInf;
  for (std::size_t i = 0; i < points.size() && i < fit.regimes.size(); ++i) {
    const double x = points[i].log2_batch_size;
    switch (fit.regimes[i]) {
      case Regime::noise_dominated: noise_max = std::max(noise_max, x); break;
      case Regime::transition:
        transition_min = std::min(transition_min, x);
        transition_max = std::max(transition_max, x);
        break;
      case Regime::curvature_dominated: curvature_min = std::min(curvature_min, x); break;
      case Regime::unknown: break;
    }
  }
  std::vector<std::string> regimes;
  if (noise_max > -kInf) regimes.push_back("noise dominated up to B = " + batch(noise_max));
  if (transition_min < kInf) {
    regimes.push_back("transition at B = " + batch(transition_min) +
                      (transition_max > transition_min ? " … " + batch(transition_max) : std::string()));
  }
  if (curvature_min < kInf) regimes.push_back("curvature dominated from B = " + batch(curvature_min));
  const std::string regime_text = regimes.empty() ? "regimes unknown" : join(regimes, "; ");

  const std::string slope_text = "slope " + fixed(fit.slope, 2) + " ± " + fixed(fit.slope_std, 2);
  const std::string scaling_text = scaling(fit.slope, fit.slope_std);
  double x_max = -kInf;
  for (const RatePoint& p : points) {
    if (!p.at_edge) x_max = std::max(x_max, p.log2_batch_size);
  }
  if (!std::isnan(fit.log2_critical)) {
    lines.push_back(slope_text + " below B* = 2^" + fixed(fit.log2_critical, 1) + " (" +
                    fixed(std::exp2(fit.log2_critical), 0) + "; 2^" + fixed(fit.log2_critical_low, 1) + " … 2^" +
                    fixed(fit.log2_critical_high, 1) + "): " + scaling_text + " (" + regime_text + ")");
    lines.push_back("plateau log2 ε_eff = " + fixed(fit.log2_plateau, 2) + " (ε_eff = " +
                    fixed(std::exp2(fit.log2_plateau), 4) + "); χ² = " + fixed(fit.chi2, 2) + " for " +
                    std::to_string(fit.dof) + " dof; " + std::to_string(fit.points) + " points fitted" +
                    excluded_text);
  } else {
    std::string bound;
    if (std::isfinite(fit.log2_critical_low)) {
      bound = " (B* ≥ 2^" + fixed(fit.log2_critical_low, 1) + " at one sigma)";
    }
    lines.push_back(slope_text + ", no break seen up to B = " + batch(x_max) + bound + ": " + scaling_text + " (" +
                    regime_text + ")");
    lines.push_back("intercept log2 ε_eff = " + fixed(fit.intercept, 2) + " at B = 1; χ² = " + fixed(fit.chi2, 2) +
                    " for " + std::to_string(fit.dof) + " dof; " + std::to_string(fit.points) + " points fitted" +
                    excluded_text);
  }
  if (!fit.note.empty()) lines.push_back("note: " + fit.note);
  return join(lines, "\n  ");
}

}  // namespace sgdsweep::analysis
