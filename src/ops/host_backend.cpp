// Host implementation of the op interface (see backend.hpp for each op's contract): Kokkos
// parallel_for over the host execution space for elementwise work, CBLAS sgemm for matrices, and
// reductions written as fixed-order loops so their bits never depend on the thread count.
#include "ops/host_backend.hpp"

#include <cblas.h>

#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstring>

#include "util/error.hpp"

namespace sgdsweep::ops {
namespace {

using HostSpace = Kokkos::DefaultHostExecutionSpace;
using Range = Kokkos::RangePolicy<HostSpace, Kokkos::IndexType<std::int64_t>>;

// exp(x) in single precision from IEEE basic operations only: Cody–Waite reduction by ln 2 and
// Cephes' expf polynomial (relative error below 2e-7 on [−87, 88]; tested against std::exp).
// Unlike libm's expf it vectorizes, and it gives the same bits on every machine, vector width
// and (written the same way in CUDA) on the GPU. Arguments are clamped so that 2^n stays normal.
inline float portable_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5·2^23: adding it rounds to the nearest integer
  const float n = (x * 1.44269504088896341f + kRoundMagic) - kRoundMagic;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // x − n·ln 2 in two parts
  const float polynomial =
      (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
         4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * (r * r) + r + 1.0f;
  const std::int32_t exponent_bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float two_to_n;
  std::memcpy(&two_to_n, &exponent_bits, sizeof two_to_n);
  return polynomial * two_to_n;
}

class HostBackend final : public Backend {
 public:
  HostBackend() {
#if defined(OPENBLAS_VERSION)
    // One rank per core: a threaded BLAS inside a rank would oversubscribe the node and make
    // results depend on the thread count.
    openblas_set_num_threads(1);
#endif
  }

  std::string name() const override { return "host"; }

  void* allocate_bytes(std::size_t bytes) override {
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
  void free_bytes(void* pointer) noexcept override { Kokkos::kokkos_free<Kokkos::HostSpace>(pointer); }
  void copy_to_device(void* destination, const void* source, std::size_t bytes) override {
    std::memcpy(destination, source, bytes);
  }
  void copy_to_host(void* destination, const void* source, std::size_t bytes) override {
    std::memcpy(destination, source, bytes);
  }
  void copy(void* destination, const void* source, std::size_t bytes) override {
    std::memcpy(destination, source, bytes);
  }
  void fill(float* x, std::int64_t count, float value) override {
    Kokkos::parallel_for("sgdsweep::fill", Range(0, count), [=](std::int64_t i) { x[i] = value; });
  }

  void gemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n,
            std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
            std::int64_t ldb, float beta, float* c, std::int64_t ldc) override {
    cblas_sgemm(CblasRowMajor, transpose_a == Transpose::yes ? CblasTrans : CblasNoTrans,
                transpose_b == Transpose::yes ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
                static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
  }

  void add_row_vector(float* y, const float* bias, std::int64_t rows, std::int64_t columns) override {
    Kokkos::parallel_for("sgdsweep::add_row_vector", Range(0, rows), [=](std::int64_t i) {
      float* row = y + i * columns;
      for (std::int64_t j = 0; j < columns; ++j) row[j] += bias[j];
    });
  }

  void sum_rows(const float* x, std::int64_t rows, std::int64_t columns, float beta,
                float* out) override {
    // Tiles of columns in parallel; within a tile the rows are summed in ascending order, which
    // is the contract (each out[j] is a float sum over i = 0, 1, …, rows−1).
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

  void sigmoid_forward(const float* x, float* y, std::int64_t count) override {
    Kokkos::parallel_for("sgdsweep::sigmoid_forward", Range(0, count),
                         [=](std::int64_t i) { y[i] = 1.0f / (1.0f + portable_exp(-x[i])); });
  }

  void sigmoid_backward(const float* y, const float* dy, float* dx, std::int64_t count) override {
    Kokkos::parallel_for("sgdsweep::sigmoid_backward", Range(0, count),
                         [=](std::int64_t i) { dx[i] = dy[i] * (y[i] * (1.0f - y[i])); });
  }

  void gather_rows_u8(const std::uint8_t* table, std::int64_t columns, const std::int32_t* rows,
                      std::int64_t count, float scale, float* out) override {
    Kokkos::parallel_for("sgdsweep::gather_rows_u8", Range(0, count), [=](std::int64_t i) {
      const std::uint8_t* source = table + static_cast<std::int64_t>(rows[i]) * columns;
      float* destination = out + i * columns;
      for (std::int64_t j = 0; j < columns; ++j) destination[j] = scale * source[j];
    });
  }

  void squared_error(const float* y, const float* target, std::int64_t rows, std::int64_t columns,
                     float* gradient, float gradient_scale, double* loss_sum) override {
    double total = 0.0;
    for (std::int64_t i = 0; i < rows; ++i) {
      double row_sum = 0.0;
      const float* yi = y + i * columns;
      const float* ti = target + i * columns;
      for (std::int64_t j = 0; j < columns; ++j) {
        const float difference = yi[j] - ti[j];
        row_sum += static_cast<double>(difference) * difference;
        if (gradient) gradient[i * columns + j] = gradient_scale * (2.0f * difference);
      }
      total += row_sum;
    }
    *loss_sum = total;
  }

  void sgd_update(float* weights, float* gradient, float* velocity, std::int64_t count,
                  float learning_rate, float momentum, float l2) override {
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

  double sum_of_squares(const float* x, std::int64_t count) override {
    double total = 0.0;
    for (std::int64_t i = 0; i < count; ++i) total += static_cast<double>(x[i]) * x[i];
    return total;
  }
};

}  // namespace

std::unique_ptr<Backend> make_host_backend() { return std::make_unique<HostBackend>(); }

}  // namespace sgdsweep::ops
