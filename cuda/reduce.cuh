#pragma once
// Deterministic block sums: every thread's partial goes through the same warp-shuffle tree and the
// same fixed-order combination of warps, so a sum depends only on the inputs and the block size,
// never on timing. No atomics: gradients are bitwise repeatable.
#include <cuda_runtime.h>

namespace wtconv::cuda {

template <class A>
__device__ inline A warp_sum(A v) {
    for (int offset = 16; offset > 0; offset /= 2) {
        v += __shfl_down_sync(0xffffffffu, v, offset);
    }
    return v;
}

// The sum of v over the block (blockDim.x a multiple of 32, at most 1024), valid in thread 0.
// Every thread of the block must call it; scratch holds 32 values.
template <class A>
__device__ inline A block_sum(A v, A* scratch) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    v = warp_sum(v);
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    A total = 0;
    if (warp == 0) {
        total = lane < static_cast<int>(blockDim.x / 32) ? scratch[lane] : A(0);
        total = warp_sum(total);
    }
    __syncthreads();  // scratch may be reused by the caller's next block_sum
    return total;
}

}  // namespace wtconv::cuda
