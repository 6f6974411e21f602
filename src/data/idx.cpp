// IDX reader on zlib's gz* interface, which reads plain and gzip files alike.
#include "data/idx.hpp"

#include <zlib.h>

#include <memory>

#include "util/error.hpp"

namespace sgdsweep::data {
namespace {

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly `bytes` bytes or returns how many it got; throws on a decompression error.
std::size_t read_fully(gzFile file, void* destination, std::size_t bytes, const std::string& path) {
  auto* out = static_cast<unsigned char*>(destination);
  std::size_t done = 0;
  while (done < bytes) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(bytes - done, 1u << 30));
    const int got = gzread(file, out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      fail(path, ": cannot decompress (", message, "); the file is corrupt or truncated");
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace

IdxArray read_idx(const std::string& path, std::int64_t max_items) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) fail(path, ": cannot open (missing or unreadable)");

  unsigned char magic[4];
  if (read_fully(file.get(), magic, 4, path) != 4) {
    fail(path, ": truncated IDX header (fewer than 4 bytes)");
  }
  if (magic[0] != 0 || magic[1] != 0) {
    fail(path, ": not an IDX file (magic bytes ", int(magic[0]), " ", int(magic[1]),
         ", expected 0 0)");
  }
  if (magic[2] != 0x08) {
    fail(path, ": IDX value type 0x", std::hex, int(magic[2]),
         " is not supported (only unsigned bytes, 0x08)");
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4) fail(path, ": IDX rank ", rank, " is out of range (1 … 4)");

  IdxArray array;
  std::int64_t item_bytes = 1;
  for (int d = 0; d < rank; ++d) {
    unsigned char size[4];
    if (read_fully(file.get(), size, 4, path) != 4) {
      fail(path, ": truncated IDX header (dimension ", d, " of ", rank, " missing)");
    }
    const std::int64_t extent = std::int64_t(size[0]) << 24 | std::int64_t(size[1]) << 16 |
                                std::int64_t(size[2]) << 8 | std::int64_t(size[3]);
    array.dims.push_back(extent);
    if (d > 0) item_bytes *= extent;
  }

  const std::int64_t stored_items = array.dims[0];
  const std::int64_t items = max_items > 0 ? max_items : stored_items;
  if (items > stored_items) {
    fail(path, ": ", items, " items requested but the file holds ", stored_items);
  }
  array.dims[0] = items;
  const std::int64_t bytes = items * item_bytes;
  array.values.resize(static_cast<std::size_t>(bytes));
  const std::size_t got = read_fully(file.get(), array.values.data(), array.values.size(), path);
  if (static_cast<std::int64_t>(got) != bytes) {
    fail(path, ": truncated IDX data (header promises ", stored_items, " items of ", item_bytes,
         " bytes; only ", got / static_cast<std::size_t>(item_bytes), " complete items present)");
  }
  if (items == stored_items) {
    unsigned char extra;
    if (read_fully(file.get(), &extra, 1, path) != 0) {
      fail(path, ": trailing bytes after the ", stored_items, " items the header declares");
    }
  }
  return array;
}

}  // namespace sgdsweep::data
