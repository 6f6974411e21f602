// The CUDA backend's class, shared by its implementation files (one per op family, as in
// src/ops/host/): one stream per backend (and a few side streams that packed convolutions fork onto and
// join back, conv2d.cu); memory from a stream-ordered pool that keeps what it
// frees (so a trial's buffers come back without cudaMalloc for the next trial); cuBLASLt for GEMM,
// cuDNN for convolution, and our own kernels for the rest.
//
// Reductions never use atomics: each is a fixed tree whose shape depends on the problem's size
// only (never on the GPU model or timing), so a result repeats bit for bit run to run. Where the
// host contract sums in a plain ascending order that parallelises well (sum_rows, scatter_add_rows,
// max_pool_backward, average pooling) the kernel keeps that order and gives the host's bits; the
// double-precision reductions (dot, squared error, softmax cross-entropy, batch statistics) use
// the tree and agree with the host to rounding.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

#include "cuda.hpp"
#include "ops/backend.hpp"
#include "ops/portable_math.hpp"
#include "util/error.hpp"

namespace sgdsweep::ops::cuda {

void check_cuda(cudaError_t status, const char* what, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* what, const char* file, int line);
void check_cudnn(cudnnStatus_t status, const char* what, const char* file, int line);
#define SGDSWEEP_CUDA(call) ::sgdsweep::ops::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define SGDSWEEP_CUBLAS(call) ::sgdsweep::ops::cuda::check_cublas((call), #call, __FILE__, __LINE__)
#define SGDSWEEP_CUDNN(call) ::sgdsweep::ops::cuda::check_cudnn((call), #call, __FILE__, __LINE__)

constexpr int kThreads = 256;            // threads per block of every elementwise kernel
constexpr int kReductionBlocks = 256;    // fixed: the tree of a long reduction never depends on the GPU
constexpr std::int64_t kMaxBlocks = std::int64_t{1} << 20;  // grid-stride beyond this
constexpr int kConvolutionStreams = 4;  // side streams a packed convolution forks its problems onto

// One thread per index i < count, grid-stride.
template <class F>
__global__ void for_each_kernel(std::int64_t count, F f) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    f(i);
  }
}

// Σ of `value` over the block's threads by a fixed binary tree in shared memory (Threads a power
// of two). Every thread gets the total.
template <int Threads>
__device__ double block_sum(double value) {
  __shared__ double partial[Threads];
  __syncthreads();  // the previous call's readers are done with `partial`
  partial[threadIdx.x] = value;
  __syncthreads();
  for (int half = Threads / 2; half > 0; half >>= 1) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  return partial[0];
}

// A cached cuDNN convolution: descriptors and the algorithms chosen for its shape.
struct ConvolutionPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t convolution = nullptr;
  cudnnConvolutionFwdAlgo_t forward{};
  cudnnConvolutionBwdDataAlgo_t backward_data{};
  cudnnConvolutionBwdFilterAlgo_t backward_filter{};
  std::size_t workspace_bytes = 0;
};

// Which of a convolution's three cuDNN calls (conv2d.cu).
enum class ConvolutionPass { forward, backward_data, backward_filter };

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaOptions& options);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  std::string name() const override { return "cuda"; }

  // backend.cu: memory, BLAS-like and row ops, the optimizer update
  void* allocate_bytes(std::size_t bytes) override;
  void free_bytes(void* pointer) noexcept override;
  void copy_to_device(void* destination, const void* source, std::size_t bytes) override;
  void copy_to_host(void* destination, const void* source, std::size_t bytes) override;
  void copy(void* destination, const void* source, std::size_t bytes) override;
  void fill(float* x, std::int64_t count, float value) override;
  void synchronize() override;
  void gemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n,
            std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
            std::int64_t ldb, float beta, float* c, std::int64_t ldc) override;
  void axpby(float alpha, const float* x, float beta, float* y, std::int64_t count) override;
  void dot(const float* x, const float* y, std::int64_t count, float* out) override;
  double sum_of_squares(const float* x, std::int64_t count) override;
  void add_row_vector(float* y, const float* bias, std::int64_t rows, std::int64_t columns) override;
  void sum_rows(const float* x, std::int64_t rows, std::int64_t columns, float beta,
                float* out) override;
  void sgd_update(float* weights, float* gradient, float* velocity, std::int64_t count,
                  const float* learning_rate, float momentum, float l2) override;
  // A thread per problem: its tensors' sums in order (ops::clip_scale, the host's formula).
  void clip_scales(std::int64_t pack, const double* squares, std::int64_t tensors, double threshold,
                   float* scales) override;
  // The packed ops: one launch over all problems (one strided-batched GEMM; a reduction one launch
  // per stage); the unpacked ops above are the pack of one, so a problem's bits never depend on the
  // pack.
  void gemm_packed(std::int64_t pack, Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n,
                   std::int64_t k, float alpha, const float* a, std::int64_t lda, std::int64_t stride_a,
                   const float* b, std::int64_t ldb, std::int64_t stride_b, float beta, float* c, std::int64_t ldc,
                   std::int64_t stride_c) override;
  void add_row_vector_packed(std::int64_t pack, float* y, std::int64_t stride_y, const float* bias,
                             std::int64_t stride_bias, std::int64_t rows, std::int64_t columns) override;
  void sum_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t rows,
                       std::int64_t columns, float beta, float* out, std::int64_t stride_out) override;
  void sgd_update_packed(std::int64_t pack, float* weights, float* gradient, float* velocity, std::int64_t stride,
                         std::int64_t count, const float* learning_rates, float momentum, float l2) override;
  void fill_packed(std::int64_t pack, float* x, std::int64_t stride, std::int64_t count, float value) override;
  // One cudaMemcpy2DAsync (rows = problems); a kernel where the pitches do not allow it (a shared source).
  void copy_packed(std::int64_t pack, float* destination, std::int64_t stride_destination, const float* source,
                   std::int64_t stride_source, std::int64_t count) override;
  void axpby_packed(std::int64_t pack, float alpha, const float* x, std::int64_t stride_x, float beta, float* y,
                    std::int64_t stride_y, std::int64_t count) override;
  // kReductionBlocks partials per problem, then a block per problem: the unpacked op's tree (the
  // unpacked op is the pack of one, its sum copied back to the host).
  void sum_of_squares_packed(std::int64_t pack, const float* x, std::int64_t stride, std::int64_t count,
                             double* out) override;
  // kReductionBlocks partials per problem, a block per problem, a float per problem: the unpacked dot's tree.
  void dot_packed(std::int64_t pack, const float* x, const float* y, std::int64_t stride, std::int64_t count,
                  float* out, std::int64_t stride_scalar) override;
  // Free device memory plus what the backend's pool holds unused.
  std::size_t free_memory_bytes() const override;
  std::unique_ptr<Recording> record(std::function<void()> body) override;
  bool prefers_recording() const override { return true; }

  // elementwise.cu
  void sigmoid_forward(const float* x, float* y, std::int64_t count) override;
  void sigmoid_backward(const float* y, const float* dy, float* dx, std::int64_t count) override;
  void relu_forward(const float* x, float* y, std::int64_t count) override;
  void relu_backward(const float* y, const float* dy, float* dx, std::int64_t count) override;
  void multiply(const float* a, const float* b, float* y, std::int64_t count) override;
  void add_scaled(const float* a, const float* b, const float* scale, float* y,
                  std::int64_t count) override;
  void dropout_forward(const float* x, float* y, float* mask, std::int64_t count, float probability,
                       std::uint64_t seed, std::uint32_t stream, std::uint64_t first_position) override;
  // Each problem's Philox key and stream read from device memory: the unpacked op's mask for them.
  void dropout_forward_packed(std::int64_t pack, const float* x, float* y, float* mask, std::int64_t stride,
                              std::int64_t count, float probability, const std::uint64_t* seeds,
                              const std::uint32_t* streams, std::uint64_t first_position) override;
  // One launch over (problem, element), each problem's scale read from device memory (1 where null).
  void add_scaled_packed(std::int64_t pack, const float* a, const float* b, std::int64_t stride, const float* scale,
                         std::int64_t stride_scalar, float* y, std::int64_t count) override;

  // data.cu
  void gather_rows_u8(const std::uint8_t* table, std::int64_t columns, const std::int32_t* rows,
                      std::int64_t count, float scale, float* out) override;
  void gather_rows(const float* table, std::int64_t columns, const std::int32_t* rows,
                   std::int64_t count, float* out) override;
  void scatter_add_rows(const float* x, std::int64_t columns, const std::int32_t* rows,
                        std::int64_t count, float* table) override;
  // Packed: a thread per (problem, element); the scatter a thread per (problem, column), rows in
  // order. The unpacked ops are the pack of one.
  void gather_rows_packed(std::int64_t pack, const float* table, std::int64_t stride_table, std::int64_t columns,
                          const std::int32_t* rows, std::int64_t stride_rows, std::int64_t count, float* out,
                          std::int64_t stride_out) override;
  void scatter_add_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t columns,
                               const std::int32_t* rows, std::int64_t stride_rows, std::int64_t count, float* table,
                               std::int64_t stride_table) override;
  void gather_images_u8(const std::uint8_t* table, std::int64_t height, std::int64_t width,
                        std::int64_t channels, const std::int32_t* rows,
                        const std::int32_t* augmentation, std::int64_t padding, std::int64_t count,
                        const float* mean, const float* inv_std, float* out) override;

  // conv2d.cu
  void conv2d_forward(const Conv2dShape& shape, const float* x, const float* weights,
                      float* y) override;
  void conv2d_backward_data(const Conv2dShape& shape, const float* dy, const float* weights,
                            float* dx) override;
  void conv2d_backward_filter(const Conv2dShape& shape, const float* x, const float* dy,
                              float* weight_gradient) override;
  // Packed: problem p's unpacked cuDNN call (same plan) on side stream p mod kConvolutionStreams, forked from and
  // joined back to the backend's stream; a pack of one is the unpacked call on the backend's stream.
  void conv2d_forward_packed(std::int64_t pack, const Conv2dShape& shape, const float* x, std::int64_t stride_x,
                             const float* weights, std::int64_t stride_weights, float* y,
                             std::int64_t stride_y) override;
  // The same fork and join for the data gradient.
  void conv2d_backward_data_packed(std::int64_t pack, const Conv2dShape& shape, const float* dy, std::int64_t stride_y,
                                   const float* weights, std::int64_t stride_weights, float* dx,
                                   std::int64_t stride_x) override;
  // The same fork and join for the filter gradient.
  void conv2d_backward_filter_packed(std::int64_t pack, const Conv2dShape& shape, const float* x, std::int64_t stride_x,
                                     const float* dy, std::int64_t stride_y, float* weight_gradient,
                                     std::int64_t stride_weights) override;

  // batch_norm.cu
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
  // Packed: the unpacked kernels with a problem index (a thread per (problem, chunk, channel), then per (problem,
  // channel)); the unpacked op is the pack of one.
  void batch_norm_forward_training_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t rows,
                                          std::int64_t channels, const float* gamma, const float* beta,
                                          std::int64_t stride_parameters, float epsilon, float* y, float* mean,
                                          float* inv_std, float* unbiased_variance) override;
  // The same for the backward pass (dx may alias dy).
  void batch_norm_backward_packed(std::int64_t pack, const float* x, const float* dy, std::int64_t stride_x,
                                  std::int64_t rows, std::int64_t channels, const float* gamma, const float* mean,
                                  std::int64_t stride_parameters, const float* inv_std, float* dx,
                                  float* gamma_gradient, float* beta_gradient) override;
  void average_pool_forward(const float* x, std::int64_t batch, std::int64_t pixels,
                            std::int64_t channels, float* y) override;
  void average_pool_backward(const float* dy, std::int64_t batch, std::int64_t pixels,
                             std::int64_t channels, float* dx) override;

  // pooling.cu
  void max_pool_forward(const Pool2dShape& shape, const float* x, float* y, std::int32_t* argmax) override;
  void max_pool_backward(const Pool2dShape& shape, const float* dy, const std::int32_t* argmax,
                         float* dx) override;

  // lstm_cell.cu
  void lstm_cell_forward(float* gates, const float* c_prev, float* c, float* h, std::int64_t rows,
                         std::int64_t hidden) override;
  void lstm_cell_backward(const float* gates, const float* c_prev, const float* c, const float* dh,
                          float* dc, float* gate_gradient, std::int64_t rows,
                          std::int64_t hidden) override;
  // Packed: a thread per (problem, row, unit); the unpacked ops are the pack of one.
  void lstm_cell_forward_packed(std::int64_t pack, float* gates, std::int64_t stride_gates, const float* c_prev,
                                std::int64_t stride_c_prev, float* c, float* h, std::int64_t stride_state,
                                std::int64_t rows, std::int64_t hidden) override;
  void lstm_cell_backward_packed(std::int64_t pack, const float* gates, float* gate_gradient,
                                 std::int64_t stride_gates, const float* c_prev, std::int64_t stride_c_prev,
                                 const float* c, const float* dh, std::int64_t stride_state, float* dc,
                                 std::int64_t stride_dc, std::int64_t rows, std::int64_t hidden) override;

  // losses.cu
  void squared_error(const float* y, const float* target, std::int64_t rows, std::int64_t columns,
                     float* gradient, float gradient_scale, double* loss_sum) override;
  void squared_error_packed(std::int64_t pack, const float* y, std::int64_t stride_y, const float* target,
                            std::int64_t stride_target, std::int64_t rows, std::int64_t columns, float* gradient,
                            float gradient_scale, double* loss_sums) override;
  void softmax_cross_entropy(const float* logits, const std::int32_t* labels, std::int64_t rows,
                             std::int64_t classes, float* gradient, float gradient_scale,
                             double* loss_sum, double* correct) override;
  // A block per (problem, row), then a block per problem and sum (loss, correct): the unpacked
  // op's trees, the unpacked op being the pack of one.
  void softmax_cross_entropy_packed(std::int64_t pack, const float* logits, std::int64_t stride_logits,
                                    const std::int32_t* labels, std::int64_t stride_labels, std::int64_t rows,
                                    std::int64_t classes, float* gradient, float gradient_scale, double* loss_sums,
                                    double* correct) override;

  // ---- for the implementation files ------------------------------------------------------------
  cudaStream_t stream() const { return stream_; }
  // f(i) for i < count on the backend's stream.
  template <class F>
  void for_each(std::int64_t count, F f) {
    if (count <= 0) return;
    const std::int64_t blocks = std::min<std::int64_t>((count + kThreads - 1) / kThreads, kMaxBlocks);
    for_each_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream_>>>(count, f);
    SGDSWEEP_CUDA(cudaGetLastError());
  }
  // Scratch doubles for reductions' partial sums, and cuDNN's workspace: grown on demand (the
  // first step of a trial), kept for reuse; stream-ordered, so a grown buffer is never freed
  // under a running kernel. `slot` separates buffers one op uses at the same time.
  double* partials(std::size_t count, int slot = 0);
  void* convolution_workspace(std::size_t bytes);
  // *out = Σ values[0 … count) by the fixed tree (one block); out may be a partial of another sum.
  // With `sums` > 1, out[s] = Σ values[s·count … (s+1)·count), a block each, the same tree. With
  // `second`, the next `sums` runs of values go to second[s], in the same launch.
  void sum_doubles(const double* values, std::int64_t count, double* out, std::int64_t sums = 1,
                   double* second = nullptr);
  const ConvolutionPlan& convolution_plan(const Conv2dShape& shape);
  // Bumped whenever scratch memory moves: a recorded graph from an older epoch points at freed
  // memory and is recorded again (graph.cu).
  std::uint64_t memory_epoch() const { return memory_epoch_; }
  // Throws Error naming `what` while the stream is being captured into a graph (a recorded step
  // may not allocate or copy to or from the host).
  void refuse_while_capturing(const char* what) const;
  // Whether free_bytes was called (and refused) since the last call, during a capture.
  bool take_freed_while_capturing() { return std::exchange(freed_while_capturing_, false); }

 private:
  struct Scratch {
    void* data = nullptr;
    std::size_t bytes = 0;
  };
  void* grow(Scratch& scratch, std::size_t bytes);

  // A side stream of the packed convolutions, with its own cuDNN handle (bound to it) and workspace, and the
  // event that joins it back to the backend's stream.
  struct ConvolutionLane {
    cudaStream_t stream = nullptr;
    cudnnHandle_t cudnn = nullptr;
    cudaEvent_t joined = nullptr;
    Scratch workspace;
  };
  // conv2d.cu: `pack` problems of one pass (forward: first = x, second = weights, out = y; backward data: dy,
  // weights, dx; backward filter: x, dy, weight gradient), forked onto the lanes when pack > 1.
  void convolve_packed(ConvolutionPass pass, std::int64_t pack, const Conv2dShape& shape, const float* first,
                       std::int64_t stride_first, const float* second, std::int64_t stride_second, float* out,
                       std::int64_t stride_out);
  void create_convolution_lanes();            // once, on the first packed convolution with pack > 1
  void destroy_convolution_lanes() noexcept;  // the destructor's, once the stream is idle

  // backend.cu: a GEMM shape's cuBLASLt descriptors for a pack size and strides and its algorithm
  // (chosen for the pack of one and shared by every pack of the shape); `batched`: the pack runs
  // as one strided-batched call, else (a pack the algorithm cannot batch; no descriptors of its
  // own) as one call per problem with the pack of one's.
  struct GemmPlan {
    cublasLtMatmulDesc_t operation = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;  // cuBLASLt's A, B, C (= D)
    cublasLtMatmulAlgo_t algorithm{};
    bool batched = false;
  };
  // (transpose a, transpose b, m, n, k, lda, ldb, ldc, alignment): the column-major problem.
  using GemmShape = std::array<std::int64_t, 9>;
  const GemmPlan& gemm_plan(const GemmShape& shape, std::int64_t pack, std::int64_t stride_a, std::int64_t stride_b,
                            std::int64_t stride_c);
  void destroy(GemmPlan& plan) noexcept;

  CudaOptions options_;
  cudaStream_t stream_ = nullptr;
  cudaMemPool_t pool_ = nullptr;
  cublasLtHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  void* cublas_workspace_ = nullptr;
  std::map<std::array<std::int64_t, 13>, GemmPlan> gemm_plans_;  // shape, pack and strides
  // Host → device copies go through pinned memory, so they are truly asynchronous; the event
  // says when the staging buffer's last copy has left it.
  void* staging_ = nullptr;
  std::size_t staging_bytes_ = 0;
  cudaEvent_t staging_free_ = nullptr;
  std::uint64_t memory_epoch_ = 0;
  bool freed_while_capturing_ = false;
  std::size_t max_pitch_ = 0;  // the largest pitch cudaMemcpy2DAsync takes on this device
  Scratch partials_[3];
  Scratch convolution_workspace_;
  ConvolutionLane convolution_lanes_[kConvolutionStreams];
  cudaEvent_t convolution_fork_ = nullptr;  // recorded on stream_, waited on by the lanes
  bool convolution_lanes_created_ = false;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                      std::int64_t, std::int64_t, std::int64_t>,
           ConvolutionPlan>
      convolution_plans_;
};

}  // namespace sgdsweep::ops::cuda
