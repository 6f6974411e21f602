// RAII over HDF5 ids and the handful of typed reads and writes the sweep file needs. Every failing
// call throws Error carrying the HDF5 error stack and the object's path; destructors never throw.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sgdsweep::store::h5 {

// Turns off HDF5's own printing of error stacks: errors reach the user through our exceptions.
void silence_automatic_error_printing();

// Throws Error("<what>: <HDF5 error stack>").
[[noreturn]] void throw_error(const std::string& what);
inline hid_t check(hid_t id, const std::string& what) {
  if (id < 0) throw_error(what);
  return id;
}
inline void check_status(herr_t status, const std::string& what) {
  if (status < 0) throw_error(what);
}

// An owned id, closed by `Close` (H5Fclose, H5Dclose, …).
template <herr_t (*Close)(hid_t)>
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  // Closes now and reports failure (a file's close is where buffered metadata reaches the disk).
  void close(const std::string& what) {
    if (id_ < 0) return;
    const herr_t status = Close(std::exchange(id_, H5I_INVALID_HID));
    check_status(status, what);
  }

 private:
  void reset() noexcept {
    if (id_ >= 0) Close(std::exchange(id_, H5I_INVALID_HID));
  }
  hid_t id_ = H5I_INVALID_HID;
};

using File = Id<H5Fclose>;
using Dataset = Id<H5Dclose>;
using Dataspace = Id<H5Sclose>;
using Datatype = Id<H5Tclose>;
using PropertyList = Id<H5Pclose>;
using Attribute = Id<H5Aclose>;

// The native HDF5 type of a C++ scalar type.
template <class T>
hid_t native_type();
template <> inline hid_t native_type<std::int8_t>() { return H5T_NATIVE_INT8; }
template <> inline hid_t native_type<std::int32_t>() { return H5T_NATIVE_INT32; }
template <> inline hid_t native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> inline hid_t native_type<std::uint64_t>() { return H5T_NATIVE_UINT64; }
template <> inline hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }

// A fixed-length, NUL-padded UTF-8 string type of `length` bytes.
Datatype fixed_string_type(std::size_t length);

// ---- attributes (written at creation, collectively in parallel files) ---------------------------
// A variable-length UTF-8 string, scalar.
void write_attribute(hid_t object, const std::string& name, const std::string& value);
// `count` values of `memory_type` at `values`, stored as `file_type`: a scalar when `scalar`
// (count must be 1), otherwise a 1-D array.
void write_numeric_attribute(hid_t object, const std::string& name, hid_t file_type,
                             hid_t memory_type, const void* values, std::size_t count, bool scalar);
template <class T>
void write_attribute(hid_t object, const std::string& name, const std::vector<T>& values) {
  write_numeric_attribute(object, name, native_type<T>(), native_type<T>(), values.data(),
                          values.size(), false);
}
template <class T>
void write_attribute(hid_t object, const std::string& name, T value) {
  write_numeric_attribute(object, name, native_type<T>(), native_type<T>(), &value, 1, true);
}

bool has_attribute(hid_t object, const std::string& name);
// Whether `object` (a file or group) has a link `name` (a dataset written by some version).
bool has_dataset(hid_t object, const std::string& name);
std::string read_string_attribute(hid_t object, const std::string& name);
template <class T>
std::vector<T> read_attribute(hid_t object, const std::string& name);

// ---- datasets -----------------------------------------------------------------------------------
Dataset open_dataset(hid_t file, const std::string& name);
std::vector<hsize_t> extent(hid_t dataset);

// Writes `values` into the hyperslab [offset, offset + count) of a dataset (rank 1 or 2).
void write_slab(hid_t dataset, hid_t memory_type, const void* values,
                const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                const std::string& what);
template <class T>
void write_slab(hid_t dataset, const std::vector<T>& values, const std::vector<hsize_t>& offset,
                const std::vector<hsize_t>& count, const std::string& what) {
  write_slab(dataset, native_type<T>(), values.data(), offset, count, what);
}

// Reads a whole dataset as T (converted by HDF5), in row-major order.
template <class T>
std::vector<T> read_all(hid_t file, const std::string& name);
std::vector<std::string> read_fixed_strings(hid_t file, const std::string& name);

}  // namespace sgdsweep::store::h5
