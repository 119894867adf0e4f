#pragma once
// Benchmark inputs made on the GPU: seeded normal float32 values and their bfloat16 rounding.
// Generating on the device keeps the set-up of the large configurations (hundreds of MB of
// rotated inputs) to milliseconds instead of seconds of host RNG and copies.
#include <cstdint>

#include <cuda_runtime.h>

namespace wtconv::bench {

// dst[i] = N(0, stddev) from a counter-based hash of (seed, i): the same values for the same
// seed on any GPU, never all zero.
void fill_normal_f32(float* dst, std::int64_t n, std::uint64_t seed, float stddev, cudaStream_t s);

// dst (n bfloat16 values) = round-to-nearest-even of src.
void convert_f32_to_bf16(const float* src, void* dst, std::int64_t n, cudaStream_t s);

}  // namespace wtconv::bench
