#pragma once
// CUDA memory statistics and the cache behind them. Tensor memory comes from each device's
// stream-ordered pool, which keeps freed memory for the next allocation instead of returning it to
// the driver; these calls show how much is held and give the cache back. In a build without CUDA
// the statistics are zeros and the other calls do nothing.
#include <cstddef>

namespace wtconv {

struct CudaMemoryStats {
    std::size_t allocated_bytes = 0;       // held by live tensors now
    std::size_t peak_allocated_bytes = 0;  // the most held at once since the last reset
    std::size_t reserved_bytes = 0;        // held by the library's pool (cached included)
};

// Each throws Error(kBadArgument) naming `device` unless 0 <= device < cuda_device_count() (in a
// build with CUDA).
CudaMemoryStats cuda_memory_stats(int device = 0);
// peak_allocated_bytes := allocated_bytes now.
void cuda_reset_peak_memory(int device = 0);
// Waits for all work on the device, then returns the memory no tensor holds to the driver, for
// other processes or for libraries that allocate outside the pool, with the library's own
// per-device state (the cuBLAS handle, the wavkan value checks' per-thread buffers). No CUDA op may
// run in another thread meanwhile. Call it for every device used before cudaDeviceReset: state
// left from before a reset would be freed through dangling handles when its thread exits.
void cuda_empty_cache(int device = 0);

}  // namespace wtconv
