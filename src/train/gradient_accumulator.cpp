// Binary-counter gradient summation (see gradient_accumulator.hpp).
#include "train/gradient_accumulator.hpp"

#include <utility>

#include "util/error.hpp"

namespace sgdsweep::train {

GradientAccumulator::GradientAccumulator(ops::Backend& backend, std::int64_t size,
                                         std::int64_t max_microbatches)
    : backend_(backend), size_(size), carry_(backend, static_cast<std::size_t>(size)) {
  int levels = 1;
  while ((std::int64_t{1} << (levels - 1)) < max_microbatches) ++levels;
  for (int k = 0; k < levels; ++k) levels_.emplace_back(backend, static_cast<std::size_t>(size));
  occupied_.assign(static_cast<std::size_t>(levels), false);
}

void GradientAccumulator::reset() { occupied_.assign(occupied_.size(), false); }

void GradientAccumulator::add(const float* gradient) {
  backend_.copy(carry_.data(), gradient, static_cast<std::size_t>(size_) * sizeof(float));
  std::size_t k = 0;
  while (k < occupied_.size() && occupied_[k]) {
    backend_.axpby(1.0f, levels_[k].data(), 1.0f, carry_.data(), size_);  // older + newer
    occupied_[k] = false;
    ++k;
  }
  if (k == occupied_.size()) fail("gradient accumulator: more microbatches than it was sized for");
  std::swap(levels_[k], carry_);
  occupied_[k] = true;
}

void GradientAccumulator::finish(float* out) {
  bool first = true;
  for (std::size_t k = occupied_.size(); k-- > 0;) {
    if (!occupied_[k]) continue;
    if (first) {
      backend_.copy(out, levels_[k].data(), static_cast<std::size_t>(size_) * sizeof(float));
      first = false;
    } else {
      backend_.axpby(1.0f, levels_[k].data(), 1.0f, out, size_);
    }
  }
  if (first) backend_.fill(out, size_, 0.0f);
}

}  // namespace sgdsweep::train
