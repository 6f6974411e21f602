// The op interface's default implementations: recording by keeping the callable, packs as loops
// over the unpacked ops (the host's packed ops; a GPU backend overrides them with batched
// launches), and the free memory of the node.
#include "ops/backend.hpp"

#include <unistd.h>

#include <fstream>
#include <string>

namespace sgdsweep::ops {
namespace {

class CallableRecording final : public Backend::Recording {
 public:
  explicit CallableRecording(std::function<void()> body) : body_(std::move(body)) {}
  void replay() override { body_(); }

 private:
  std::function<void()> body_;
};

}  // namespace

std::unique_ptr<Backend::Recording> Backend::record(std::function<void()> body) {
  body();
  return std::make_unique<CallableRecording>(std::move(body));
}

void Backend::gemm_packed(std::int64_t pack, Transpose transpose_a, Transpose transpose_b, std::int64_t m,
                          std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
                          std::int64_t stride_a, const float* b, std::int64_t ldb, std::int64_t stride_b,
                          float beta, float* c, std::int64_t ldc, std::int64_t stride_c) {
  for (std::int64_t p = 0; p < pack; ++p) {
    gemm(transpose_a, transpose_b, m, n, k, alpha, a + p * stride_a, lda, b + p * stride_b, ldb, beta,
         c + p * stride_c, ldc);
  }
}

void Backend::add_row_vector_packed(std::int64_t pack, float* y, std::int64_t stride_y, const float* bias,
                                    std::int64_t stride_bias, std::int64_t rows, std::int64_t columns) {
  for (std::int64_t p = 0; p < pack; ++p) add_row_vector(y + p * stride_y, bias + p * stride_bias, rows, columns);
}

void Backend::sum_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t rows,
                              std::int64_t columns, float beta, float* out, std::int64_t stride_out) {
  for (std::int64_t p = 0; p < pack; ++p) sum_rows(x + p * stride_x, rows, columns, beta, out + p * stride_out);
}

void Backend::squared_error_packed(std::int64_t pack, const float* y, std::int64_t stride_y, const float* target,
                                   std::int64_t stride_target, std::int64_t rows, std::int64_t columns,
                                   float* gradient, float gradient_scale, double* loss_sums) {
  for (std::int64_t p = 0; p < pack; ++p) {
    squared_error(y + p * stride_y, target + p * stride_target, rows, columns,
                  gradient ? gradient + p * stride_y : nullptr, gradient_scale, loss_sums + p);
  }
}

void Backend::sgd_update_packed(std::int64_t pack, float* weights, float* gradient, float* velocity,
                                std::int64_t stride, std::int64_t count, const float* learning_rates,
                                float momentum, float l2) {
  for (std::int64_t p = 0; p < pack; ++p) {
    sgd_update(weights + p * stride, gradient + p * stride, velocity ? velocity + p * stride : nullptr, count,
               learning_rates + p, momentum, l2);
  }
}

std::size_t Backend::free_memory_bytes() const {
  // MemAvailable of /proc/meminfo (kB); the physical pages otherwise.
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::size_t kilobytes = 0;
  while (meminfo >> key >> kilobytes) {
    if (key == "MemAvailable:") return kilobytes * 1024;
    meminfo.ignore(64, '\n');
  }
  return static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE));
}

}  // namespace sgdsweep::ops
