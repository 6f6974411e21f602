// CUDA 2-D convolution, NHWC activations and OHWI (cuDNN's KRSC) filters, by cuDNN. A plan per
// shape holds the descriptors and the algorithms, chosen once from cuDNN's heuristics: without
// TF32 only FMA (true FP32) algorithms; in deterministic mode (the default) only algorithms cuDNN
// marks deterministic, so the filter and data gradients repeat bit for bit run to run. The packed
// ops make each problem's call of the unpacked op, forked onto a few side streams (see "packs" below).
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

// One problem's cuDNN call of `pass` on `handle` (its stream) with `plan`'s algorithm and workspace size:
// forward y = conv(x, w) from (first, second) = (x, w); backward data dx from (dy, w); backward filter dw from
// (x, dy). The unpacked ops and every problem of a packed one go through here, so they make the same call.
void convolve(ConvolutionPass pass, cudnnHandle_t handle, void* workspace, const ConvolutionPlan& plan,
              const float* first, const float* second, float* out) {
  const float one = 1.0f, zero = 0.0f;
  switch (pass) {
    case ConvolutionPass::forward:
      SGDSWEEP_CUDNN(cudnnConvolutionForward(handle, &one, plan.x, first, plan.w, second, plan.convolution,
                                             plan.forward, workspace, plan.workspace_bytes, &zero, plan.y, out));
      return;
    case ConvolutionPass::backward_data:
      SGDSWEEP_CUDNN(cudnnConvolutionBackwardData(handle, &one, plan.w, second, plan.y, first, plan.convolution,
                                                  plan.backward_data, workspace, plan.workspace_bytes, &zero, plan.x,
                                                  out));
      return;
    case ConvolutionPass::backward_filter:
      SGDSWEEP_CUDNN(cudnnConvolutionBackwardFilter(handle, &one, plan.x, first, plan.y, second, plan.convolution,
                                                    plan.backward_filter, workspace, plan.workspace_bytes, &zero,
                                                    plan.w, out));
      return;
  }
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
  // A shape's first run belongs in the unrecorded step: its heuristics query and cuDNN's first use.
  refuse_while_capturing("a convolution shape not seen before");

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
  convolve_packed(ConvolutionPass::forward, 1, s, x, 0, weights, 0, y, 0);
}

void CudaBackend::conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* weights, float* dx) {
  convolve_packed(ConvolutionPass::backward_data, 1, s, dy, 0, weights, 0, dx, 0);
}

void CudaBackend::conv2d_backward_filter(const Conv2dShape& s, const float* x, const float* dy,
                                         float* weight_gradient) {
  convolve_packed(ConvolutionPass::backward_filter, 1, s, x, 0, dy, 0, weight_gradient, 0);
}

void CudaBackend::conv2d_forward_packed(std::int64_t pack, const Conv2dShape& s, const float* x, std::int64_t stride_x,
                                        const float* weights, std::int64_t stride_weights, float* y,
                                        std::int64_t stride_y) {
  convolve_packed(ConvolutionPass::forward, pack, s, x, stride_x, weights, stride_weights, y, stride_y);
}

void CudaBackend::conv2d_backward_data_packed(std::int64_t pack, const Conv2dShape& s, const float* dy,
                                              std::int64_t stride_y, const float* weights,
                                              std::int64_t stride_weights, float* dx, std::int64_t stride_x) {
  convolve_packed(ConvolutionPass::backward_data, pack, s, dy, stride_y, weights, stride_weights, dx, stride_x);
}

void CudaBackend::conv2d_backward_filter_packed(std::int64_t pack, const Conv2dShape& s, const float* x,
                                                std::int64_t stride_x, const float* dy, std::int64_t stride_y,
                                                float* weight_gradient, std::int64_t stride_weights) {
  convolve_packed(ConvolutionPass::backward_filter, pack, s, x, stride_x, dy, stride_y, weight_gradient,
                  stride_weights);
}

// ---- packs: a fork and join over side streams ---------------------------------------------------
//
// A problem's bits demand its own cuDNN call with the unpacked op's plan (a grouped convolution, or one over the
// problems as a batch, would run other algorithms), so a pack issues one call per problem and runs them side by
// side on kConvolutionStreams side streams ("lanes"): problem p on lane p mod kConvolutionStreams, with the lane's
// own cuDNN handle and workspace. A handle per lane, bound to its stream once (cudnnSetStream), never switched:
// a handle holds state of its own (its stream, whatever cuDNN prepares for the calls it runs), which calls running
// at the same time on several streams should not share. cuDNN's thread-safety rule (threads must not use one
// handle at the same time; one thread may hold a few handles) is kept: one thread issues everything.
//
// Fork: an event recorded on the backend's stream, waited on by every lane used; join: an event recorded on each
// lane, waited on by the backend's stream. Eagerly this orders the lanes after everything issued before the op and
// everything issued after it after the lanes (a copy to the host synchronizes the backend's stream, hence the
// lanes too; the destructor likewise). Inside a recording (graph.cu captures the backend's stream), CUDA's stream
// capture follows the same events across streams: a lane waiting on an event recorded in the capture joins it, its
// calls become graph nodes on a branch of their own, and the join brings it back before the capture ends (a lane
// left out would fail cudaStreamEndCapture with cudaErrorStreamCaptureUnjoined). The replay then runs the branches
// side by side without the lanes.
//
// Memory: every lane's workspace has its size before the fork. grow() frees and allocates on the backend's
// stream: the old buffer's last user was its lane, joined back before this op, and the fork orders the new
// buffer's allocation (and zeroing) before the lane's use of it. Lanes and handles are created on the first
// packed convolution with pack > 1, which the first, unrecorded step of a pack makes; so are each lane's
// workspace size and whatever cuDNN prepares per handle and shape, problem p taking the same lane every step.

void CudaBackend::create_convolution_lanes() {
  if (convolution_lanes_created_) return;
  refuse_while_capturing("creating the packed convolutions' streams");
  SGDSWEEP_CUDA(cudaSetDevice(options_.device));  // the backend's device, as the constructor set it
  // Each piece only if missing, so that a failed attempt leaks nothing when tried again.
  if (!convolution_fork_) SGDSWEEP_CUDA(cudaEventCreateWithFlags(&convolution_fork_, cudaEventDisableTiming));
  for (ConvolutionLane& lane : convolution_lanes_) {
    // Non-blocking, as the backend's stream: no implicit synchronization with the legacy default stream.
    if (!lane.stream) SGDSWEEP_CUDA(cudaStreamCreateWithFlags(&lane.stream, cudaStreamNonBlocking));
    if (!lane.joined) SGDSWEEP_CUDA(cudaEventCreateWithFlags(&lane.joined, cudaEventDisableTiming));
    if (!lane.cudnn) {
      // The backend's handle has no settings but its stream (the math type is the plan's descriptor's).
      cudnnHandle_t handle = nullptr;
      SGDSWEEP_CUDNN(cudnnCreate(&handle));
      const cudnnStatus_t bound = cudnnSetStream(handle, lane.stream);
      if (bound != CUDNN_STATUS_SUCCESS) cudnnDestroy(handle);
      SGDSWEEP_CUDNN(bound);
      lane.cudnn = handle;
    }
  }
  convolution_lanes_created_ = true;
}

void CudaBackend::destroy_convolution_lanes() noexcept {
  for (ConvolutionLane& lane : convolution_lanes_) {
    if (lane.stream) cudaStreamSynchronize(lane.stream);
    if (lane.cudnn) cudnnDestroy(lane.cudnn);
    free_bytes(lane.workspace.data);  // on the backend's stream, synchronized by the destructor after this
    if (lane.joined) cudaEventDestroy(lane.joined);
    if (lane.stream) cudaStreamDestroy(lane.stream);
    lane = ConvolutionLane{};
  }
  if (convolution_fork_) cudaEventDestroy(convolution_fork_);
  convolution_fork_ = nullptr;
  convolution_lanes_created_ = false;
}

void CudaBackend::convolve_packed(ConvolutionPass pass, std::int64_t pack, const Conv2dShape& s, const float* first,
                                  std::int64_t stride_first, const float* second, std::int64_t stride_second,
                                  float* out, std::int64_t stride_out) {
  if (pack <= 0) return;
  const ConvolutionPlan& plan = convolution_plan(s);
  if (pack == 1) {  // the unpacked op: the backend's handle, stream and workspace
    convolve(pass, cudnn_, convolution_workspace(plan.workspace_bytes), plan, first, second, out);
    return;
  }
  create_convolution_lanes();
  const int lanes = static_cast<int>(std::min<std::int64_t>(pack, kConvolutionStreams));
  void* workspaces[kConvolutionStreams] = {};
  for (int i = 0; i < lanes; ++i) {  // all growing before the fork
    workspaces[i] = plan.workspace_bytes ? grow(convolution_lanes_[i].workspace, plan.workspace_bytes) : nullptr;
  }
  int forked = 0;
  const auto join = [&](bool check) {
    for (int i = 0; i < forked; ++i) {
      const cudaError_t recorded = cudaEventRecord(convolution_lanes_[i].joined, convolution_lanes_[i].stream);
      const cudaError_t waited = cudaStreamWaitEvent(stream_, convolution_lanes_[i].joined, 0);
      if (check) {
        SGDSWEEP_CUDA(recorded);
        SGDSWEEP_CUDA(waited);
      }
    }
  };
  try {
    SGDSWEEP_CUDA(cudaEventRecord(convolution_fork_, stream_));
    for (; forked < lanes; ++forked) {
      SGDSWEEP_CUDA(cudaStreamWaitEvent(convolution_lanes_[forked].stream, convolution_fork_, 0));
    }
    for (std::int64_t p = 0; p < pack; ++p) {
      const std::int64_t i = p % kConvolutionStreams;
      convolve(pass, convolution_lanes_[i].cudnn, workspaces[i], plan, first + p * stride_first,
               second + p * stride_second, out + p * stride_out);
    }
  } catch (...) {
    // Every lane forked rejoins, so that a capture can still end; the error in flight is the one to report, so
    // the join's own are not checked, and cleared.
    join(false);
    cudaGetLastError();
    throw;
  }
  join(true);
}

}  // namespace sgdsweep::ops::cuda
