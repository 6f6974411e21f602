// Backend registry: maps device names to backend factories and owns Kokkos' lifetime.
#include "ops/registry.hpp"

#include <Kokkos_Core.hpp>

#include "ops/host_backend.hpp"
#include "util/error.hpp"

namespace sgdsweep::ops {

Runtime::Runtime() {
  // No command-line arguments for Kokkos: ours are parsed by CLI11, and Kokkos would answer
  // --help with its own page.
  if (!Kokkos::is_initialized()) {
    int argc = 1;
    char name[] = "sgdsweep";
    char* argv[] = {name, nullptr};
    Kokkos::initialize(argc, argv);
  }
}

Runtime::~Runtime() {
  if (Kokkos::is_initialized()) Kokkos::finalize();
}

std::vector<std::string> available_devices() { return {"host"}; }

std::unique_ptr<Backend> make_backend(const std::string& device) {
  if (device == "host") return make_host_backend();
  std::string valid;
  for (const auto& name : available_devices()) valid += (valid.empty() ? "" : ", ") + name;
  fail("device '", device, "' is not available in this build (available: ", valid, ")");
}

}  // namespace sgdsweep::ops
