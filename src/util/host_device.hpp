// SGDSWEEP_HOST_DEVICE marks inline functions that the host compiler and nvcc both compile (the
// CUDA backend in kernels/ calls them from its kernels); empty outside nvcc.
#pragma once

#if defined(__CUDACC__)
#define SGDSWEEP_HOST_DEVICE __host__ __device__
#else
#define SGDSWEEP_HOST_DEVICE
#endif
