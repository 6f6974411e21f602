// Host backend: construction, memory, BLAS-level ops, row ops and the optimizer update.
#include "ops/host/host_backend.hpp"

#include <cblas.h>

#include <algorithm>

#include "ops/host_backend.hpp"
#include "ops/portable_math.hpp"
#include "util/error.hpp"

namespace sgdsweep::ops {

std::unique_ptr<Backend> make_host_backend() { return std::make_unique<host::HostBackend>(); }

namespace host {

HostBackend::HostBackend() {
#if defined(OPENBLAS_VERSION)
  // One rank per core: a threaded BLAS inside a rank would oversubscribe the node and make
  // results depend on the thread count.
  openblas_set_num_threads(1);
#endif
}

HostBackend::~HostBackend() {
  if (workspace_) free_bytes(workspace_);
}

void* HostBackend::allocate_bytes(std::size_t bytes) {
  refuse_inside_recording("allocating memory");
  void* pointer = nullptr;
  try {
    pointer = Kokkos::kokkos_malloc<Kokkos::HostSpace>("sgdsweep::buffer", bytes);
  } catch (const std::exception& e) {
    fail("host backend: cannot allocate ", bytes, " bytes (", e.what(), ")");
  }
  if (!pointer) fail("host backend: cannot allocate ", bytes, " bytes");
  std::memset(pointer, 0, bytes);
  return pointer;
}

void HostBackend::free_bytes(void* pointer) noexcept {
  if (refuse_free_inside_recording()) return;  // the recording fails after its body
  Kokkos::kokkos_free<Kokkos::HostSpace>(pointer);
}

void HostBackend::copy_to_device(void* destination, const void* source, std::size_t bytes) {
  refuse_inside_recording("a copy from the host");
  std::memcpy(destination, source, bytes);
}
void HostBackend::copy_to_host(void* destination, const void* source, std::size_t bytes) {
  refuse_inside_recording("a copy to the host");
  std::memcpy(destination, source, bytes);
}
void HostBackend::copy(void* destination, const void* source, std::size_t bytes) {
  std::memmove(destination, source, bytes);
}

float* HostBackend::workspace(std::size_t count) {
  if (count > workspace_count_) {
    if (workspace_) free_bytes(workspace_);
    workspace_ = nullptr;
    workspace_ = allocate_bytes(count * sizeof(float));
    workspace_count_ = count;
  }
  return static_cast<float*>(workspace_);
}

void HostBackend::fill(float* x, std::int64_t count, float value) {
  Kokkos::parallel_for("sgdsweep::fill", Range(0, count), [=](std::int64_t i) { x[i] = value; });
}

void HostBackend::gemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n,
                       std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                       std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, transpose_a == Transpose::yes ? CblasTrans : CblasNoTrans,
              transpose_b == Transpose::yes ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

void HostBackend::axpby(float alpha, const float* x, float beta, float* y, std::int64_t count) {
  Kokkos::parallel_for("sgdsweep::axpby", Range(0, count),
                       [=](std::int64_t i) { y[i] = alpha * x[i] + beta * y[i]; });
}

void HostBackend::dot(const float* x, const float* y, std::int64_t count, float* out) {
  double total = 0.0;
  for (std::int64_t i = 0; i < count; ++i) total += static_cast<double>(x[i]) * y[i];
  *out = static_cast<float>(total);
}

double HostBackend::sum_of_squares(const float* x, std::int64_t count) {
  double total = 0.0;
  for (std::int64_t i = 0; i < count; ++i) total += static_cast<double>(x[i]) * x[i];
  return total;
}

void HostBackend::sum_of_squares_packed(std::int64_t pack, const float* x, std::int64_t stride, std::int64_t count,
                                        double* out) {
  for (std::int64_t p = 0; p < pack; ++p) out[p] = sum_of_squares(x + p * stride, count);
}

void HostBackend::add_row_vector(float* y, const float* bias, std::int64_t rows, std::int64_t columns) {
  Kokkos::parallel_for("sgdsweep::add_row_vector", Range(0, rows), [=](std::int64_t i) {
    float* row = y + i * columns;
    for (std::int64_t j = 0; j < columns; ++j) row[j] += bias[j];
  });
}

void HostBackend::sum_rows(const float* x, std::int64_t rows, std::int64_t columns, float beta,
                           float* out) {
  // Tiles of columns in parallel; within a tile the rows are summed in ascending order, which is
  // the contract (each out[j] is a float sum over i = 0, 1, …, rows−1).
  constexpr std::int64_t kTile = 256;
  const std::int64_t tiles = (columns + kTile - 1) / kTile;
  Kokkos::parallel_for("sgdsweep::sum_rows", Range(0, tiles), [=](std::int64_t tile) {
    const std::int64_t begin = tile * kTile;
    const std::int64_t width = std::min(kTile, columns - begin);
    float sums[kTile] = {};
    for (std::int64_t i = 0; i < rows; ++i) {
      const float* row = x + i * columns + begin;
      for (std::int64_t j = 0; j < width; ++j) sums[j] += row[j];
    }
    for (std::int64_t j = 0; j < width; ++j) {
      out[begin + j] = (beta == 0.0f ? 0.0f : beta * out[begin + j]) + sums[j];
    }
  });
}

void HostBackend::clip_scales(std::int64_t pack, const double* squares, std::int64_t tensors, double threshold,
                              float* scales) {
  for (std::int64_t p = 0; p < pack; ++p) scales[p] = clip_scale(squares, pack, tensors, threshold, p);
}

void HostBackend::sgd_update(float* weights, float* gradient, float* velocity, std::int64_t count,
                             const float* rate, float momentum, float l2) {
  const float learning_rate = *rate;
  if (momentum == 0.0f) {
    Kokkos::parallel_for("sgdsweep::sgd_update", Range(0, count), [=](std::int64_t i) {
      const float g = gradient[i] + l2 * weights[i];
      gradient[i] = g;
      weights[i] -= learning_rate * g;
    });
  } else {
    Kokkos::parallel_for("sgdsweep::momentum_update", Range(0, count), [=](std::int64_t i) {
      const float g = gradient[i] + l2 * weights[i];
      gradient[i] = g;
      const float v = momentum * velocity[i] + g;
      velocity[i] = v;
      weights[i] -= learning_rate * v;
    });
  }
}

}  // namespace host
}  // namespace sgdsweep::ops
