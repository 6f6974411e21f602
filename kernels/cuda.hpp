// The CUDA backend's entry points, as plain C++ (no CUDA header): what src/ops/registry.cpp calls
// when the build has -DSGDSWEEP_CUDA=ON.
#pragma once

#include <memory>
#include <string>

#include "ops/backend.hpp"

namespace sgdsweep::ops {

struct CudaOptions {
  int device = 0;              // CUDA device ordinal
  bool deterministic = true;   // cuDNN: only algorithms that give the same bits run to run
  bool tf32 = false;           // TF32 tensor cores in cuBLAS GEMMs and cuDNN convolutions
};

// GPUs this process can use; 0 with the CUDA runtime's reason in *why when there are none.
int cuda_device_count(std::string* why = nullptr);

// Throws Error when the device cannot be opened.
std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options);

}  // namespace sgdsweep::ops
