// HDF5 helpers: error stacks as exceptions, attributes, hyperslab writes, whole-dataset reads.
#include "store/h5.hpp"

#include <algorithm>

#include "util/error.hpp"

namespace sgdsweep::store::h5 {

void silence_automatic_error_printing() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {
herr_t collect_error(unsigned depth, const H5E_error2_t* error, void* client) {
  auto* text = static_cast<std::string*>(client);
  if (depth < 4) {  // the innermost frames say what actually went wrong
    *text += concat("\n    ", error->func_name, ": ", error->desc ? error->desc : "");
  }
  return 0;
}
}  // namespace

void throw_error(const std::string& what) {
  std::string stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &stack);
  H5Eclear2(H5E_DEFAULT);
  fail(what, stack.empty() ? "" : " (HDF5:", stack, stack.empty() ? "" : ")");
}

Datatype fixed_string_type(std::size_t length) {
  Datatype type(check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_status(H5Tset_size(type.get(), length), "H5Tset_size");
  check_status(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  Datatype type(check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check_status(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  check_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  Dataspace space(check(H5Screate(H5S_SCALAR), "H5Screate"));
  Attribute attribute(check(
      H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
      "creating attribute " + name));
  const char* text = value.c_str();
  check_status(H5Awrite(attribute.get(), type.get(), &text), "writing attribute " + name);
}

void write_numeric_attribute(hid_t object, const std::string& name, hid_t file_type,
                             hid_t memory_type, const void* values, std::size_t count, bool scalar) {
  const hsize_t size = count;
  Dataspace space(check(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &size, nullptr),
                        "creating the dataspace of attribute " + name));
  Attribute attribute(check(
      H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      "creating attribute " + name));
  check_status(H5Awrite(attribute.get(), memory_type, values), "writing attribute " + name);
}

bool has_attribute(hid_t object, const std::string& name) {
  const htri_t exists = H5Aexists(object, name.c_str());
  if (exists < 0) throw_error("checking attribute " + name);
  return exists > 0;
}

bool has_dataset(hid_t object, const std::string& name) {
  const htri_t exists = H5Lexists(object, name.c_str(), H5P_DEFAULT);
  if (exists < 0) throw_error("checking dataset " + name);
  return exists > 0;
}

std::string read_string_attribute(hid_t object, const std::string& name) {
  Attribute attribute(check(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute " + name));
  Datatype stored(check(H5Aget_type(attribute.get()), "H5Aget_type"));
  if (H5Tget_class(stored.get()) != H5T_STRING) fail("attribute ", name, " is not a string");
  if (H5Tis_variable_str(stored.get()) > 0) {
    Datatype type(check(H5Tcopy(H5T_C_S1), "H5Tcopy"));
    check_status(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
    check_status(H5Tset_cset(type.get(), H5Tget_cset(stored.get())), "H5Tset_cset");
    char* text = nullptr;
    check_status(H5Aread(attribute.get(), type.get(), &text), "reading attribute " + name);
    std::string value = text ? text : "";
    Dataspace space(check(H5Aget_space(attribute.get()), "H5Aget_space"));
    H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, &text);
    return value;
  }
  const std::size_t size = H5Tget_size(stored.get());
  std::string value(size, '\0');
  check_status(H5Aread(attribute.get(), stored.get(), value.data()), "reading attribute " + name);
  value.erase(std::find(value.begin(), value.end(), '\0'), value.end());
  return value;
}

template <class T>
std::vector<T> read_attribute(hid_t object, const std::string& name) {
  Attribute attribute(check(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute " + name));
  Dataspace space(check(H5Aget_space(attribute.get()), "H5Aget_space"));
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) throw_error("sizing attribute " + name);
  std::vector<T> values(static_cast<std::size_t>(count));
  check_status(H5Aread(attribute.get(), native_type<T>(), values.data()), "reading attribute " + name);
  return values;
}
template std::vector<std::int8_t> read_attribute(hid_t, const std::string&);
template std::vector<std::int32_t> read_attribute(hid_t, const std::string&);
template std::vector<std::int64_t> read_attribute(hid_t, const std::string&);
template std::vector<double> read_attribute(hid_t, const std::string&);

Dataset open_dataset(hid_t file, const std::string& name) {
  return Dataset(check(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "opening dataset /" + name));
}

std::vector<hsize_t> extent(hid_t dataset) {
  Dataspace space(check(H5Dget_space(dataset), "H5Dget_space"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw_error("H5Sget_simple_extent_ndims");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

void write_slab(hid_t dataset, hid_t memory_type, const void* values,
                const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                const std::string& what) {
  Dataspace file_space(check(H5Dget_space(dataset), "H5Dget_space"));
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset.data(), nullptr,
                                   count.data(), nullptr),
               what + ": selecting the hyperslab");
  Dataspace memory_space(check(
      H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), "H5Screate_simple"));
  check_status(H5Dwrite(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT,
                        values),
               what);
}

template <class T>
std::vector<T> read_all(hid_t file, const std::string& name) {
  Dataset dataset = open_dataset(file, name);
  std::size_t count = 1;
  for (hsize_t d : extent(dataset.get())) count *= d;
  std::vector<T> values(count);
  if (count) {
    check_status(H5Dread(dataset.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                         values.data()),
                 "reading dataset /" + name);
  }
  return values;
}
template std::vector<std::int8_t> read_all(hid_t, const std::string&);
template std::vector<std::int32_t> read_all(hid_t, const std::string&);
template std::vector<std::int64_t> read_all(hid_t, const std::string&);
template std::vector<std::uint64_t> read_all(hid_t, const std::string&);
template std::vector<float> read_all(hid_t, const std::string&);
template std::vector<double> read_all(hid_t, const std::string&);

std::vector<std::string> read_fixed_strings(hid_t file, const std::string& name) {
  Dataset dataset = open_dataset(file, name);
  Datatype stored(check(H5Dget_type(dataset.get()), "H5Dget_type"));
  const std::size_t length = H5Tget_size(stored.get());
  const std::vector<hsize_t> dims = extent(dataset.get());
  const std::size_t count = dims.empty() ? 1 : dims[0];
  std::vector<char> buffer(count * length);
  if (count) {
    check_status(H5Dread(dataset.get(), stored.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
                 "reading dataset /" + name);
  }
  std::vector<std::string> values;
  for (std::size_t i = 0; i < count; ++i) {
    std::string value(buffer.data() + i * length, length);
    value.erase(std::find(value.begin(), value.end(), '\0'), value.end());
    values.push_back(value);
  }
  return values;
}

}  // namespace sgdsweep::store::h5
