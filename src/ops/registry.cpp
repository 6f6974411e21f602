// Backend registry: maps device names to backend factories and owns Kokkos' lifetime.
#include "ops/registry.hpp"

#include <Kokkos_Core.hpp>

#include "ops/host_backend.hpp"
#include "util/error.hpp"
#if defined(SGDSWEEP_HAVE_CUDA)
#include "cuda.hpp"
#endif

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

std::vector<std::string> available_devices() {
#if defined(SGDSWEEP_HAVE_CUDA)
  return {"host", "cuda"};
#else
  return {"host"};
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& device, const DeviceOptions& options) {
  if (device == "host") return make_host_backend();
#if defined(SGDSWEEP_HAVE_CUDA)
  if (device == "cuda") {
    std::string why;
    const int gpus = cuda_device_count(&why);
    if (gpus == 0) {
      fail("device 'cuda': this build has the CUDA backend, but no GPU is usable here (", why,
           "); run on a GPU node, or use device = \"host\"");
    }
    CudaOptions cuda;
    cuda.device = options.node_rank % gpus;
    cuda.deterministic = options.deterministic;
    cuda.tf32 = options.tf32;
    return make_cuda_backend(cuda);
  }
#else
  (void)options;
#endif
  std::string valid;
  for (const auto& name : available_devices()) valid += (valid.empty() ? "" : ", ") + name;
  fail("device '", device, "' is not available in this build (available: ", valid, ")");
}

}  // namespace sgdsweep::ops
