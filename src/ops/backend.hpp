// The op interface: every computation a model does, as calls on a Backend. Models and layers see
// raw device pointers and these ops only, never a Kokkos View, a CUDA stream or a cuDNN handle.
// The host backend (Kokkos + CBLAS, host_backend.cpp) is the reference the CUDA backend
// (kernels/) is tested against.
//
// Conventions: matrices are row-major and dense (leading dimension = columns) unless an explicit
// leading dimension is given; `rows` is the batch dimension. All pointers are backend memory
// (allocated through the same backend). Ops are asynchronous on a GPU backend except where they
// return a value or copy to the host. Reductions are deterministic: a fixed order, whatever the
// thread count, so a trial's arithmetic does not depend on where it runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace sgdsweep::ops {

enum class Transpose : bool { no = false, yes = true };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- memory ---------------------------------------------------------------------------------
  // Zero-filled, 64-byte aligned. Throws Error when the memory is not there.
  virtual void* allocate_bytes(std::size_t bytes) = 0;
  virtual void free_bytes(void* pointer) noexcept = 0;
  virtual void copy_to_device(void* device_destination, const void* host_source, std::size_t bytes) = 0;
  virtual void copy_to_host(void* host_destination, const void* device_source, std::size_t bytes) = 0;
  virtual void copy(void* destination, const void* source, std::size_t bytes) = 0;  // device to device
  virtual void fill(float* x, std::int64_t count, float value) = 0;
  virtual void synchronize() {}

  // ---- linear algebra ---------------------------------------------------------------------------
  // C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C, with leading dimensions lda, ldb, ldc.
  virtual void gemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n,
                    std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                    std::int64_t ldb, float beta, float* c, std::int64_t ldc) = 0;

  // y[i, :] += bias[:] for each of `rows` rows of `columns` values.
  virtual void add_row_vector(float* y, const float* bias, std::int64_t rows, std::int64_t columns) = 0;
  // out[j] = beta · out[j] + Σ_i x[i, j], the sum over i in ascending order.
  virtual void sum_rows(const float* x, std::int64_t rows, std::int64_t columns, float beta,
                        float* out) = 0;

  // ---- elementwise --------------------------------------------------------------------------------
  // y = 1 / (1 + exp(−x))
  virtual void sigmoid_forward(const float* x, float* y, std::int64_t count) = 0;
  // dx = dy · y · (1 − y), from the forward output y.
  virtual void sigmoid_backward(const float* y, const float* dy, float* dx, std::int64_t count) = 0;

  // ---- data ---------------------------------------------------------------------------------------
  // out[i, :] = scale · table[rows[i], :] for i < count: gathers a minibatch of byte-valued
  // examples (pixels) and converts them to float.
  virtual void gather_rows_u8(const std::uint8_t* table, std::int64_t columns,
                              const std::int32_t* rows, std::int64_t count, float scale,
                              float* out) = 0;

  // ---- losses -------------------------------------------------------------------------------------
  // Squared error of `rows` examples of `columns` values: *loss_sum = Σ_i Σ_j (y − t)² (a double in
  // backend memory; the sum over j within a row, then over rows in ascending order). When
  // `gradient` is not null it receives dL/dy = gradient_scale · 2 · (y − t).
  virtual void squared_error(const float* y, const float* target, std::int64_t rows,
                             std::int64_t columns, float* gradient, float gradient_scale,
                             double* loss_sum) = 0;

  // ---- optimizer ----------------------------------------------------------------------------------
  // Heavy-ball SGD in PyTorch's form, with L2 added to the gradient:
  //   g ← g + l2 · w;   v ← momentum · v + g;   w ← w − learning_rate · v.
  // With momentum == 0 the velocity is not touched (may be null): w ← w − learning_rate · g.
  virtual void sgd_update(float* weights, float* gradient, float* velocity, std::int64_t count,
                          float learning_rate, float momentum, float l2) = 0;

  // ---- reductions ---------------------------------------------------------------------------------
  // Σ x² in double, in a fixed order (for diagnostics and gradient norms).
  virtual double sum_of_squares(const float* x, std::int64_t count) = 0;
};

// Backend memory of `count` values of T, owned: freed through its backend when destroyed.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, std::size_t count)
      : backend_(&backend),
        data_(static_cast<T*>(count ? backend.allocate_bytes(count * sizeof(T)) : nullptr)),
        count_(count) {}
  ~Buffer() { reset(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept
      : backend_(other.backend_), data_(std::exchange(other.data_, nullptr)),
        count_(std::exchange(other.count_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      reset();
      backend_ = other.backend_;
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return count_; }

  void upload(const T* host, std::size_t count, std::size_t offset = 0) {
    backend_->copy_to_device(data_ + offset, host, count * sizeof(T));
  }
  void download(T* host, std::size_t count, std::size_t offset = 0) const {
    backend_->copy_to_host(host, data_ + offset, count * sizeof(T));
  }

 private:
  void reset() noexcept {
    if (data_) backend_->free_bytes(data_);
    data_ = nullptr;
    count_ = 0;
  }

  Backend* backend_ = nullptr;
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace sgdsweep::ops
