// Recorded steps on the GPU: the ops of a training step captured once from the backend's stream
// into a CUDA graph and replayed as one launch (issue #4: launch overhead dominates small batches).
#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {
namespace {

class GraphRecording final : public Backend::Recording {
 public:
  GraphRecording(CudaBackend& backend, std::function<void()> body) : backend_(backend), body_(std::move(body)) {}
  ~GraphRecording() override {
    if (graph_) cudaGraphExecDestroy(graph_);
  }

  // Captures the body (which issues its ops into the graph, not to the GPU), then launches it once.
  void capture() {
    if (graph_) cudaGraphExecDestroy(graph_);
    graph_ = nullptr;
    epoch_ = ~std::uint64_t{0};  // until this capture succeeds, a replay captures again
    cudaGraph_t graph = nullptr;
    backend_.take_freed_while_capturing();
    SGDSWEEP_CUDA(cudaStreamBeginCapture(backend_.stream(), cudaStreamCaptureModeThreadLocal));
    try {
      body_();
    } catch (...) {
      cudaStreamEndCapture(backend_.stream(), &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    SGDSWEEP_CUDA(cudaStreamEndCapture(backend_.stream(), &graph));
    if (backend_.take_freed_while_capturing()) {
      cudaGraphDestroy(graph);
      fail("cuda backend: memory freed inside a recorded step (a replay would free it again; keep the step's "
           "buffers alive across steps)");
    }
    const cudaError_t instantiated = cudaGraphInstantiate(&graph_, graph, 0);
    cudaGraphDestroy(graph);
    SGDSWEEP_CUDA(instantiated);
    epoch_ = backend_.memory_epoch();
    SGDSWEEP_CUDA(cudaGraphLaunch(graph_, backend_.stream()));
  }

  void replay() override {
    if (backend_.memory_epoch() != epoch_) {  // scratch moved since the capture: capture again
      capture();
      return;
    }
    SGDSWEEP_CUDA(cudaGraphLaunch(graph_, backend_.stream()));
  }

 private:
  CudaBackend& backend_;
  std::function<void()> body_;
  cudaGraphExec_t graph_ = nullptr;
  std::uint64_t epoch_ = 0;
};

}  // namespace

void CudaBackend::refuse_while_capturing(const char* what) const {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  SGDSWEEP_CUDA(cudaStreamIsCapturing(stream_, &status));
  if (status != cudaStreamCaptureStatusNone) {
    fail("cuda backend: ", what, " inside a recorded step (a recorded step issues device ops only; run "
         "it once unrecorded first so that scratch memory has its size)");
  }
}

std::unique_ptr<Backend::Recording> CudaBackend::record(std::function<void()> body) {
  auto recording = std::make_unique<GraphRecording>(*this, std::move(body));
  recording->capture();
  return recording;
}

}  // namespace sgdsweep::ops::cuda
