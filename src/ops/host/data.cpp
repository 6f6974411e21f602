// Host data ops: minibatch gathers (bytes, floats, augmented images) and the embedding scatter.
#include "ops/host/host_backend.hpp"

namespace sgdsweep::ops::host {

void HostBackend::gather_rows_u8(const std::uint8_t* table, std::int64_t columns,
                                 const std::int32_t* rows, std::int64_t count, float scale,
                                 float* out) {
  Kokkos::parallel_for("sgdsweep::gather_rows_u8", Range(0, count), [=](std::int64_t i) {
    const std::uint8_t* source = table + static_cast<std::int64_t>(rows[i]) * columns;
    float* destination = out + i * columns;
    for (std::int64_t j = 0; j < columns; ++j) destination[j] = scale * source[j];
  });
}

void HostBackend::gather_rows(const float* table, std::int64_t columns, const std::int32_t* rows,
                              std::int64_t count, float* out) {
  Kokkos::parallel_for("sgdsweep::gather_rows", Range(0, count), [=](std::int64_t i) {
    std::memcpy(out + i * columns, table + static_cast<std::int64_t>(rows[i]) * columns,
                static_cast<std::size_t>(columns) * sizeof(float));
  });
}

void HostBackend::scatter_add_rows(const float* x, std::int64_t columns, const std::int32_t* rows,
                                   std::int64_t count, float* table) {
  // Sequential over i: rows may repeat, and the contract fixes the order of the additions.
  for (std::int64_t i = 0; i < count; ++i) {
    float* destination = table + static_cast<std::int64_t>(rows[i]) * columns;
    const float* source = x + i * columns;
    for (std::int64_t j = 0; j < columns; ++j) destination[j] += source[j];
  }
}

void HostBackend::gather_images_u8(const std::uint8_t* table, std::int64_t height,
                                   std::int64_t width, std::int64_t channels,
                                   const std::int32_t* rows, const std::int32_t* augmentation,
                                   std::int64_t padding, std::int64_t count, const float* mean,
                                   const float* inv_std, float* out) {
  Kokkos::parallel_for("sgdsweep::gather_images_u8", Range(0, count), [=](std::int64_t i) {
    float* target = out + i * height * width * channels;
    for (std::int64_t y = 0; y < height; ++y) {
      for (std::int64_t x = 0; x < width; ++x) {
        for (std::int64_t c = 0; c < channels; ++c) {
          *target++ = augmented_pixel(table, height, width, channels, rows, augmentation, padding, mean, inv_std, i, y, x, c);
        }
      }
    }
  });
}

}  // namespace sgdsweep::ops::host
