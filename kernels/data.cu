// CUDA data ops: minibatch gathers (bytes, floats, augmented images) and the embedding scatter,
// element by element; the scatter keeps the host's order of additions (rows ascending per column).
// The floats' gather and the scatter are packed, the unpacked ops being the pack of one.
#include "cuda_backend.cuh"

namespace sgdsweep::ops::cuda {

void CudaBackend::gather_rows_u8(const std::uint8_t* table, std::int64_t columns,
                                 const std::int32_t* rows, std::int64_t count, float scale,
                                 float* out) {
  for_each(count * columns, [=] __device__(std::int64_t k) {
    const std::int64_t i = k / columns, j = k % columns;
    out[k] = scale * table[static_cast<std::int64_t>(rows[i]) * columns + j];
  });
}

void CudaBackend::gather_rows(const float* table, std::int64_t columns, const std::int32_t* rows,
                              std::int64_t count, float* out) {
  gather_rows_packed(1, table, 0, columns, rows, 0, count, out, 0);
}

void CudaBackend::gather_rows_packed(std::int64_t pack, const float* table, std::int64_t stride_table,
                                     std::int64_t columns, const std::int32_t* rows, std::int64_t stride_rows,
                                     std::int64_t count, float* out, std::int64_t stride_out) {
  const std::int64_t size = count * columns;
  for_each(pack * size, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / size, k = t % size, i = k / columns, j = k % columns;
    const std::int64_t row = rows[p * stride_rows + i];
    out[p * stride_out + k] = table[p * stride_table + row * columns + j];
  });
}

void CudaBackend::scatter_add_rows(const float* x, std::int64_t columns, const std::int32_t* rows,
                                   std::int64_t count, float* table) {
  scatter_add_rows_packed(1, x, 0, columns, rows, 0, count, table, 0);
}

void CudaBackend::scatter_add_rows_packed(std::int64_t pack, const float* x, std::int64_t stride_x,
                                          std::int64_t columns, const std::int32_t* rows, std::int64_t stride_rows,
                                          std::int64_t count, float* table, std::int64_t stride_table) {
  // Rows may repeat and the contract fixes the order: a thread per (problem, column) walks i = 0, 1, ….
  for_each(pack * columns, [=] __device__(std::int64_t t) {
    const std::int64_t p = t / columns, j = t % columns;
    const float* xp = x + p * stride_x;
    const std::int32_t* rp = rows + p * stride_rows;
    float* tp = table + p * stride_table;
    for (std::int64_t i = 0; i < count; ++i) tp[static_cast<std::int64_t>(rp[i]) * columns + j] += xp[i * columns + j];
  });
}

void CudaBackend::gather_images_u8(const std::uint8_t* table, std::int64_t height,
                                   std::int64_t width, std::int64_t channels,
                                   const std::int32_t* rows, const std::int32_t* augmentation,
                                   std::int64_t padding, std::int64_t count, const float* mean,
                                   const float* inv_std, float* out) {
  const std::int64_t image_size = height * width * channels;
  for_each(count * image_size, [=] __device__(std::int64_t k) {
    const std::int64_t i = k / image_size, within = k % image_size;
    const std::int64_t c = within % channels, pixel = within / channels;
    out[k] = augmented_pixel(table, height, width, channels, rows, augmentation, padding, mean, inv_std, i,
                             pixel / width, pixel % width, c);
  });
}

}  // namespace sgdsweep::ops::cuda
