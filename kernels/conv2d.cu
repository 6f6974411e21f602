// CUDA 2-D convolution, NHWC activations and OHWI (cuDNN's KRSC) filters, by cuDNN. A plan per
// shape holds the descriptors and the algorithms, chosen once from cuDNN's heuristics: without
// TF32 only FMA (true FP32) algorithms; in deterministic mode (the default) only algorithms cuDNN
// marks deterministic, so the filter and data gradients repeat bit for bit run to run.
#include <algorithm>

#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {
namespace {

constexpr std::size_t kWorkspaceLimit = std::size_t{1} << 30;  // no algorithm needing more than 1 GiB

// The first of cuDNN's ranked candidates that runs, fits the workspace limit, and meets the
// precision and determinism the options ask for.
template <class Perf>
const Perf* choose(const Perf* candidates, int count, const CudaOptions& options) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = candidates[i];
    const bool tensor_cores = p.mathType == CUDNN_TENSOR_OP_MATH || p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kWorkspaceLimit) continue;
    if (tensor_cores && !options.tf32) continue;
    if (options.deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    return &p;
  }
  return nullptr;
}

std::string describe(const Conv2dShape& s) {
  return concat(s.batch, "×", s.height, "×", s.width, "×", s.in_channels, " → ", s.out_channels,
                " channels, kernel ", s.kernel, ", stride ", s.stride, ", padding ", s.padding);
}

}  // namespace

const ConvolutionPlan& CudaBackend::convolution_plan(const Conv2dShape& s) {
  const auto key = std::make_tuple(s.batch, s.height, s.width, s.in_channels, s.out_channels, s.kernel,
                                   s.stride, s.padding);
  if (auto found = convolution_plans_.find(key); found != convolution_plans_.end()) return found->second;

  ConvolutionPlan plan;
  SGDSWEEP_CUDNN(cudnnCreateTensorDescriptor(&plan.x));
  SGDSWEEP_CUDNN(cudnnCreateTensorDescriptor(&plan.y));
  SGDSWEEP_CUDNN(cudnnCreateFilterDescriptor(&plan.w));
  SGDSWEEP_CUDNN(cudnnCreateConvolutionDescriptor(&plan.convolution));
  const auto i32 = [](std::int64_t v) { return static_cast<int>(v); };
  SGDSWEEP_CUDNN(cudnnSetTensor4dDescriptor(plan.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, i32(s.batch),
                                            i32(s.in_channels), i32(s.height), i32(s.width)));
  SGDSWEEP_CUDNN(cudnnSetTensor4dDescriptor(plan.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, i32(s.batch),
                                            i32(s.out_channels), i32(s.out_height()), i32(s.out_width())));
  SGDSWEEP_CUDNN(cudnnSetFilter4dDescriptor(plan.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, i32(s.out_channels),
                                            i32(s.in_channels), i32(s.kernel), i32(s.kernel)));
  SGDSWEEP_CUDNN(cudnnSetConvolution2dDescriptor(plan.convolution, i32(s.padding), i32(s.padding), i32(s.stride),
                                                 i32(s.stride), 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  SGDSWEEP_CUDNN(cudnnSetConvolutionMathType(plan.convolution, options_.tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));

  int returned = 0;
  cudnnConvolutionFwdAlgoPerf_t forward[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  SGDSWEEP_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(cudnn_, plan.x, plan.w, plan.convolution, plan.y,
                                                        CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, forward));
  const auto* f = choose(forward, returned, options_);
  cudnnConvolutionBwdDataAlgoPerf_t data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  SGDSWEEP_CUDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn_, plan.w, plan.y, plan.convolution, plan.x,
                                                             CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, data));
  const auto* d = choose(data, returned, options_);
  cudnnConvolutionBwdFilterAlgoPerf_t filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  SGDSWEEP_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn_, plan.x, plan.y, plan.convolution, plan.w,
                                                               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                               filter));
  const auto* g = choose(filter, returned, options_);
  if (!f || !d || !g) {
    fail("cuDNN offers no ", options_.deterministic ? "deterministic " : "", options_.tf32 ? "" : "FP32 ",
         !f ? "forward" : !d ? "backward-data" : "backward-filter", " algorithm for the convolution ", describe(s),
         options_.deterministic ? " (deterministic = false under [sweep] allows the others)" : "");
  }
  plan.forward = f->algo;
  plan.backward_data = d->algo;
  plan.backward_filter = g->algo;
  // The workspace each chosen algorithm asks for (the heuristics' estimates are not binding).
  std::size_t forward_bytes = 0, data_bytes = 0, filter_bytes = 0;
  SGDSWEEP_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(cudnn_, plan.x, plan.w, plan.convolution, plan.y,
                                                         plan.forward, &forward_bytes));
  SGDSWEEP_CUDNN(cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn_, plan.w, plan.y, plan.convolution, plan.x,
                                                              plan.backward_data, &data_bytes));
  SGDSWEEP_CUDNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn_, plan.x, plan.y, plan.convolution, plan.w,
                                                                plan.backward_filter, &filter_bytes));
  plan.workspace_bytes = std::max({forward_bytes, data_bytes, filter_bytes});
  return convolution_plans_.emplace(key, plan).first->second;
}

void CudaBackend::conv2d_forward(const Conv2dShape& s, const float* x, const float* weights, float* y) {
  const ConvolutionPlan& plan = convolution_plan(s);
  void* workspace = convolution_workspace(plan.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;
  SGDSWEEP_CUDNN(cudnnConvolutionForward(cudnn_, &one, plan.x, x, plan.w, weights, plan.convolution, plan.forward,
                                         workspace, plan.workspace_bytes, &zero, plan.y, y));
}

void CudaBackend::conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* weights, float* dx) {
  const ConvolutionPlan& plan = convolution_plan(s);
  void* workspace = convolution_workspace(plan.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;
  SGDSWEEP_CUDNN(cudnnConvolutionBackwardData(cudnn_, &one, plan.w, weights, plan.y, dy, plan.convolution,
                                              plan.backward_data, workspace, plan.workspace_bytes, &zero, plan.x,
                                              dx));
}

void CudaBackend::conv2d_backward_filter(const Conv2dShape& s, const float* x, const float* dy,
                                         float* weight_gradient) {
  const ConvolutionPlan& plan = convolution_plan(s);
  void* workspace = convolution_workspace(plan.workspace_bytes);
  const float one = 1.0f, zero = 0.0f;
  SGDSWEEP_CUDNN(cudnnConvolutionBackwardFilter(cudnn_, &one, plan.x, x, plan.y, dy, plan.convolution,
                                                plan.backward_filter, workspace, plan.workspace_bytes, &zero,
                                                plan.w, weight_gradient));
}

}  // namespace sgdsweep::ops::cuda
