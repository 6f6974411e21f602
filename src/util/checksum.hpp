// FNV-1a 64-bit checksum of raw bytes: the integrity stamp of a finished trial's curves.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sgdsweep {

class Fnv1a64 {
 public:
  void update(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) {
      hash_ ^= p[i];
      hash_ *= 0x100000001b3ULL;
    }
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

}  // namespace sgdsweep
