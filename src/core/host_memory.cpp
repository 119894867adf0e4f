// Host tensor memory (src/core/host_memory.h) and its statistics and cache
// (include/wtconv/host_memory.h).
#include "core/host_memory.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <sys/mman.h>
#include <vector>

#include <wtconv/error.h>
#include <wtconv/host_memory.h>

#if defined(__SANITIZE_ADDRESS__)
#define WTCONV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WTCONV_ASAN 1
#endif
#endif

namespace wtconv::detail {

namespace {

// Under AddressSanitizer the cache starts off: a block reused at once would hide a use after free.
#if defined(WTCONV_ASAN)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
// 2 GiB: the largest activations of ResNet-18 at batch 32 (102 MB) many times over.
constexpr std::size_t kDefaultCacheLimit = std::size_t{2} << 30;
constexpr std::align_val_t kSmallAlignment{64};  // one AVX-512 packet, one cache line
constexpr std::align_val_t kLargeAlignment{kLargeHostBlock};

std::size_t large_block_size(std::size_t bytes) {
    return (bytes + kLargeHostBlock - 1) / kLargeHostBlock * kLargeHostBlock;
}

// WTCONV_HOST_CACHE_MB, or the default where it is unset.
std::size_t initial_cache_limit() {
    const char* text = std::getenv("WTCONV_HOST_CACHE_MB");
    if (text != nullptr) {
        return parse_host_cache_mb(text);
    }
    return kAddressSanitizer ? 0 : kDefaultCacheLimit;
}

void free_large(void* ptr) noexcept {
    ::operator delete(ptr, kLargeAlignment);
}

// Freed large blocks by rounded size; the oldest go first when the limit is reached.
class BlockCache {
public:
    BlockCache() : limit_(initial_cache_limit()) {}

    void* take(std::size_t size) {
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            // the most recently freed block of this size: its pages are likelier to be cached
            auto best = free_.end();
            for (auto it = free_.begin(); it != free_.end(); ++it) {
                if (it->size == size && (best == free_.end() || it->age > best->age)) {
                    best = it;
                }
            }
            if (best != free_.end()) {
                void* ptr = best->ptr;
                cached_ -= size;
                free_.erase(best);
                ++hits_;
                return ptr;
            }
            ++misses_;
            // Fresh memory beside the cache: the oldest cached blocks go first until the cache
            // and the new block fit the limit, so blocks of sizes no longer asked for do not sit
            // idle while live memory grows (allocation failure is rare to see under Linux's
            // overcommit, which kills the process instead).
            evict_beyond(size >= limit_ ? 0 : limit_ - size);
        }
        void* ptr = ::operator new(size, kLargeAlignment, std::nothrow);
        if (ptr == nullptr) {
            empty();
            ptr = ::operator new(size, kLargeAlignment, std::nothrow);
        }
        WTCONV_CHECK_CODE(ptr != nullptr, ErrorCode::kOutOfMemory, "tensor: host allocation of ",
                          size, " bytes failed");
        // Huge pages: a fresh 16 MiB output in 4 KiB pages cost 4096 page faults, which on a VM
        // took longer (25-45 ms) than the WTConv forward that filled it (about 2 ms). Advice
        // only: where transparent huge pages are off, small pages still work.
        madvise(ptr, size, MADV_HUGEPAGE);
        return ptr;
    }

    void give(void* ptr, std::size_t size) noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (size > limit_) {
            free_large(ptr);
            return;
        }
        try {
            free_.push_back(Entry{size, ptr, ++clock_});
        } catch (const std::bad_alloc&) {
            free_large(ptr);  // the list could not grow: not cached
            return;
        }
        cached_ += size;
        evict_beyond(limit_);
    }

    void empty() noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        evict_beyond(0);
    }

    std::size_t limit() {
        const std::lock_guard<std::mutex> lock(mutex_);
        return limit_;
    }

    void set_limit(std::size_t bytes) noexcept {
        const std::lock_guard<std::mutex> lock(mutex_);
        limit_ = bytes;
        evict_beyond(limit_);
    }

    void fill(HostMemoryStats& s) {
        const std::lock_guard<std::mutex> lock(mutex_);
        s.cached_bytes = cached_;
        s.cache_hits = hits_;
        s.cache_misses = misses_;
    }

private:
    struct Entry {
        std::size_t size;
        void* ptr;
        std::uint64_t age;
    };

    // Frees the oldest entries until at most `target` bytes stay cached (under the lock: a few
    // munmap calls, rare next to the allocations they save).
    void evict_beyond(std::size_t target) noexcept {
        while (cached_ > target) {
            const auto oldest =
                std::min_element(free_.begin(), free_.end(),
                                 [](const Entry& a, const Entry& b) { return a.age < b.age; });
            cached_ -= oldest->size;
            free_large(oldest->ptr);
            free_.erase(oldest);
        }
    }

    std::mutex mutex_;
    std::vector<Entry> free_;
    std::size_t cached_ = 0;
    std::size_t limit_;
    std::uint64_t clock_ = 0;
    std::size_t hits_ = 0;
    std::size_t misses_ = 0;
};

// Never destroyed: tensors in static storage may be freed after any other static is gone.
BlockCache& cache() {
    static BlockCache* const instance = new BlockCache();
    return *instance;
}

std::atomic<std::size_t> allocated_bytes{0};
std::atomic<std::size_t> peak_allocated_bytes{0};

void count_allocation(std::size_t bytes) noexcept {
    const std::size_t now = allocated_bytes.fetch_add(bytes) + bytes;
    std::size_t peak = peak_allocated_bytes.load();
    while (now > peak && !peak_allocated_bytes.compare_exchange_weak(peak, now)) {
    }
}

}  // namespace

std::size_t parse_host_cache_mb(const char* text) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long mebibytes = std::strtoull(text, &end, 10);
    // strtoull accepts leading blanks and a sign: digits only here
    const bool digits = *text >= '0' && *text <= '9';
    WTCONV_CHECK_CODE(digits && *end == '\0' && errno == 0 && mebibytes <= (SIZE_MAX >> 20),
                      ErrorCode::kBadArgument,
                      "WTCONV_HOST_CACHE_MB: expected a non-negative integer (mebibytes), got '",
                      text, "'");
    return static_cast<std::size_t>(mebibytes) << 20;
}

void* host_allocate(std::size_t bytes) {
    // rounding up to whole large blocks must not wrap around to a small size
    WTCONV_CHECK_CODE(bytes <= SIZE_MAX - kLargeHostBlock, ErrorCode::kOutOfMemory,
                      "tensor: host allocation of ", bytes, " bytes failed");
    void* ptr = nullptr;
    if (bytes >= kLargeHostBlock) {
        ptr = cache().take(large_block_size(bytes));
    } else {
        ptr = ::operator new(bytes, kSmallAlignment, std::nothrow);
        WTCONV_CHECK_CODE(ptr != nullptr, ErrorCode::kOutOfMemory, "tensor: host allocation of ",
                          bytes, " bytes failed");
    }
    count_allocation(bytes);
    return ptr;
}

void host_deallocate(void* ptr, std::size_t bytes) noexcept {
    allocated_bytes.fetch_sub(bytes);
    if (bytes >= kLargeHostBlock) {
        cache().give(ptr, large_block_size(bytes));
    } else {
        ::operator delete(ptr, kSmallAlignment);
    }
}

}  // namespace wtconv::detail

namespace wtconv {

HostMemoryStats host_memory_stats() {
    HostMemoryStats s;
    s.allocated_bytes = detail::allocated_bytes.load();
    s.peak_allocated_bytes = detail::peak_allocated_bytes.load();
    detail::cache().fill(s);
    return s;
}

void host_reset_peak_memory() {
    detail::peak_allocated_bytes.store(detail::allocated_bytes.load());
}

void host_empty_cache() {
    detail::cache().empty();
}

std::size_t host_cache_limit() {
    return detail::cache().limit();
}

void set_host_cache_limit(std::size_t bytes) {
    detail::cache().set_limit(bytes);
}

}  // namespace wtconv
