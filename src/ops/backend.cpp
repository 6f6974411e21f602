// The op interface's default implementations: recording by keeping the callable, packs as loops
// over the unpacked ops (the host's packed ops; a GPU backend overrides them with batched
// launches), and the free memory of the node.
#include "ops/backend.hpp"

#include <unistd.h>

#include <fstream>
#include <string>

#include "util/error.hpp"

namespace sgdsweep::ops {
namespace {

// Keeps the callable; runs it with `inside` set (Backend::refuse_inside_recording), and fails
// after it where it freed memory (`freed`, Backend::refuse_free_inside_recording).
class CallableRecording final : public Backend::Recording {
 public:
  CallableRecording(std::function<void()> body, bool& inside, bool& freed)
      : body_(std::move(body)), inside_(inside), freed_(freed) {}
  void replay() override {
    inside_ = true;
    freed_ = false;
    try {
      body_();
    } catch (...) {
      inside_ = false;
      throw;
    }
    inside_ = false;
    if (freed_) {
      freed_ = false;
      fail("host backend: memory freed inside a recorded step (a replay would free it again; keep the step's "
           "buffers alive across steps)");
    }
  }

 private:
  std::function<void()> body_;
  bool& inside_;
  bool& freed_;
};

}  // namespace

std::unique_ptr<Backend::Recording> Backend::record(std::function<void()> body) {
  auto recording = std::make_unique<CallableRecording>(std::move(body), inside_recording_, freed_inside_recording_);
  recording->replay();
  return recording;
}

void Backend::refuse_inside_recording(const char* what) const {
  if (inside_recording_) {
    fail(name(), " backend: ", what, " inside a recorded step (a recorded step issues backend ops only; run it "
         "once unrecorded first so that scratch memory has its size, and keep what changes between steps in "
         "backend memory)");
  }
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

void Backend::fill_packed(std::int64_t pack, float* x, std::int64_t stride, std::int64_t count, float value) {
  for (std::int64_t p = 0; p < pack; ++p) fill(x + p * stride, count, value);
}

void Backend::copy_packed(std::int64_t pack, float* destination, std::int64_t stride_destination, const float* source,
                          std::int64_t stride_source, std::int64_t count) {
  for (std::int64_t p = 0; p < pack; ++p) {
    copy(destination + p * stride_destination, source + p * stride_source, static_cast<std::size_t>(count) * sizeof(float));
  }
}

void Backend::axpby_packed(std::int64_t pack, float alpha, const float* x, std::int64_t stride_x, float beta, float* y,
                           std::int64_t stride_y, std::int64_t count) {
  for (std::int64_t p = 0; p < pack; ++p) axpby(alpha, x + p * stride_x, beta, y + p * stride_y, count);
}

void Backend::gather_rows_packed(std::int64_t pack, const float* table, std::int64_t stride_table, std::int64_t columns,
                                 const std::int32_t* rows, std::int64_t stride_rows, std::int64_t count, float* out,
                                 std::int64_t stride_out) {
  for (std::int64_t p = 0; p < pack; ++p) {
    gather_rows(table + p * stride_table, columns, rows + p * stride_rows, count, out + p * stride_out);
  }
}

void Backend::scatter_add_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x, std::int64_t columns,
                                      const std::int32_t* rows, std::int64_t stride_rows, std::int64_t count,
                                      float* table, std::int64_t stride_table) {
  for (std::int64_t p = 0; p < pack; ++p) {
    scatter_add_rows(x + p * stride_x, columns, rows + p * stride_rows, count, table + p * stride_table);
  }
}

void Backend::lstm_cell_forward_packed(std::int64_t pack, float* gates, std::int64_t stride_gates, const float* c_prev,
                                       std::int64_t stride_c_prev, float* c, float* h, std::int64_t stride_state,
                                       std::int64_t rows, std::int64_t hidden) {
  for (std::int64_t p = 0; p < pack; ++p) {
    lstm_cell_forward(gates + p * stride_gates, c_prev + p * stride_c_prev, c + p * stride_state,
                      h + p * stride_state, rows, hidden);
  }
}

void Backend::lstm_cell_backward_packed(std::int64_t pack, const float* gates, float* gate_gradient,
                                        std::int64_t stride_gates, const float* c_prev, std::int64_t stride_c_prev,
                                        const float* c, const float* dh, std::int64_t stride_state, float* dc,
                                        std::int64_t stride_dc, std::int64_t rows, std::int64_t hidden) {
  for (std::int64_t p = 0; p < pack; ++p) {
    lstm_cell_backward(gates + p * stride_gates, c_prev + p * stride_c_prev, c + p * stride_state,
                       dh + p * stride_state, dc + p * stride_dc, gate_gradient + p * stride_gates, rows, hidden);
  }
}

void Backend::softmax_cross_entropy_packed(std::int64_t pack, const float* logits, std::int64_t stride_logits,
                                           const std::int32_t* labels, std::int64_t stride_labels, std::int64_t rows,
                                           std::int64_t classes, float* gradient, float gradient_scale,
                                           double* loss_sums, double* correct) {
  for (std::int64_t p = 0; p < pack; ++p) {
    softmax_cross_entropy(logits + p * stride_logits, labels + p * stride_labels, rows, classes,
                          gradient ? gradient + p * stride_logits : nullptr, gradient_scale, loss_sums + p,
                          correct + p);
  }
}

void Backend::conv2d_forward_packed(std::int64_t pack, const Conv2dShape& shape, const float* x, std::int64_t stride_x,
                                    const float* weights, std::int64_t stride_weights, float* y, std::int64_t stride_y) {
  for (std::int64_t p = 0; p < pack; ++p) {
    conv2d_forward(shape, x + p * stride_x, weights + p * stride_weights, y + p * stride_y);
  }
}

void Backend::conv2d_backward_data_packed(std::int64_t pack, const Conv2dShape& shape, const float* dy,
                                          std::int64_t stride_y, const float* weights, std::int64_t stride_weights,
                                          float* dx, std::int64_t stride_x) {
  for (std::int64_t p = 0; p < pack; ++p) {
    conv2d_backward_data(shape, dy + p * stride_y, weights + p * stride_weights, dx + p * stride_x);
  }
}

void Backend::conv2d_backward_filter_packed(std::int64_t pack, const Conv2dShape& shape, const float* x,
                                            std::int64_t stride_x, const float* dy, std::int64_t stride_y,
                                            float* weight_gradient, std::int64_t stride_weights) {
  for (std::int64_t p = 0; p < pack; ++p) {
    conv2d_backward_filter(shape, x + p * stride_x, dy + p * stride_y, weight_gradient + p * stride_weights);
  }
}

void Backend::batch_norm_forward_training_packed(std::int64_t pack, const float* x, std::int64_t stride_x,
                                                 std::int64_t rows, std::int64_t channels, const float* gamma,
                                                 const float* beta, std::int64_t stride_parameters, float epsilon,
                                                 float* y, float* mean, float* inv_std, float* unbiased_variance) {
  for (std::int64_t p = 0; p < pack; ++p) {
    const std::int64_t q = p * stride_parameters;
    batch_norm_forward_training(x + p * stride_x, rows, channels, gamma + q, beta + q, epsilon, y + p * stride_x,
                                mean + q, inv_std + p * channels, unbiased_variance + q);
  }
}

void Backend::batch_norm_backward_packed(std::int64_t pack, const float* x, const float* dy, std::int64_t stride_x,
                                         std::int64_t rows, std::int64_t channels, const float* gamma,
                                         const float* mean, std::int64_t stride_parameters, const float* inv_std,
                                         float* dx, float* gamma_gradient, float* beta_gradient) {
  for (std::int64_t p = 0; p < pack; ++p) {
    const std::int64_t q = p * stride_parameters;
    batch_norm_backward(x + p * stride_x, dy + p * stride_x, rows, channels, gamma + q, mean + q,
                        inv_std + p * channels, dx + p * stride_x, gamma_gradient + q, beta_gradient + q);
  }
}

void Backend::add_scaled_packed(std::int64_t pack, const float* a, const float* b, std::int64_t stride,
                                const float* scale, std::int64_t stride_scalar, float* y, std::int64_t count) {
  for (std::int64_t p = 0; p < pack; ++p) {
    add_scaled(a ? a + p * stride : nullptr, b + p * stride, scale ? scale + p * stride_scalar : nullptr, y + p * stride, count);
  }
}

void Backend::dot_packed(std::int64_t pack, const float* x, const float* y, std::int64_t stride, std::int64_t count,
                         float* out, std::int64_t stride_scalar) {
  for (std::int64_t p = 0; p < pack; ++p) dot(x + p * stride, y + p * stride, count, out + p * stride_scalar);
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
