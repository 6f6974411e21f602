// Counter-based random numbers (Philox4x32-10, Salmon et al. SC'11): every draw is a pure function
// of (trial seed, purpose, stream, position), so a trial sees the same numbers on any rank, in any
// order, after a resume, and on the host or a GPU. There is no generator state to carry around.
//
// Conventions: `stream` names the outer loop (epoch for shuffles, layer for initialisation) and
// `position` the inner one (example, parameter). Each call returns four 32-bit words.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "util/host_device.hpp"

namespace sgdsweep {

// What a draw is for; part of the counter, so draws for different purposes never collide.
enum class RngPurpose : std::uint32_t { init = 1, shuffle = 2, augment = 3, dropout = 4, test = 99 };

class CounterRng {
 public:
  using Block = std::array<std::uint32_t, 4>;

  SGDSWEEP_HOST_DEVICE CounterRng(std::uint64_t seed, RngPurpose purpose)
      : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)},
        purpose_(static_cast<std::uint32_t>(purpose)) {}

  // The bare Philox4x32-10 bijection (exposed for its known-answer test).
  SGDSWEEP_HOST_DEVICE static Block philox4x32_10(Block counter, std::array<std::uint32_t, 2> key) {
    for (int round = 0; round < 10; ++round) {
      counter = philox_round(counter, key);
      key[0] += 0x9E3779B9u;
      key[1] += 0xBB67AE85u;
    }
    return counter;
  }

  // Four independent 32-bit words for (stream, position).
  SGDSWEEP_HOST_DEVICE Block bits(std::uint32_t stream, std::uint64_t position) const {
    return philox4x32_10({static_cast<std::uint32_t>(position),
                          static_cast<std::uint32_t>(position >> 32), stream, purpose_},
                         key_);
  }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform(std::uint32_t stream, std::uint64_t position) const {
    const Block b = bits(stream, position);
    const std::uint64_t x = (static_cast<std::uint64_t>(b[0]) << 32 | b[1]) >> 11;
    return static_cast<double>(x) * 0x1.0p-53;
  }

  // Uniform integer in [0, bound) (bound > 0), by 64×64→128-bit multiply; bias below 2^-32.
  std::uint64_t below(std::uint64_t bound, std::uint32_t stream, std::uint64_t position) const {
    const Block b = bits(stream, position);
    const std::uint64_t x = static_cast<std::uint64_t>(b[0]) << 32 | b[1];
    __extension__ using Wide = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<Wide>(x) * bound) >> 64);
  }

  // Standard normal by Box–Muller on two 53-bit uniforms (the cosine branch only).
  double normal(std::uint32_t stream, std::uint64_t position) const {
    const Block b = bits(stream, position);
    const std::uint64_t x = (static_cast<std::uint64_t>(b[0]) << 32 | b[1]) >> 11;
    const std::uint64_t y = (static_cast<std::uint64_t>(b[2]) << 32 | b[3]) >> 11;
    const double u1 = (static_cast<double>(x) + 1.0) * 0x1.0p-53;  // (0, 1]: log is finite
    const double u2 = static_cast<double>(y) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  SGDSWEEP_HOST_DEVICE static Block philox_round(const Block& c, const std::array<std::uint32_t, 2>& k) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(0xD2511F53u) * c[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(0xCD9E8D57u) * c[2];
    return {static_cast<std::uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<std::uint32_t>(p1),
            static_cast<std::uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<std::uint32_t>(p0)};
  }

  std::array<std::uint32_t, 2> key_;
  std::uint32_t purpose_;
};

}  // namespace sgdsweep
