// CUDA losses: squared error (autoencoder) and softmax cross-entropy (classifiers, language model).
// A block per row reduces its row by a fixed tree; the rows' sums are then added by the fixed
// one-block tree (CudaBackend::sum_doubles). Packed: a block per (problem, row), then a block per
// problem and sum; the unpacked ops are the pack of one. Deterministic run to run; equal to the
// host's ascending sums to rounding.
#include <cmath>

#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {
namespace {

// Block b: row b mod rows of problem p = b / rows (y and gradient at p·stride_y, target at
// p·stride_target), its sum into row_sums[b].
__global__ void squared_error_rows(const float* y, std::int64_t stride_y, const float* target,
                                   std::int64_t stride_target, std::int64_t rows, std::int64_t columns,
                                   float* gradient, float gradient_scale, double* row_sums) {
  const std::int64_t p = blockIdx.x / rows, row = blockIdx.x % rows;
  double sum = 0.0;
  for (std::int64_t j = threadIdx.x; j < columns; j += kThreads) {
    const std::int64_t k = row * columns + j;
    const float difference = y[p * stride_y + k] - target[p * stride_target + k];
    sum += static_cast<double>(difference) * difference;
    if (gradient) gradient[p * stride_y + k] = gradient_scale * (2.0f * difference);
  }
  const double total = block_sum<kThreads>(sum);
  if (threadIdx.x == 0) row_sums[blockIdx.x] = total;
}

// The first largest logit of a row and its index: a larger value wins, a tie goes to the lower
// index (the host's "first maximal logit").
template <int Threads>
__device__ void block_argmax(float& value, std::int64_t& index) {
  __shared__ float values[Threads];
  __shared__ std::int64_t indices[Threads];
  values[threadIdx.x] = value;
  indices[threadIdx.x] = index;
  __syncthreads();
  for (int half = Threads / 2; half > 0; half >>= 1) {
    if (static_cast<int>(threadIdx.x) < half) {
      const float other = values[threadIdx.x + half];
      const std::int64_t other_index = indices[threadIdx.x + half];
      const bool mine_empty = indices[threadIdx.x] < 0;
      if (other_index >= 0 &&
          (mine_empty || other > values[threadIdx.x] ||
           (other == values[threadIdx.x] && other_index < indices[threadIdx.x]))) {
        values[threadIdx.x] = other;
        indices[threadIdx.x] = other_index;
      }
    }
    __syncthreads();
  }
  value = values[0];
  index = indices[0] < 0 ? 0 : indices[0];
  __syncthreads();
}

// Block b: row b mod rows of problem p = b / rows (logits and gradient at p·stride_logits, labels
// at p·stride_labels), its loss and correctness into row_losses[b] and row_correct[b].
template <int Threads>
__global__ void softmax_cross_entropy_rows(const float* logits, std::int64_t stride_logits,
                                           const std::int32_t* labels, std::int64_t stride_labels,
                                           std::int64_t rows, std::int64_t classes, float* gradient,
                                           float gradient_scale, double* row_losses, double* row_correct) {
  const std::int64_t p = blockIdx.x / rows, row = blockIdx.x % rows;
  const float* z = logits + p * stride_logits + row * classes;
  const std::int32_t label = labels[p * stride_labels + row];
  const float label_logit = z[label];  // read before any thread writes a gradient over the logits
  float maximum = 0.0f;
  std::int64_t argmax = -1;
  for (std::int64_t j = threadIdx.x; j < classes; j += Threads) {
    if (argmax < 0 || z[j] > maximum) {
      maximum = z[j];
      argmax = j;
    }
  }
  block_argmax<Threads>(maximum, argmax);
  double partition = 0.0;
  for (std::int64_t j = threadIdx.x; j < classes; j += Threads) partition += portable_exp(z[j] - maximum);
  partition = block_sum<Threads>(partition);
  if (threadIdx.x == 0) {
    row_losses[blockIdx.x] = static_cast<double>(maximum) + log(partition) - static_cast<double>(label_logit);
    row_correct[blockIdx.x] = argmax == label ? 1.0 : 0.0;
  }
  if (gradient) {
    float* g = gradient + p * stride_logits + row * classes;
    const float inverse_partition = static_cast<float>(1.0 / partition);
    for (std::int64_t j = threadIdx.x; j < classes; j += Threads) {
      const float probability = portable_exp(z[j] - maximum) * inverse_partition;
      g[j] = gradient_scale * (j == label ? probability - 1.0f : probability);
    }
  }
}

}  // namespace

void CudaBackend::squared_error(const float* y, const float* target, std::int64_t rows,
                                std::int64_t columns, float* gradient, float gradient_scale,
                                double* loss_sum) {
  squared_error_packed(1, y, 0, target, 0, rows, columns, gradient, gradient_scale, loss_sum);
}

void CudaBackend::squared_error_packed(std::int64_t pack, const float* y, std::int64_t stride_y,
                                       const float* target, std::int64_t stride_target, std::int64_t rows,
                                       std::int64_t columns, float* gradient, float gradient_scale,
                                       double* loss_sums) {
  if (pack == 0) return;
  if (rows == 0) {
    SGDSWEEP_CUDA(cudaMemsetAsync(loss_sums, 0, static_cast<std::size_t>(pack) * sizeof(double), stream()));
    return;
  }
  // Each problem's rows, then each problem's sum of its rows: the trees of the unpacked op.
  double* row_sums = partials(static_cast<std::size_t>(pack * rows));
  squared_error_rows<<<static_cast<unsigned>(pack * rows), kThreads, 0, stream()>>>(
      y, stride_y, target, stride_target, rows, columns, gradient, gradient_scale, row_sums);
  SGDSWEEP_CUDA(cudaGetLastError());
  sum_doubles(row_sums, rows, loss_sums, pack);
}

void CudaBackend::softmax_cross_entropy(const float* logits, const std::int32_t* labels,
                                        std::int64_t rows, std::int64_t classes, float* gradient,
                                        float gradient_scale, double* loss_sum, double* correct) {
  softmax_cross_entropy_packed(1, logits, 0, labels, 0, rows, classes, gradient, gradient_scale, loss_sum, correct);
}

void CudaBackend::softmax_cross_entropy_packed(std::int64_t pack, const float* logits, std::int64_t stride_logits,
                                               const std::int32_t* labels, std::int64_t stride_labels,
                                               std::int64_t rows, std::int64_t classes, float* gradient,
                                               float gradient_scale, double* loss_sums, double* correct) {
  if (pack == 0) return;
  const auto bytes = static_cast<std::size_t>(pack) * sizeof(double);
  if (rows == 0) {
    SGDSWEEP_CUDA(cudaMemsetAsync(loss_sums, 0, bytes, stream()));
    SGDSWEEP_CUDA(cudaMemsetAsync(correct, 0, bytes, stream()));
    return;
  }
  // Every problem's row losses, then every problem's row correctness: the sums' 2·pack runs of
  // `rows` doubles, added by one launch.
  const std::int64_t count = pack * rows;
  double* row_losses = partials(static_cast<std::size_t>(2 * count));
  double* row_correct = row_losses + count;
  const auto blocks = static_cast<unsigned>(count);
  // The block size is a function of the shape only (a warp for CIFAR's 10 or 100 classes).
  if (classes <= 128) {
    softmax_cross_entropy_rows<32><<<blocks, 32, 0, stream()>>>(logits, stride_logits, labels, stride_labels, rows,
                                                                classes, gradient, gradient_scale, row_losses,
                                                                row_correct);
  } else {
    softmax_cross_entropy_rows<kThreads><<<blocks, kThreads, 0, stream()>>>(
        logits, stride_logits, labels, stride_labels, rows, classes, gradient, gradient_scale, row_losses,
        row_correct);
  }
  SGDSWEEP_CUDA(cudaGetLastError());
  sum_doubles(row_losses, rows, loss_sums, pack, correct);
}

}  // namespace sgdsweep::ops::cuda
