#pragma once
// Launch arithmetic shared by the CUDA kernels: grid sizes for element-wise kernels, and the
// check that follows every launch.
#include <algorithm>
#include <cstdint>

#include "cuda/check.h"

namespace wtconv::cuda {

constexpr int kElementwiseThreads = 256;

// Blocks for a grid-stride loop over n elements: enough to fill the GPU, never more than needed.
inline unsigned elementwise_blocks(std::int64_t n) {
    const std::int64_t blocks = (n + kElementwiseThreads - 1) / kElementwiseThreads;
    return static_cast<unsigned>(std::clamp<std::int64_t>(blocks, 1, 65535 * 8));
}

}  // namespace wtconv::cuda

// After every launch: a bad configuration shows here, not at the next synchronisation.
#define WTCONV_CUDA_CHECK_LAUNCH() WTCONV_CUDA_CHECK(cudaGetLastError())

// for (i = first index of this thread; i < n; i += all threads of the grid)
#define WTCONV_GRID_STRIDE_LOOP(i, n)                                                       \
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; \
         i < (n); i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
