#pragma once
// Host memory statistics and the cache of large blocks behind them. Host tensors of at least
// 2 MiB come from a cache that keeps freed blocks for the next tensor of the same rounded size,
// instead of returning them to the system: a fresh block costs a page fault and the zeroing of
// every page on first touch, which took 12 % of a ResNet-18 stem convolution's forward on a
// 2-core AMD EPYC (its 102 MB output, allocated in every call). Smaller tensors come from the
// C++ heap, which keeps its own free lists.
//
// The cache holds at most host_cache_limit() bytes: 2 GiB by default, or WTCONV_HOST_CACHE_MB
// mebibytes when that variable is set (a non-negative integer; 0 turns the cache off). A request
// it cannot serve first returns its oldest blocks until what stays cached and the new block fit
// the limit. Builds with AddressSanitizer start with the cache off, so that a use after free
// stays visible.
#include <cstddef>

namespace wtconv {

struct HostMemoryStats {
    std::size_t allocated_bytes = 0;       // held by live host tensors now (as requested)
    std::size_t peak_allocated_bytes = 0;  // the most held at once since the last reset
    std::size_t cached_bytes = 0;          // freed large blocks kept for reuse
    std::size_t cache_hits = 0;            // large allocations served from the cache
    std::size_t cache_misses = 0;          // large allocations that took fresh memory
};

HostMemoryStats host_memory_stats();
// peak_allocated_bytes := allocated_bytes now.
void host_reset_peak_memory();
// Returns every cached block to the system.
void host_empty_cache();
// The most bytes the cache keeps; lowering it releases the oldest blocks beyond it.
std::size_t host_cache_limit();
void set_host_cache_limit(std::size_t bytes);

}  // namespace wtconv
