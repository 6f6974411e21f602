// CUDA backend: construction, memory, error checks, GEMM (cuBLASLt), the BLAS-like and row ops, the
// fixed-tree reductions, and the optimizer update.
#include <cstring>
#include <memory>
#include <limits>

#include "cuda_backend.cuh"

namespace sgdsweep::ops {

int cuda_device_count(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error for whoever asks next
    if (why) *why = cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && why) *why = "the CUDA runtime reports no device";
  return count;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options);
}

namespace cuda {

void check_cuda(cudaError_t status, const char* what, const char* file, int line) {
  if (status != cudaSuccess) fail("CUDA error in ", what, " (", file, ":", line, "): ", cudaGetErrorString(status));
}
void check_cublas(cublasStatus_t status, const char* what, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    fail("cuBLAS error in ", what, " (", file, ":", line, "): ", cublasLtGetStatusString(status));
  }
}
void check_cudnn(cudnnStatus_t status, const char* what, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) {
    fail("cuDNN error in ", what, " (", file, ":", line, "): ", cudnnGetErrorString(status));
  }
}

namespace {

constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;  // fixed: the same algorithms every run
constexpr std::size_t kStagedCopyLimit = std::size_t{8} << 20;       // larger uploads go direct (datasets)

// Per-block partial sums of x·y (x·x when y is null) in double: kReductionBlocks blocks per
// problem (x, y at p·stride), striding over its range as a grid of kReductionBlocks blocks, so a
// problem's partials are the same whatever the pack.
__global__ void dot_partials(const float* x, const float* y, std::int64_t stride, std::int64_t count,
                             double* partials) {
  const std::int64_t p = blockIdx.x / kReductionBlocks, block = blockIdx.x % kReductionBlocks;
  x += p * stride;
  if (y) y += p * stride;
  double sum = 0.0;
  const std::int64_t step = std::int64_t{kReductionBlocks} * blockDim.x;
  for (std::int64_t i = block * blockDim.x + threadIdx.x; i < count; i += step) {
    sum += static_cast<double>(x[i]) * (y ? y[i] : x[i]);
  }
  const double total = block_sum<kThreads>(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// Block s sums values[s·count … (s+1)·count) into out[s] (s < sums), or into second[s − sums].
__global__ void sum_doubles_kernel(const double* values, std::int64_t count, double* out, std::int64_t sums,
                                   double* second) {
  const std::int64_t s = blockIdx.x;
  values += s * count;
  double sum = 0.0;
  for (std::int64_t i = threadIdx.x; i < count; i += kThreads) sum += values[i];
  const double total = block_sum<kThreads>(sum);
  if (threadIdx.x == 0) (s < sums ? out[s] : second[s - sums]) = total;
}

}  // namespace

CudaBackend::CudaBackend(const CudaOptions& options) : options_(options) {
  SGDSWEEP_CUDA(cudaSetDevice(options.device));
  SGDSWEEP_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  // The device's default pool, told to keep what is freed: the buffers of one trial are reused by
  // the next without going back to the driver.
  SGDSWEEP_CUDA(cudaDeviceGetDefaultMemPool(&pool_, options.device));
  std::uint64_t keep_everything = std::numeric_limits<std::uint64_t>::max();
  SGDSWEEP_CUDA(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep_everything));
  SGDSWEEP_CUDA(cudaEventCreateWithFlags(&staging_free_, cudaEventDisableTiming));
  int max_pitch = 0;
  SGDSWEEP_CUDA(cudaDeviceGetAttribute(&max_pitch, cudaDevAttrMaxPitch, options.device));
  max_pitch_ = static_cast<std::size_t>(max_pitch);

  SGDSWEEP_CUBLAS(cublasLtCreate(&cublas_));
  // A workspace of our own, fixed in size: the algorithms are chosen the same way every run, and
  // the GEMMs can be captured in a CUDA graph.
  cublas_workspace_ = allocate_bytes(kCublasWorkspaceBytes);

  SGDSWEEP_CUDNN(cudnnCreate(&cudnn_));
  SGDSWEEP_CUDNN(cudnnSetStream(cudnn_, stream_));
}

CudaBackend::~CudaBackend() {
  cudaStreamSynchronize(stream_);  // the convolution lanes' work too: each packed convolution joins them back
  destroy_convolution_lanes();
  for (auto& [shape, plan] : convolution_plans_) {
    cudnnDestroyTensorDescriptor(plan.x);
    cudnnDestroyTensorDescriptor(plan.y);
    cudnnDestroyFilterDescriptor(plan.w);
    cudnnDestroyConvolutionDescriptor(plan.convolution);
  }
  for (Scratch& scratch : partials_) free_bytes(scratch.data);
  free_bytes(convolution_workspace_.data);
  if (cudnn_) cudnnDestroy(cudnn_);
  for (auto& [key, plan] : gemm_plans_) destroy(plan);
  if (cublas_) cublasLtDestroy(cublas_);
  free_bytes(cublas_workspace_);
  if (staging_) cudaFreeHost(staging_);
  if (staging_free_) cudaEventDestroy(staging_free_);
  cudaStreamSynchronize(stream_);
  if (stream_) cudaStreamDestroy(stream_);
}

// ---- memory -----------------------------------------------------------------------------------

void* CudaBackend::allocate_bytes(std::size_t bytes) {
  refuse_while_capturing("allocating device memory");
  void* pointer = nullptr;
  const cudaError_t status = cudaMallocFromPoolAsync(&pointer, bytes, pool_, stream_);
  if (status != cudaSuccess || !pointer) {
    cudaGetLastError();
    std::size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    fail("cuda backend: cannot allocate ", bytes, " bytes on device ", options_.device, " (",
         cudaGetErrorString(status), "; ", free >> 20, " of ", total >> 20, " MiB free)");
  }
  SGDSWEEP_CUDA(cudaMemsetAsync(pointer, 0, bytes, stream_));
  return pointer;
}

void CudaBackend::free_bytes(void* pointer) noexcept {
  if (!pointer) return;
  // Inside a capture the free would be a node of the graph, done again at every replay: nothing
  // is freed, and the recording fails once its capture has ended (graph.cu).
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream_, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    freed_while_capturing_ = true;
    return;
  }
  cudaFreeAsync(pointer, stream_);
}

void CudaBackend::copy_to_device(void* destination, const void* source, std::size_t bytes) {
  if (bytes == 0) return;
  refuse_while_capturing("a copy from the host");
  if (bytes > kStagedCopyLimit) {  // a dataset, once per run: a plain synchronous copy
    SGDSWEEP_CUDA(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyHostToDevice, stream_));
    SGDSWEEP_CUDA(cudaStreamSynchronize(stream_));
    return;
  }
  SGDSWEEP_CUDA(cudaEventSynchronize(staging_free_));  // the previous staged copy has left
  if (bytes > staging_bytes_) {
    if (staging_) SGDSWEEP_CUDA(cudaFreeHost(staging_));
    staging_ = nullptr;
    staging_bytes_ = 0;
    SGDSWEEP_CUDA(cudaMallocHost(&staging_, bytes));
    staging_bytes_ = bytes;
  }
  std::memcpy(staging_, source, bytes);
  SGDSWEEP_CUDA(cudaMemcpyAsync(destination, staging_, bytes, cudaMemcpyHostToDevice, stream_));
  SGDSWEEP_CUDA(cudaEventRecord(staging_free_, stream_));
}

void CudaBackend::copy_to_host(void* destination, const void* source, std::size_t bytes) {
  if (bytes == 0) return;
  refuse_while_capturing("a copy to the host");
  SGDSWEEP_CUDA(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToHost, stream_));
  SGDSWEEP_CUDA(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy(void* destination, const void* source, std::size_t bytes) {
  if (bytes == 0 || destination == source) return;
  SGDSWEEP_CUDA(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::synchronize() { SGDSWEEP_CUDA(cudaStreamSynchronize(stream_)); }

void* CudaBackend::grow(Scratch& scratch, std::size_t bytes) {
  if (bytes > scratch.bytes) {
    refuse_while_capturing("growing scratch memory");
    ++memory_epoch_;
    free_bytes(scratch.data);  // stream-ordered: kernels already queued keep their memory
    scratch.data = nullptr;
    scratch.bytes = 0;  // so that a failed allocation leaves no size behind
    scratch.data = allocate_bytes(bytes);
    scratch.bytes = bytes;
  }
  return scratch.data;
}

double* CudaBackend::partials(std::size_t count, int slot) {
  return static_cast<double*>(grow(partials_[slot], count * sizeof(double)));
}

void* CudaBackend::convolution_workspace(std::size_t bytes) {
  return bytes ? grow(convolution_workspace_, bytes) : nullptr;
}

void CudaBackend::fill(float* x, std::int64_t count, float value) { fill_packed(1, x, 0, count, value); }

void CudaBackend::fill_packed(std::int64_t pack, float* x, std::int64_t stride, std::int64_t count, float value) {
  for_each(pack * count, [=] __device__(std::int64_t t) { x[t / count * stride + t % count] = value; });
}

void CudaBackend::copy_packed(std::int64_t pack, float* destination, std::int64_t stride_destination,
                              const float* source, std::int64_t stride_source, std::int64_t count) {
  if (pack <= 0 || count <= 0) return;
  if (destination == source && (pack == 1 || stride_destination == stride_source)) return;
  if (pack == 1) {
    copy(destination, source, static_cast<std::size_t>(count) * sizeof(float));
    return;
  }
  const auto width = static_cast<std::size_t>(count) * sizeof(float);
  const auto destination_pitch = static_cast<std::size_t>(stride_destination) * sizeof(float);
  const auto source_pitch = static_cast<std::size_t>(stride_source) * sizeof(float);
  if (stride_destination >= count && stride_source >= count && destination_pitch <= max_pitch_ &&
      source_pitch <= max_pitch_) {
    SGDSWEEP_CUDA(cudaMemcpy2DAsync(destination, destination_pitch, source, source_pitch, width,
                                    static_cast<std::size_t>(pack), cudaMemcpyDeviceToDevice, stream_));
    return;
  }
  // A shared source (stride 0) or a pitch the copy engine refuses: one kernel instead.
  for_each(pack * count, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / count, i = t % count;
    destination[p * stride_destination + i] = source[p * stride_source + i];
  });
}

// ---- linear algebra ---------------------------------------------------------------------------

void CudaBackend::gemm(Transpose transpose_a, Transpose transpose_b, std::int64_t m, std::int64_t n,
                       std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
                       std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  gemm_packed(1, transpose_a, transpose_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0);
}

// Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap places, and
// cuBLASLt's A is our b. Each shape's algorithm is chosen once, for a batch of one, with no split-K
// (reduction scheme none: "the dot-product performed in one sequence") and for the alignment its
// pointers, leading dimensions and (in a pack) strides all have, and then serves every pack of
// that shape: a problem's output depends on the algorithm and its own operands only, so a trial
// gets the same bits alone as in any pack (cuBLAS's own heuristics may pick another kernel,
// split-K among them, for another batch count). A pack its algorithm cannot run as one
// strided-batched call runs as one call per problem, the same algorithm.
void CudaBackend::gemm_packed(std::int64_t pack, Transpose transpose_a, Transpose transpose_b, std::int64_t m,
                              std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
                              std::int64_t stride_a, const float* b, std::int64_t ldb, std::int64_t stride_b,
                              float beta, float* c, std::int64_t ldc, std::int64_t stride_c) {
  if (m == 0 || n == 0 || pack == 0) return;
  if (pack > std::numeric_limits<std::int32_t>::max()) fail("cuda backend: a GEMM pack of ", pack, " problems");
  if (k == 0) {  // C = β·C, as BLAS does (0 where β = 0)
    for_each(pack * m * n, [=] __device__(std::int64_t t) {
      const std::int64_t p = t / (m * n), i = t % (m * n);
      float& o = c[p * stride_c + (i / n) * ldc + i % n];
      o = beta == 0.0f ? 0.0f : beta * o;
    });
    return;
  }
  // The largest of 16, 8 and 4 bytes that every problem's operands are aligned to. A pack whose
  // strides keep its first problem's alignment (Parameters::stride() rounds to 64 floats; a copy's
  // activations are a multiple of 4 floats in every model's usual shapes) gets the algorithm of
  // the trial alone.
  std::uint64_t bits = reinterpret_cast<std::uintptr_t>(a) | reinterpret_cast<std::uintptr_t>(b) |
                       reinterpret_cast<std::uintptr_t>(c) | 16;
  for (const std::int64_t floats : {lda, ldb, ldc}) bits |= static_cast<std::uint64_t>(floats) * 4;
  if (pack > 1) {
    for (const std::int64_t floats : {stride_a, stride_b, stride_c}) bits |= static_cast<std::uint64_t>(floats) * 4;
  }
  const std::int64_t alignment = static_cast<std::int64_t>(bits & (~bits + 1));
  const GemmShape shape{transpose_b == Transpose::yes, transpose_a == Transpose::yes, n, m, k, ldb, lda, ldc, alignment};
  const GemmPlan& plan = gemm_plan(shape, pack, stride_b, stride_a, stride_c);
  const GemmPlan& call = plan.batched ? plan : gemm_plan(shape, 1, 0, 0, 0);
  for (std::int64_t p = 0; p < (plan.batched ? 1 : pack); ++p) {
    float* out = c + p * stride_c;
    SGDSWEEP_CUBLAS(cublasLtMatmul(cublas_, call.operation, &alpha, b + p * stride_b, call.a, a + p * stride_a, call.b,
                                   &beta, out, call.c, out, call.c, &call.algorithm, cublas_workspace_,
                                   kCublasWorkspaceBytes, stream_));
  }
}

const CudaBackend::GemmPlan& CudaBackend::gemm_plan(const GemmShape& shape, std::int64_t pack, std::int64_t stride_a,
                                                    std::int64_t stride_b, std::int64_t stride_c) {
  if (pack == 1) stride_a = stride_b = stride_c = 0;
  const std::array<std::int64_t, 13> key{shape[0], shape[1], shape[2], shape[3], shape[4], shape[5], shape[6],
                                         shape[7], shape[8], pack, stride_a, stride_b, stride_c};
  if (auto found = gemm_plans_.find(key); found != gemm_plans_.end()) return found->second;
  // A shape's first run belongs in the unrecorded step: its heuristics query and first launch.
  refuse_while_capturing("a GEMM shape not seen before");
  const auto [transpose_a, transpose_b, m, n, k, lda, ldb, ldc, alignment] = shape;
  GemmPlan plan;
  try {
    SGDSWEEP_CUBLAS(cublasLtMatmulDescCreate(&plan.operation,
                                             options_.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
                                             CUDA_R_32F));
    const cublasOperation_t op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    SGDSWEEP_CUBLAS(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a));
    SGDSWEEP_CUBLAS(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b));
    // The stored (column-major) matrices: A is m×k (k×m transposed), B k×n (n×k), C m×n.
    const auto layout = [&](cublasLtMatrixLayout_t* out, std::int64_t rows, std::int64_t columns, std::int64_t ld,
                            std::int64_t stride) {
      SGDSWEEP_CUBLAS(cublasLtMatrixLayoutCreate(out, CUDA_R_32F, static_cast<std::uint64_t>(rows),
                                                 static_cast<std::uint64_t>(columns), ld));
      if (pack == 1) return;
      const auto count = static_cast<std::int32_t>(pack);
      SGDSWEEP_CUBLAS(cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count));
      SGDSWEEP_CUBLAS(cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                       sizeof stride));
    };
    layout(&plan.a, transpose_a ? k : m, transpose_a ? m : k, lda, stride_a);
    layout(&plan.b, transpose_b ? n : k, transpose_b ? k : n, ldb, stride_b);
    layout(&plan.c, m, n, ldc, stride_c);
    cublasLtMatmulHeuristicResult_t result{};
    if (pack > 1) {  // the shape's algorithm, if it runs the pack in one call
      plan.algorithm = gemm_plan(shape, 1, 0, 0, 0).algorithm;
      plan.batched = cublasLtMatmulAlgoCheck(cublas_, plan.operation, plan.a, plan.b, plan.c, plan.c,
                                             &plan.algorithm, &result) == CUBLAS_STATUS_SUCCESS &&
                     result.workspaceSize <= kCublasWorkspaceBytes;
      if (!plan.batched) destroy(plan);  // one call per problem, with the descriptors of one
    } else {
      cublasLtMatmulPreference_t created = nullptr;
      SGDSWEEP_CUBLAS(cublasLtMatmulPreferenceCreate(&created));
      const std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, decltype(&cublasLtMatmulPreferenceDestroy)> preference(
          created, &cublasLtMatmulPreferenceDestroy);
      const auto prefer = [&](cublasLtMatmulPreferenceAttributes_t attribute, const auto& value) {
        SGDSWEEP_CUBLAS(cublasLtMatmulPreferenceSetAttribute(preference.get(), attribute, &value, sizeof value));
      };
      prefer(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, std::uint64_t{kCublasWorkspaceBytes});
      prefer(CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, std::uint32_t{CUBLASLT_REDUCTION_SCHEME_NONE});
      for (const auto attribute : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                   CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
        prefer(attribute, static_cast<std::uint32_t>(alignment));
      }
      int found = 0;  // none: NOT_SUPPORTED, or no result
      const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(cublas_, plan.operation, plan.a, plan.b, plan.c,
                                                                   plan.c, preference.get(), 1, &result, &found);
      if (status != CUBLAS_STATUS_NOT_SUPPORTED) SGDSWEEP_CUBLAS(status);
      if (found < 1) {
        fail("cuda backend: cuBLASLt has no algorithm without split-K for the GEMM ", m, "×", n, "×", k,
             " (column-major, transposes ", transpose_a, ", ", transpose_b, ", alignment ", alignment, " bytes)");
      }
      plan.algorithm = result.algo;
    }
  } catch (...) {
    destroy(plan);
    throw;
  }
  return gemm_plans_.emplace(key, plan).first->second;
}

void CudaBackend::destroy(GemmPlan& plan) noexcept {
  if (plan.operation) cublasLtMatmulDescDestroy(plan.operation);
  for (cublasLtMatrixLayout_t layout : {plan.a, plan.b, plan.c}) {
    if (layout) cublasLtMatrixLayoutDestroy(layout);
  }
  plan.operation = nullptr;
  plan.a = plan.b = plan.c = nullptr;
}

void CudaBackend::axpby(float alpha, const float* x, float beta, float* y, std::int64_t count) {
  axpby_packed(1, alpha, x, 0, beta, y, 0, count);
}

void CudaBackend::axpby_packed(std::int64_t pack, float alpha, const float* x, std::int64_t stride_x, float beta,
                               float* y, std::int64_t stride_y, std::int64_t count) {
  for_each(pack * count, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / count, i = t % count;
    float& o = y[p * stride_y + i];
    o = alpha * x[p * stride_x + i] + beta * o;
  });
}

void CudaBackend::sum_doubles(const double* values, std::int64_t count, double* out, std::int64_t sums,
                              double* second) {
  const std::int64_t blocks = second ? 2 * sums : sums;
  if (blocks <= 0) return;
  sum_doubles_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream_>>>(values, count, out, sums, second);
  SGDSWEEP_CUDA(cudaGetLastError());
}

void CudaBackend::dot(const float* x, const float* y, std::int64_t count, float* out) {
  dot_packed(1, x, y, 0, count, out, 0);
}

void CudaBackend::dot_packed(std::int64_t pack, const float* x, const float* y, std::int64_t stride, std::int64_t count,
                             float* out, std::int64_t stride_scalar) {
  if (pack <= 0) return;
  // kReductionBlocks partials per problem, a block per problem sums its partials into totals[p] (after the
  // partials, in the same scratch), then a thread per problem rounds it to float: the unpacked op's tree.
  double* partial = partials(static_cast<std::size_t>(pack * (kReductionBlocks + 1)));
  double* totals = partial + pack * kReductionBlocks;
  dot_partials<<<static_cast<unsigned>(pack * kReductionBlocks), kThreads, 0, stream_>>>(x, y, stride, count, partial);
  SGDSWEEP_CUDA(cudaGetLastError());
  sum_doubles(partial, kReductionBlocks, totals, pack);
  for_each(pack, [=] __device__(std::int64_t p) { out[p * stride_scalar] = static_cast<float>(totals[p]); });
}

double CudaBackend::sum_of_squares(const float* x, std::int64_t count) {
  double* out = partials(1, 2);  // a slot of its own: the packed op uses slot 0 for its partials
  sum_of_squares_packed(1, x, 0, count, out);
  double total = 0.0;
  copy_to_host(&total, out, sizeof total);
  return total;
}

void CudaBackend::sum_of_squares_packed(std::int64_t pack, const float* x, std::int64_t stride, std::int64_t count,
                                        double* out) {
  if (pack <= 0) return;
  // kReductionBlocks partials per problem, then a block per problem sums its partials: each
  // problem's tree is the unpacked op's.
  double* partial = partials(static_cast<std::size_t>(pack * kReductionBlocks));
  dot_partials<<<static_cast<unsigned>(pack * kReductionBlocks), kThreads, 0, stream_>>>(x, nullptr, stride, count,
                                                                                          partial);
  SGDSWEEP_CUDA(cudaGetLastError());
  sum_doubles(partial, kReductionBlocks, out, pack);
}

void CudaBackend::add_row_vector(float* y, const float* bias, std::int64_t rows, std::int64_t columns) {
  add_row_vector_packed(1, y, 0, bias, 0, rows, columns);
}

void CudaBackend::add_row_vector_packed(std::int64_t pack, float* y, std::int64_t stride_y, const float* bias,
                                        std::int64_t stride_bias, std::int64_t rows, std::int64_t columns) {
  const std::int64_t size = rows * columns;
  for_each(pack * size, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / size, i = t % size;
    y[p * stride_y + i] += bias[p * stride_bias + i % columns];
  });
}

void CudaBackend::sum_rows(const float* x, std::int64_t rows, std::int64_t columns, float beta,
                           float* out) {
  sum_rows_packed(1, x, 0, rows, columns, beta, out, 0);
}

void CudaBackend::sum_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t rows,
                                  std::int64_t columns, float beta, float* out, std::int64_t stride_out) {
  // A thread per (problem, column), rows in ascending order: the host's order, so the host's bits.
  for_each(pack * columns, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / columns, j = t % columns;
    const float* column = x + p * stride_x + j;
    float sum = 0.0f;
    for (std::int64_t i = 0; i < rows; ++i) sum += column[i * columns];
    float& o = out[p * stride_out + j];
    o = (beta == 0.0f ? 0.0f : beta * o) + sum;
  });
}

void CudaBackend::clip_scales(std::int64_t pack, const double* squares, std::int64_t tensors, double threshold,
                              float* scales) {
  for_each(pack, [=] __device__(std::int64_t p) { scales[p] = clip_scale(squares, pack, tensors, threshold, p); });
}

void CudaBackend::sgd_update(float* weights, float* gradient, float* velocity, std::int64_t count,
                             const float* learning_rate, float momentum, float l2) {
  sgd_update_packed(1, weights, gradient, velocity, 0, count, learning_rate, momentum, l2);
}

void CudaBackend::sgd_update_packed(std::int64_t pack, float* weights, float* gradient, float* velocity,
                                    std::int64_t stride, std::int64_t count, const float* learning_rates,
                                    float momentum, float l2) {
  if (momentum == 0.0f) {
    for_each(pack * count, [=] __device__(std::int64_t t) {
      const std::int64_t p = t / count, i = p * stride + t % count;
      const float g = gradient[i] + l2 * weights[i];
      gradient[i] = g;
      weights[i] -= learning_rates[p] * g;
    });
  } else {
    for_each(pack * count, [=] __device__(std::int64_t t) {
      const std::int64_t p = t / count, i = p * stride + t % count;
      const float g = gradient[i] + l2 * weights[i];
      gradient[i] = g;
      const float v = momentum * velocity[i] + g;
      velocity[i] = v;
      weights[i] -= learning_rates[p] * v;
    });
  }
}

std::size_t CudaBackend::free_memory_bytes() const {
  std::size_t free = 0, total = 0;
  SGDSWEEP_CUDA(cudaMemGetInfo(&free, &total));
  std::uint64_t reserved = 0, used = 0;  // the pool keeps what trials freed: it is free to us
  SGDSWEEP_CUDA(cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &reserved));
  SGDSWEEP_CUDA(cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrUsedMemCurrent, &used));
  return free + static_cast<std::size_t>(reserved > used ? reserved - used : 0);
}

}  // namespace cuda
}  // namespace sgdsweep::ops
