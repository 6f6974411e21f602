// The IDX reader on files the test writes: plain and gzip, limits, and every malformed case
// (missing, wrong magic, wrong type, truncated header, truncated data, trailing bytes).
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "data/idx.hpp"
#include "data/image_set.hpp"
#include "test_support.hpp"

namespace {

using sgdsweep::testing::expect_error;
using sgdsweep::testing::TemporaryFolder;

// An IDX byte array of `items` images of rows × cols, pixel (i, j) = (7·i + j) mod 256.
std::string idx_images(std::uint32_t items, std::uint32_t rows, std::uint32_t cols) {
  std::string bytes = {0, 0, 0x08, 3};
  for (std::uint32_t d : {items, rows, cols}) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(d >> shift));
  }
  for (std::uint32_t i = 0; i < items; ++i) {
    for (std::uint32_t j = 0; j < rows * cols; ++j) bytes.push_back(static_cast<char>((7 * i + j) % 256));
  }
  return bytes;
}

void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(file);
}

}  // namespace

TEST(Idx, ReadsPlainAndGzipAlike) {
  TemporaryFolder folder;
  const std::string bytes = idx_images(5, 4, 3);
  write_plain(folder.file("plain.idx"), bytes);
  write_gzip(folder.file("packed.idx.gz"), bytes);
  for (const std::string name : {"plain.idx", "packed.idx.gz"}) {
    const auto array = sgdsweep::data::read_idx(folder.file(name));
    EXPECT_EQ(array.dims, (std::vector<std::int64_t>{5, 4, 3})) << name;
    ASSERT_EQ(array.values.size(), 60u);
    EXPECT_EQ(array.values[12 + 5], (7 * 1 + 5) % 256);
  }
}

TEST(Idx, LimitReadsOnlyTheFirstItems) {
  TemporaryFolder folder;
  write_gzip(folder.file("images.gz"), idx_images(10, 2, 2));
  const auto images = sgdsweep::data::load_idx_images(folder.file("images.gz"), 3);
  EXPECT_EQ(images.count, 3);
  EXPECT_EQ(images.features, 4);
  EXPECT_EQ(images.pixels.size(), 12u);
  expect_error([&] { sgdsweep::data::read_idx(folder.file("images.gz"), 11); },
               {"images.gz", "11 items requested", "holds 10"});
}

TEST(Idx, MissingFileNamesIt) {
  TemporaryFolder folder;
  expect_error([&] { sgdsweep::data::read_idx(folder.file("nope.gz")); }, {"nope.gz", "cannot open"});
  expect_error([&] { sgdsweep::data::mnist_images_path(folder.path().string(), "train"); },
               {"train-images-idx3-ubyte.gz", "missing data file"});
}

TEST(Idx, WrongMagicIsRejected) {
  TemporaryFolder folder;
  std::string bytes = idx_images(2, 2, 2);
  bytes[0] = 'P';  // e.g. a PNG or text file
  write_plain(folder.file("bad.idx"), bytes);
  expect_error([&] { sgdsweep::data::read_idx(folder.file("bad.idx")); }, {"bad.idx", "not an IDX file"});
  bytes = idx_images(2, 2, 2);
  bytes[2] = 0x0D;  // float data
  write_plain(folder.file("float.idx"), bytes);
  expect_error([&] { sgdsweep::data::read_idx(folder.file("float.idx")); },
               {"float.idx", "0xd", "not supported"});
}

TEST(Idx, TruncatedHeaderAndDataAreRejected) {
  TemporaryFolder folder;
  const std::string bytes = idx_images(4, 3, 3);
  write_plain(folder.file("header.idx"), bytes.substr(0, 9));
  expect_error([&] { sgdsweep::data::read_idx(folder.file("header.idx")); },
               {"header.idx", "truncated IDX header"});
  write_gzip(folder.file("data.gz"), bytes.substr(0, bytes.size() - 10));
  expect_error([&] { sgdsweep::data::read_idx(folder.file("data.gz")); },
               {"data.gz", "truncated IDX data", "promises 4 items", "only 2 complete"});
  // A gzip stream cut in the middle (a partial download).
  write_gzip(folder.file("whole.gz"), idx_images(200, 28, 28));
  std::ifstream in(folder.file("whole.gz"), std::ios::binary);
  std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_plain(folder.file("cut.gz"), packed.substr(0, packed.size() / 2));
  expect_error([&] { sgdsweep::data::read_idx(folder.file("cut.gz")); }, {"cut.gz"});
}

TEST(Idx, TrailingBytesAreRejected) {
  TemporaryFolder folder;
  write_plain(folder.file("long.idx"), idx_images(2, 2, 2) + "xyz");
  expect_error([&] { sgdsweep::data::read_idx(folder.file("long.idx")); }, {"long.idx", "trailing bytes"});
}

TEST(Idx, ImageLoaderWantsThreeDimensions) {
  TemporaryFolder folder;
  write_plain(folder.file("labels.idx"), std::string{0, 0, 0x08, 1, 0, 0, 0, 2, 3, 4});
  EXPECT_EQ(sgdsweep::data::read_idx(folder.file("labels.idx")).values.size(), 2u);
  expect_error([&] { sgdsweep::data::load_idx_images(folder.file("labels.idx"), 0); },
               {"labels.idx", "3 dimensions"});
}
