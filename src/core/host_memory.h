#pragma once
// Host allocation for tensor storage: small blocks from the C++ heap, large ones (at least
// kLargeHostBlock) through the block cache of include/wtconv/host_memory.h.
#include <cstddef>

namespace wtconv::detail {

// 2 MiB: large blocks are aligned to it and rounded up to a multiple of it, so that they can be
// backed by transparent huge pages and a cached block serves every size that rounds the same.
constexpr std::size_t kLargeHostBlock = std::size_t{1} << 21;

// Throws Error(kOutOfMemory) when even an emptied cache leaves no memory.
void* host_allocate(std::size_t bytes);
// bytes: what host_allocate was asked for.
void host_deallocate(void* ptr, std::size_t bytes) noexcept;

// WTCONV_HOST_CACHE_MB's value in bytes; throws Error(kBadArgument) naming the variable unless
// text is a non-negative integer of mebibytes.
std::size_t parse_host_cache_mb(const char* text);

}  // namespace wtconv::detail
