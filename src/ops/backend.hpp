// The op interface: every computation a model does, as calls on a Backend. Models and layers see
// raw device pointers and these ops only, never a Kokkos View, a CUDA stream or a cuDNN handle.
// The host backend (Kokkos + CBLAS, src/ops/host/) is the reference the CUDA backend (kernels/)
// is tested against.
//
// Conventions: matrices are row-major and dense (leading dimension = columns) unless an explicit
// leading dimension is given; `rows` is the batch dimension (for images: batch·height·width, the
// layout is NHWC, channels fastest). All pointers are backend memory (allocated through the same
// backend). Outputs are overwritten unless the op says it accumulates. Ops are asynchronous on a
// GPU backend except where they return a value to the host. Reductions are deterministic: a fixed
// order whatever the thread count, so a trial's arithmetic does not depend on where it runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace sgdsweep::ops {

enum class Transpose : bool { no = false, yes = true };

// A 2-D convolution over NHWC images. Weights are [out_channels, kernel, kernel, in_channels]
// (OHWI); the output is [batch, out_height, out_width, out_channels]. Zero padding on all sides.
struct Conv2dShape {
  std::int64_t batch = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t kernel = 3;
  std::int64_t stride = 1;
  std::int64_t padding = 1;
  std::int64_t out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  std::int64_t out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  std::int64_t weight_count() const { return out_channels * kernel * kernel * in_channels; }
};

// A 2-D pooling window over NHWC images [batch, height, width, channels]: kernel × kernel windows
// every `stride` pixels, the image padded by `padding` on every side (padding <= kernel / 2, as
// PyTorch requires, so every window holds a pixel). Output [batch, out_height, out_width, channels].
struct Pool2dShape {
  std::int64_t batch = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t channels = 0;
  std::int64_t kernel = 3;
  std::int64_t stride = 2;
  std::int64_t padding = 1;
  std::int64_t out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  std::int64_t out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  std::int64_t input_count() const { return batch * height * width * channels; }
  std::int64_t output_count() const { return batch * out_height() * out_width() * channels; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // True when backend memory is ordinary host memory (the host backend): MPI and the host may read
  // and write it directly. A GPU backend's memory must be copied through copy_to_host first.
  virtual bool host_addressable() const { return false; }

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
  // y = alpha · x + beta · y
  virtual void axpby(float alpha, const float* x, float beta, float* y, std::int64_t count) = 0;
  // *out = Σ x·y (one float in backend memory; the sum in double, in ascending order).
  virtual void dot(const float* x, const float* y, std::int64_t count, float* out) = 0;
  // Σ x² in double, in ascending order, returned to the host (synchronizes).
  virtual double sum_of_squares(const float* x, std::int64_t count) = 0;

  // y[i, :] += bias[:] for each of `rows` rows of `columns` values.
  virtual void add_row_vector(float* y, const float* bias, std::int64_t rows, std::int64_t columns) = 0;
  // out[j] = beta · out[j] + Σ_i x[i, j], the sum over i in ascending order (in float).
  virtual void sum_rows(const float* x, std::int64_t rows, std::int64_t columns, float beta,
                        float* out) = 0;

  // ---- elementwise ------------------------------------------------------------------------------
  virtual void sigmoid_forward(const float* x, float* y, std::int64_t count) = 0;  // 1/(1+e^−x)
  // dx = dy · y · (1 − y), from the forward output y.
  virtual void sigmoid_backward(const float* y, const float* dy, float* dx, std::int64_t count) = 0;
  virtual void relu_forward(const float* x, float* y, std::int64_t count) = 0;  // max(x, 0)
  // dx = dy where y > 0, else 0 (y: the forward output; dx may alias dy).
  virtual void relu_backward(const float* y, const float* dy, float* dx, std::int64_t count) = 0;
  virtual void multiply(const float* a, const float* b, float* y, std::int64_t count) = 0;  // y = a·b
  // y = a + s · b, s = *scale (one float in backend memory); a null scale means s = 1 and a null
  // `a` means 0 (y = s · b). y may alias a or b.
  virtual void add_scaled(const float* a, const float* b, const float* scale, float* y,
                          std::int64_t count) = 0;
  // Inverted dropout: mask[i] = 0 with probability p, else 1/(1 − p); y = x · mask. Element i at
  // position q = first_position + i draws word q mod 4 of Philox(seed, dropout) at (stream, q / 4)
  // and drops when (word >> 8)·2^−24 < p: the same mask on every backend and for any split of the
  // batch into microbatches.
  virtual void dropout_forward(const float* x, float* y, float* mask, std::int64_t count,
                               float probability, std::uint64_t seed, std::uint32_t stream,
                               std::uint64_t first_position) = 0;

  // ---- data -----------------------------------------------------------------------------------
  // out[i, :] = scale · table[rows[i], :] for i < count (bytes to float).
  virtual void gather_rows_u8(const std::uint8_t* table, std::int64_t columns,
                              const std::int32_t* rows, std::int64_t count, float scale,
                              float* out) = 0;
  // out[i, :] = table[rows[i], :] (embedding lookup).
  virtual void gather_rows(const float* table, std::int64_t columns, const std::int32_t* rows,
                           std::int64_t count, float* out) = 0;
  // table[rows[i], :] += x[i, :] for i = 0, 1, … in order (embedding backward; accumulates).
  virtual void scatter_add_rows(const float* x, std::int64_t columns, const std::int32_t* rows,
                                std::int64_t count, float* table) = 0;
  // Byte images stored NHWC [*, height, width, channels] → float NHWC [count, height, width,
  // channels]: image rows[i], optionally augmented by augmentation[3i .. 3i+2] = (offset_y,
  // offset_x, flip): the window of height × width at (offset_y, offset_x) of the image zero-padded
  // by `padding` on every side, mirrored left-right when flip ≠ 0. A null augmentation means the
  // image as it is. Then (pixel / 255 − mean[c]) · inv_std[c].
  virtual void gather_images_u8(const std::uint8_t* table, std::int64_t height, std::int64_t width,
                                std::int64_t channels, const std::int32_t* rows,
                                const std::int32_t* augmentation, std::int64_t padding,
                                std::int64_t count, const float* mean, const float* inv_std,
                                float* out) = 0;

  // ---- convolution (NHWC, see Conv2dShape) -------------------------------------------------------
  virtual void conv2d_forward(const Conv2dShape& shape, const float* x, const float* weights,
                              float* y) = 0;
  virtual void conv2d_backward_data(const Conv2dShape& shape, const float* dy, const float* weights,
                                    float* dx) = 0;
  virtual void conv2d_backward_filter(const Conv2dShape& shape, const float* x, const float* dy,
                                      float* weight_gradient) = 0;

  // ---- normalisation and pooling -----------------------------------------------------------------
  // Batch normalisation of x [rows, channels] over its rows, training mode: per channel the mean
  // and the biased variance v (sums in double, rows ascending), inv_std = 1/sqrt(v + epsilon),
  // y = gamma·(x − mean)·inv_std + beta; also the unbiased variance v·rows/(rows − 1) (for the
  // running statistics; v when rows = 1).
  virtual void batch_norm_forward_training(const float* x, std::int64_t rows, std::int64_t channels,
                                           const float* gamma, const float* beta, float epsilon,
                                           float* y, float* mean, float* inv_std,
                                           float* unbiased_variance) = 0;
  // Inference mode: y = gamma·(x − running_mean)/sqrt(running_variance + epsilon) + beta.
  virtual void batch_norm_forward_inference(const float* x, std::int64_t rows, std::int64_t channels,
                                            const float* gamma, const float* beta,
                                            const float* running_mean, const float* running_variance,
                                            float epsilon, float* y) = 0;
  // From x, dy and the saved mean and inv_std: dx (may alias dy), dgamma, dbeta.
  virtual void batch_norm_backward(const float* x, const float* dy, std::int64_t rows,
                                   std::int64_t channels, const float* gamma, const float* mean,
                                   const float* inv_std, float* dx, float* gamma_gradient,
                                   float* beta_gradient) = 0;
  // y[b, c] = mean over p of x[b, p, c] (x: [batch, pixels, channels]).
  virtual void average_pool_forward(const float* x, std::int64_t batch, std::int64_t pixels,
                                    std::int64_t channels, float* y) = 0;
  // dx[b, p, c] = dy[b, c] / pixels.
  virtual void average_pool_backward(const float* dy, std::int64_t batch, std::int64_t pixels,
                                     std::int64_t channels, float* dx) = 0;
  // Max pooling (see Pool2dShape): y[b, oy, ox, c] = the largest x[b, iy, ix, c] of the window, the
  // padding never chosen; argmax[b, oy, ox, c] = iy·width + ix of the first largest value in window
  // order (ky, then kx, ascending; a NaN wins and propagates), as PyTorch's max_pool2d picks it.
  virtual void max_pool_forward(const Pool2dShape& shape, const float* x, float* y,
                                std::int32_t* argmax) = 0;
  // dx[b, iy, ix, c] = Σ dy[b, oy, ox, c] over the outputs whose argmax is (iy, ix), added in output
  // order (oy, then ox, ascending); 0 where no output chose the pixel. dx is overwritten.
  virtual void max_pool_backward(const Pool2dShape& shape, const float* dy, const std::int32_t* argmax,
                                 float* dx) = 0;

  // ---- recurrent ----------------------------------------------------------------------------------
  // One LSTM step for `rows` sequences of `hidden` units. gates [rows, 4·hidden] holds the
  // pre-activations in PyTorch's order (input, forget, cell, output); on return it holds the
  // activations (σ, σ, tanh, σ) that backward reads. c = f·c_prev + i·g, h = o·tanh(c).
  virtual void lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h,
                                 std::int64_t rows, std::int64_t hidden) = 0;
  // From the activated gates, c_prev, c, dh = ∂L/∂h and dc = ∂L/∂c (from the next step; on return
  // ∂L/∂c_prev): gate_gradient [rows, 4·hidden] = ∂L/∂(pre-activations).
  virtual void lstm_cell_backward(const float* gates, const float* c_prev, const float* c,
                                  const float* dh, float* dc, float* gate_gradient,
                                  std::int64_t rows, std::int64_t hidden) = 0;

  // ---- losses -------------------------------------------------------------------------------------
  // Squared error of `rows` examples of `columns` values: *loss_sum = Σ_i Σ_j (y − t)² (a double in
  // backend memory; the sum over j within a row, then over rows in ascending order). When
  // `gradient` is not null it receives dL/dy = gradient_scale · 2 · (y − t).
  virtual void squared_error(const float* y, const float* target, std::int64_t rows,
                             std::int64_t columns, float* gradient, float gradient_scale,
                             double* loss_sum) = 0;
  // Softmax cross-entropy of logits [rows, classes] against integer labels: *loss_sum = Σ_i
  // (logsumexp(z_i) − z_i[label_i]) and *correct = the number of rows whose first maximal logit is
  // the label (both doubles in backend memory, rows in ascending order). When `gradient` is not
  // null it receives gradient_scale · (softmax(z) − onehot(label)); it may alias `logits`.
  virtual void softmax_cross_entropy(const float* logits, const std::int32_t* labels,
                                     std::int64_t rows, std::int64_t classes, float* gradient,
                                     float gradient_scale, double* loss_sum, double* correct) = 0;

  // ---- optimizer ----------------------------------------------------------------------------------
  // Heavy-ball SGD in PyTorch's form, with L2 added to the gradient:
  //   g ← g + l2 · w;   v ← momentum · v + g;   w ← w − learning_rate · v.
  // With momentum == 0 the velocity is not touched (may be null): w ← w − learning_rate · g.
  // The rate is one float in backend memory, so that a recorded step reads each step's rate.
  virtual void sgd_update(float* weights, float* gradient, float* velocity, std::int64_t count,
                          const float* learning_rate, float momentum, float l2) = 0;
  // Global-norm clipping factors of `pack` problems, in backend memory: with problem p's norm
  // √(Σ_t squares[t · pack + p]) (doubles, t ascending: its tensors in order), scales[p] ←
  // (float) (threshold / (norm + 1e-6)) where norm > threshold, else 1 (a NaN norm clips nothing).
  // The gradients are then scaled by add_scaled_packed, so clipping needs nothing from the host.
  virtual void clip_scales(std::int64_t pack, const double* squares, std::int64_t tensors, double threshold,
                           float* scales) = 0;

  // ---- packs ------------------------------------------------------------------------------------
  // The same op on `pack` independent problems of one shape, for many small trials trained
  // together (a pack). Problem p reads and writes each operand at p · stride elements from its base
  // pointer; a stride of 0 shares the operand (read-only) between the problems. A problem's result
  // never depends on `pack` or on the other problems: the same bits in a pack of 1 or of 64, and,
  // on the host, the bits of the unpacked op (the default implementations are that loop). A GPU
  // backend issues each as one batched launch.
  virtual void gemm_packed(std::int64_t pack, Transpose transpose_a, Transpose transpose_b, std::int64_t m,
                           std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
                           std::int64_t stride_a, const float* b, std::int64_t ldb, std::int64_t stride_b,
                           float beta, float* c, std::int64_t ldc, std::int64_t stride_c);
  // add_row_vector per problem: y [rows, columns] at p · stride_y, bias [columns] at p · stride_bias.
  virtual void add_row_vector_packed(std::int64_t pack, float* y, std::int64_t stride_y, const float* bias,
                                     std::int64_t stride_bias, std::int64_t rows, std::int64_t columns);
  // sum_rows per problem: x [rows, columns] at p · stride_x, out [columns] at p · stride_out.
  virtual void sum_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t rows,
                               std::int64_t columns, float beta, float* out, std::int64_t stride_out);
  // squared_error per problem: y and gradient at p · stride_y, target at p · stride_target (0: one
  // target for all), the loss into loss_sums[p].
  virtual void squared_error_packed(std::int64_t pack, const float* y, std::int64_t stride_y, const float* target,
                                    std::int64_t stride_target, std::int64_t rows, std::int64_t columns,
                                    float* gradient, float gradient_scale, double* loss_sums);
  // sgd_update per problem: weights, gradient and velocity at p · stride, the rate learning_rates[p].
  virtual void sgd_update_packed(std::int64_t pack, float* weights, float* gradient, float* velocity,
                                 std::int64_t stride, std::int64_t count, const float* learning_rates,
                                 float momentum, float l2);
  // The recurrent model's ops per problem (the LSTM language model in packs): elementwise ones give
  // the unpacked op's bits wherever a problem sits; the reductions keep the unpacked op's order.
  // fill / copy / axpby per problem: x, y at p · stride_x, p · stride_y (copy: floats).
  virtual void fill_packed(std::int64_t pack, float* x, std::int64_t stride, std::int64_t count, float value);
  virtual void copy_packed(std::int64_t pack, float* destination, std::int64_t stride_destination,
                           const float* source, std::int64_t stride_source, std::int64_t count);
  virtual void axpby_packed(std::int64_t pack, float alpha, const float* x, std::int64_t stride_x, float beta,
                            float* y, std::int64_t stride_y, std::int64_t count);
  // sum_of_squares per problem into out[p] (doubles in backend memory; nothing returns to the host).
  virtual void sum_of_squares_packed(std::int64_t pack, const float* x, std::int64_t stride, std::int64_t count,
                                     double* out) = 0;
  // dropout_forward per problem: x, y and mask at p · stride, problem p's seed and stream
  // seeds[p], streams[p] (backend memory), every problem at the same first_position.
  virtual void dropout_forward_packed(std::int64_t pack, const float* x, float* y, float* mask, std::int64_t stride,
                                      std::int64_t count, float probability, const std::uint64_t* seeds,
                                      const std::uint32_t* streams, std::uint64_t first_position) = 0;
  // gather_rows / scatter_add_rows per problem: the table at p · stride_table, the row ids at
  // p · stride_rows, x / out at p · stride_x.
  virtual void gather_rows_packed(std::int64_t pack, const float* table, std::int64_t stride_table,
                                  std::int64_t columns, const std::int32_t* rows, std::int64_t stride_rows,
                                  std::int64_t count, float* out, std::int64_t stride_out);
  virtual void scatter_add_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t columns,
                                       const std::int32_t* rows, std::int64_t stride_rows, std::int64_t count,
                                       float* table, std::int64_t stride_table);
  // lstm_cell_forward / _backward per problem: gates (and gate_gradient) at p · stride_gates,
  // c_prev at p · stride_c_prev, c, h (and dh) at p · stride_state, dc at p · stride_dc.
  virtual void lstm_cell_forward_packed(std::int64_t pack, float* gates, std::int64_t stride_gates,
                                        const float* c_prev, std::int64_t stride_c_prev, float* c, float* h,
                                        std::int64_t stride_state, std::int64_t rows, std::int64_t hidden);
  virtual void lstm_cell_backward_packed(std::int64_t pack, const float* gates, float* gate_gradient,
                                         std::int64_t stride_gates, const float* c_prev, std::int64_t stride_c_prev,
                                         const float* c, const float* dh, std::int64_t stride_state, float* dc,
                                         std::int64_t stride_dc, std::int64_t rows, std::int64_t hidden);
  // softmax_cross_entropy per problem: logits and gradient at p · stride_logits, labels at
  // p · stride_labels, the sums into loss_sums[p] and correct[p].
  virtual void softmax_cross_entropy_packed(std::int64_t pack, const float* logits, std::int64_t stride_logits,
                                            const std::int32_t* labels, std::int64_t stride_labels,
                                            std::int64_t rows, std::int64_t classes, float* gradient,
                                            float gradient_scale, double* loss_sums, double* correct);
  // The Wide-ResNet's ops per problem (the WRN in packs). conv2d_*: x (or dx) at p · stride_x, the
  // weights (or their gradient) at p · stride_weights, y (or dy) at p · stride_y.
  virtual void conv2d_forward_packed(std::int64_t pack, const Conv2dShape& shape, const float* x, std::int64_t stride_x,
                                     const float* weights, std::int64_t stride_weights, float* y, std::int64_t stride_y);
  virtual void conv2d_backward_data_packed(std::int64_t pack, const Conv2dShape& shape, const float* dy,
                                           std::int64_t stride_y, const float* weights, std::int64_t stride_weights,
                                           float* dx, std::int64_t stride_x);
  virtual void conv2d_backward_filter_packed(std::int64_t pack, const Conv2dShape& shape, const float* x,
                                             std::int64_t stride_x, const float* dy, std::int64_t stride_y,
                                             float* weight_gradient, std::int64_t stride_weights);
  // batch_norm_forward_training / _backward per problem: x, y (dy, dx) at p · stride_x; gamma, beta,
  // mean, unbiased_variance and the γ and β gradients at p · stride_parameters; inv_std at
  // p · channels.
  virtual void batch_norm_forward_training_packed(std::int64_t pack, const float* x, std::int64_t stride_x,
                                                  std::int64_t rows, std::int64_t channels, const float* gamma,
                                                  const float* beta, std::int64_t stride_parameters, float epsilon,
                                                  float* y, float* mean, float* inv_std, float* unbiased_variance);
  virtual void batch_norm_backward_packed(std::int64_t pack, const float* x, const float* dy, std::int64_t stride_x,
                                          std::int64_t rows, std::int64_t channels, const float* gamma,
                                          const float* mean, std::int64_t stride_parameters, const float* inv_std,
                                          float* dx, float* gamma_gradient, float* beta_gradient);
  // add_scaled / dot per problem: a, b, y (x, y) at p · stride, the scale (the dot's output) at
  // p · stride_scalar.
  virtual void add_scaled_packed(std::int64_t pack, const float* a, const float* b, std::int64_t stride,
                                 const float* scale, std::int64_t stride_scalar, float* y, std::int64_t count);
  virtual void dot_packed(std::int64_t pack, const float* x, const float* y, std::int64_t stride, std::int64_t count,
                          float* out, std::int64_t stride_scalar);
  // Bytes this process could still allocate, as well as the backend can tell (the host: available
  // memory of the node; a GPU: free device memory), for sizing packs.
  virtual std::size_t free_memory_bytes() const;

  // ---- recorded steps ------------------------------------------------------------------------------
  // Runs `body` once and keeps the ops it issued, to be issued again by replay() with the same
  // pointers and arguments (on a GPU backend one CUDA graph launch instead of hundreds of kernel
  // launches). The body must issue ops only: no copy to or from the host, nothing returned to the
  // host, no allocation or freeing (run it once unrecorded first, so that scratch memory has its size).
  // Everything it reads that changes between replays must live in backend memory.
  class Recording {
   public:
    virtual ~Recording() = default;
    virtual void replay() = 0;
  };
  // The host backend records the callable itself (replay calls it again).
  virtual std::unique_ptr<Recording> record(std::function<void()> body);
  // Whether recording saves time here (it does on a GPU); the trainer records its steps when so.
  virtual bool prefers_recording() const { return false; }

 protected:
  // Throws where a recorded step does what it may not (`what`: a copy from the host, …) while the
  // default recording runs its body: the host backend keeps a GPU's rules, so host tests find
  // what a GPU would refuse.
  void refuse_inside_recording(const char* what) const;
  // For free_bytes, which cannot throw: true (and nothing freed) while the default recording runs
  // its body, which then fails (a replay would free the same memory again).
  bool refuse_free_inside_recording() noexcept {
    if (inside_recording_) freed_inside_recording_ = true;
    return inside_recording_;
  }

 private:
  bool inside_recording_ = false;  // record's default recording is running its body
  bool freed_inside_recording_ = false;
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
