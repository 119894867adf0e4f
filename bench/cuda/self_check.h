#pragma once
// The comparator judged before it judges anything: the cuDNN-composed forward and backward on the
// GPU against the library's CPU implementation in float64, on small odd-sized cases and on the
// first benchmark configuration. Needs no CUDA kernel of the library.
#include <cstdint>
#include <cstdio>

#include <cuda_runtime.h>

namespace wtconv::bench {

struct SelfCheckShape {
    std::int64_t n, c, h, w;
    int kernel_size, levels;
};

// Runs the built-in cases plus `extra`, printing one line per case to out. True when y, dx and
// every weight gradient agree within relative L2 1e-5 on every case.
bool comparator_self_check(int device,
                           cudaStream_t stream,
                           const SelfCheckShape& extra,
                           std::FILE* out);

}  // namespace wtconv::bench
