// The host backend's class, shared by its implementation files (one per op family): Kokkos
// parallel_for over the host execution space for data-parallel work, CBLAS for matrices, and
// reductions written as fixed-order loops so their bits never depend on the thread count.
#pragma once

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <cstring>

#include "ops/backend.hpp"
#include "ops/portable_math.hpp"

namespace sgdsweep::ops::host {

using ExecutionSpace = Kokkos::DefaultHostExecutionSpace;
using Range = Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>;

using ops::portable_exp;
using ops::portable_sigmoid;

class HostBackend final : public Backend {
 public:
  HostBackend();
  ~HostBackend() override;
  HostBackend(const HostBackend&) = delete;
  HostBackend& operator=(const HostBackend&) = delete;
  std::string name() const override { return "host"; }
  bool host_addressable() const override { return true; }

  // host_backend.cpp: memory, BLAS-like and row ops
  void* allocate_bytes(std::size_t bytes) override;
  void free_bytes(void* pointer) noexcept override;
  void copy_to_device(void* destination, const void* source, std::size_t bytes) override;
  void copy_to_host(void* destination, const void* source, std::size_t bytes) override;
  void copy(void* destination, const void* source, std::size_t bytes) override;
  void fill(float* x, std::int64_t count, float value) override;
  void gemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n,
            std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
            std::int64_t ldb, float beta, float* c, std::int64_t ldc) override;
  void axpby(float alpha, const float* x, float beta, float* y, std::int64_t count) override;
  void dot(const float* x, const float* y, std::int64_t count, float* out) override;
  double sum_of_squares(const float* x, std::int64_t count) override;
  void sum_of_squares_packed(std::int64_t pack, const float* x, std::int64_t stride, std::int64_t count,
                             double* out) override;
  void add_row_vector(float* y, const float* bias, std::int64_t rows, std::int64_t columns) override;
  void sum_rows(const float* x, std::int64_t rows, std::int64_t columns, float beta,
                float* out) override;
  void sgd_update(float* weights, float* gradient, float* velocity, std::int64_t count,
                  const float* learning_rate, float momentum, float l2) override;
  void clip_scales(std::int64_t pack, const double* squares, std::int64_t tensors, double threshold,
                   float* scales) override;

  // elementwise.cpp
  void sigmoid_forward(const float* x, float* y, std::int64_t count) override;
  void sigmoid_backward(const float* y, const float* dy, float* dx, std::int64_t count) override;
  void relu_forward(const float* x, float* y, std::int64_t count) override;
  void relu_backward(const float* y, const float* dy, float* dx, std::int64_t count) override;
  void multiply(const float* a, const float* b, float* y, std::int64_t count) override;
  void add_scaled(const float* a, const float* b, const float* scale, float* y,
                  std::int64_t count) override;
  void dropout_forward(const float* x, float* y, float* mask, std::int64_t count, float probability,
                       std::uint64_t seed, std::uint32_t stream, std::uint64_t first_position) override;
  // Reads each problem's seed and stream where they are (host memory): the unpacked op's masks.
  void dropout_forward_packed(std::int64_t pack, const float* x, float* y, float* mask, std::int64_t stride,
                              std::int64_t count, float probability, const std::uint64_t* seeds,
                              const std::uint32_t* streams, std::uint64_t first_position) override;

  // data.cpp
  void gather_rows_u8(const std::uint8_t* table, std::int64_t columns, const std::int32_t* rows,
                      std::int64_t count, float scale, float* out) override;
  void gather_rows(const float* table, std::int64_t columns, const std::int32_t* rows,
                   std::int64_t count, float* out) override;
  void scatter_add_rows(const float* x, std::int64_t columns, const std::int32_t* rows,
                        std::int64_t count, float* table) override;
  void gather_images_u8(const std::uint8_t* table, std::int64_t height, std::int64_t width,
                        std::int64_t channels, const std::int32_t* rows,
                        const std::int32_t* augmentation, std::int64_t padding, std::int64_t count,
                        const float* mean, const float* inv_std, float* out) override;

  // conv2d.cpp
  void conv2d_forward(const Conv2dShape& shape, const float* x, const float* weights,
                      float* y) override;
  void conv2d_backward_data(const Conv2dShape& shape, const float* dy, const float* weights,
                            float* dx) override;
  void conv2d_backward_filter(const Conv2dShape& shape, const float* x, const float* dy,
                              float* weight_gradient) override;

  // batch_norm.cpp
  void batch_norm_forward_training(const float* x, std::int64_t rows, std::int64_t channels,
                                   const float* gamma, const float* beta, float epsilon, float* y,
                                   float* mean, float* inv_std, float* unbiased_variance) override;
  void batch_norm_forward_inference(const float* x, std::int64_t rows, std::int64_t channels,
                                    const float* gamma, const float* beta,
                                    const float* running_mean, const float* running_variance,
                                    float epsilon, float* y) override;
  void batch_norm_backward(const float* x, const float* dy, std::int64_t rows, std::int64_t channels,
                           const float* gamma, const float* mean, const float* inv_std, float* dx,
                           float* gamma_gradient, float* beta_gradient) override;
  void average_pool_forward(const float* x, std::int64_t batch, std::int64_t pixels,
                            std::int64_t channels, float* y) override;
  void average_pool_backward(const float* dy, std::int64_t batch, std::int64_t pixels,
                             std::int64_t channels, float* dx) override;

  // pooling.cpp
  void max_pool_forward(const Pool2dShape& shape, const float* x, float* y, std::int32_t* argmax) override;
  void max_pool_backward(const Pool2dShape& shape, const float* dy, const std::int32_t* argmax,
                         float* dx) override;

  // lstm_cell.cpp
  void lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h, std::int64_t rows,
                         std::int64_t hidden) override;
  void lstm_cell_backward(const float* gates, const float* c_prev, const float* c, const float* dh,
                          float* dc, float* gate_gradient, std::int64_t rows,
                          std::int64_t hidden) override;

  // losses.cpp
  void squared_error(const float* y, const float* target, std::int64_t rows, std::int64_t columns,
                     float* gradient, float gradient_scale, double* loss_sum) override;
  void softmax_cross_entropy(const float* logits, const std::int32_t* labels, std::int64_t rows,
                             std::int64_t classes, float* gradient, float gradient_scale,
                             double* loss_sum, double* correct) override;

  // Scratch memory for ops that need it (im2col columns): grown on demand, kept for reuse.
  float* workspace(std::size_t count);

 private:
  void* workspace_ = nullptr;
  std::size_t workspace_count_ = 0;
};

}  // namespace sgdsweep::ops::host
