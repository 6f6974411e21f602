// Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzip-compressed:
// a 4-byte magic (0, 0, type, rank), `rank` big-endian uint32 dimensions, then the values.
// Only unsigned-byte data (type 0x08) is accepted, which is what image and label files hold.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sgdsweep::data {

struct IdxArray {
  std::vector<std::int64_t> dims;    // as stored, outermost first (dims[0] = number of items)
  std::vector<std::uint8_t> values;  // row-major; dims[0] may be cut to `max_items`
};

// Reads `path` (gzip or plain; detected from the content). With max_items > 0 only the first
// max_items items are read and dims[0] is set to that; asking for more items than the file holds
// is an error. Throws Error naming the file and what is wrong (missing, wrong magic, unsupported
// type, truncated header or data, trailing bytes).
IdxArray read_idx(const std::string& path, std::int64_t max_items = 0);

}  // namespace sgdsweep::data
