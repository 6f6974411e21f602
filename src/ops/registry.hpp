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

// How a rank opens its device. The host backend ignores all of it.
struct DeviceOptions {
  int node_rank = 0;           // this rank's index among the ranks of its node: GPU node_rank mod GPUs
  bool deterministic = true;   // cuda: only cuDNN algorithms that repeat bit for bit
  bool tf32 = false;           // cuda: TF32 tensor cores in GEMMs and convolutions
};

// A backend for `device`; throws Error naming the available devices when it is not built in, and
// saying why when the build has it but the machine has no GPU.
std::unique_ptr<Backend> make_backend(const std::string& device, const DeviceOptions& options = {});

}  // namespace sgdsweep::ops
