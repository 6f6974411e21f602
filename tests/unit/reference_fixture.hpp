// The PyTorch ground-truth fixtures written by tests/reference/*.py: b"SGDREF1\0", then records of
// (u32 name length, name, u64 count, count float64 values).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sgdsweep::testing {

using Fixture = std::map<std::string, std::vector<double>>;

inline Fixture read_fixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "SGDREF1\0", 8) != 0) {
    throw std::runtime_error(path + " is not a reference fixture (written by tests/reference/*.py)");
  }
  Fixture records;
  std::uint32_t name_length = 0;
  while (in.read(reinterpret_cast<char*>(&name_length), 4)) {
    std::string name(name_length, '\0');
    std::uint64_t count = 0;
    in.read(name.data(), name_length);
    in.read(reinterpret_cast<char*>(&count), 8);
    std::vector<double> values(count);
    in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(count * 8));
    if (!in) throw std::runtime_error(path + ": truncated at record '" + name + "'");
    records[name] = std::move(values);
  }
  return records;
}

}  // namespace sgdsweep::testing
