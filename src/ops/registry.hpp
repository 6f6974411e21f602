// Where backends come from: the process-wide runtime (Kokkos) and a backend by device name.
// The only place in src/ that knows which backends were compiled in.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ops/backend.hpp"

namespace sgdsweep::ops {

// Initialises the host runtime (Kokkos) for the life of the process; create one in main().
class Runtime {
 public:
  Runtime();
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
};

// Device names this build can run: always "host"; "cuda" when built with -DSGDSWEEP_CUDA=ON.
std::vector<std::string> available_devices();

// A backend for `device`; throws Error naming the available devices when it is not built in.
std::unique_ptr<Backend> make_backend(const std::string& device);

}  // namespace sgdsweep::ops
