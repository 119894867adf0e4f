// The host block cache (include/wtconv/host_memory.h): large host tensors reuse freed blocks of
// the same rounded size, the limit holds, statistics count what live tensors hold, and the
// environment variable is parsed strictly. Each test sets the limit it needs and restores it.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/error.h>
#include <wtconv/host_memory.h>
#include <wtconv/tensor.h>

#include "core/host_memory.h"

namespace wtconv::test {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

// A float32 host tensor of `bytes` bytes (a multiple of 4).
Tensor host_bytes(std::size_t bytes) {
    return Tensor::empty(Shape{static_cast<std::int64_t>(bytes / 4)}, DType::kFloat32, Device{});
}

class HostMemory : public ::testing::Test {
protected:
    void SetUp() override {
        saved_limit_ = host_cache_limit();
        host_empty_cache();
    }
    void TearDown() override {
        set_host_cache_limit(saved_limit_);
        host_empty_cache();
    }

private:
    std::size_t saved_limit_ = 0;
};

TEST_F(HostMemory, FreedLargeBlockServesTheNextTensorOfTheSameRoundedSize) {
    set_host_cache_limit(64 * kMiB);
    const HostMemoryStats before = host_memory_stats();
    const void* first = nullptr;
    {
        const Tensor a = host_bytes(4 * kMiB + 400);  // rounds to 6 MiB
        first = a.raw_data();
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % detail::kLargeHostBlock, 0u);
        EXPECT_EQ(host_memory_stats().cache_misses, before.cache_misses + 1);
    }
    EXPECT_EQ(host_memory_stats().cached_bytes, 6 * kMiB);
    const Tensor b = host_bytes(5 * kMiB);  // also 6 MiB
    EXPECT_EQ(b.raw_data(), first);
    const HostMemoryStats after = host_memory_stats();
    EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
    EXPECT_EQ(after.cached_bytes, 0u);
    // a tensor of another rounded size takes fresh memory
    const Tensor c = host_bytes(8 * kMiB);
    EXPECT_NE(c.raw_data(), first);
    EXPECT_EQ(host_memory_stats().cache_misses, before.cache_misses + 2);
}

TEST_F(HostMemory, SmallTensorsBypassTheCacheAndStayAligned) {
    set_host_cache_limit(64 * kMiB);
    {
        const Tensor small = host_bytes(detail::kLargeHostBlock - 4);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small.raw_data()) % 64, 0u);
    }
    EXPECT_EQ(host_memory_stats().cached_bytes, 0u);
}

TEST_F(HostMemory, LimitKeepsTheNewestBlocks) {
    set_host_cache_limit(10 * kMiB);
    std::vector<const void*> order;
    {
        std::vector<Tensor> live;
        for (int i = 0; i < 3; ++i) {
            live.push_back(host_bytes(4 * kMiB));
            order.push_back(live.back().raw_data());
        }
        for (Tensor& t : live) {  // freed in order 0, 1, 2: block 0 leaves when block 2 arrives
            t = Tensor();
        }
    }
    EXPECT_EQ(host_memory_stats().cached_bytes, 8 * kMiB);
    const Tensor x = host_bytes(4 * kMiB);
    const Tensor y = host_bytes(4 * kMiB);
    EXPECT_EQ(x.raw_data(), order[2]);  // the most recently freed first
    EXPECT_EQ(y.raw_data(), order[1]);
    EXPECT_EQ(host_memory_stats().cached_bytes, 0u);
}

TEST_F(HostMemory, LoweringTheLimitAndEmptyingReleaseBlocks) {
    set_host_cache_limit(64 * kMiB);
    { const std::vector<Tensor> live{host_bytes(4 * kMiB), host_bytes(4 * kMiB)}; }
    EXPECT_EQ(host_memory_stats().cached_bytes, 8 * kMiB);
    set_host_cache_limit(5 * kMiB);
    EXPECT_EQ(host_cache_limit(), 5 * kMiB);
    EXPECT_EQ(host_memory_stats().cached_bytes, 4 * kMiB);
    host_empty_cache();
    EXPECT_EQ(host_memory_stats().cached_bytes, 0u);
    EXPECT_EQ(host_cache_limit(), 5 * kMiB);  // emptying keeps the limit
}

TEST_F(HostMemory, ZeroLimitCachesNothing) {
    set_host_cache_limit(0);
    const HostMemoryStats before = host_memory_stats();
    { const Tensor a = host_bytes(4 * kMiB); }
    { const Tensor b = host_bytes(4 * kMiB); }
    const HostMemoryStats after = host_memory_stats();
    EXPECT_EQ(after.cached_bytes, 0u);
    EXPECT_EQ(after.cache_hits, before.cache_hits);
    EXPECT_EQ(after.cache_misses, before.cache_misses + 2);
}

TEST_F(HostMemory, AllocatedAndPeakCountLiveTensors) {
    set_host_cache_limit(64 * kMiB);
    const std::size_t start = host_memory_stats().allocated_bytes;
    host_reset_peak_memory();
    {
        const Tensor a = host_bytes(3 * kMiB);
        const Tensor b = host_bytes(1000);
        EXPECT_EQ(host_memory_stats().allocated_bytes, start + 3 * kMiB + 1000);
    }
    const HostMemoryStats s = host_memory_stats();
    EXPECT_EQ(s.allocated_bytes, start);
    EXPECT_EQ(s.peak_allocated_bytes, start + 3 * kMiB + 1000);
    host_reset_peak_memory();
    EXPECT_EQ(host_memory_stats().peak_allocated_bytes, start);
}

// Threads allocating, filling, checking and freeing large tensors of a few sizes at once: every
// tensor keeps its own contents (no block handed out twice) and the counts return to the start.
TEST_F(HostMemory, ConcurrentUseHandsEachBlockToOneTensor) {
    set_host_cache_limit(24 * kMiB);
    const std::size_t start = host_memory_stats().allocated_bytes;
    std::vector<std::thread> threads;
    std::vector<int> failures(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &failures] {
            std::mt19937 rng(static_cast<unsigned>(t));
            std::vector<std::pair<Tensor, float>> live;  // each tensor with the mark it holds
            for (int i = 0; i < 60; ++i) {
                if (live.size() < 3) {
                    Tensor a = host_bytes((2 + rng() % 4) * kMiB);
                    const float mark = static_cast<float>(t * 1000 + i);
                    std::fill_n(a.data<float>(), a.numel(), mark);
                    live.emplace_back(std::move(a), mark);
                } else {
                    const auto& [a, mark] = live.front();
                    const float* p = a.data<float>();
                    failures[t] += static_cast<int>(
                        std::count_if(p, p + a.numel(), [&](float v) { return v != mark; }));
                    live.erase(live.begin());
                }
            }
        });
    }
    for (std::thread& th : threads) {
        th.join();
    }
    for (int f : failures) {
        EXPECT_EQ(f, 0);
    }
    const HostMemoryStats s = host_memory_stats();
    EXPECT_EQ(s.allocated_bytes, start);
    EXPECT_LE(s.cached_bytes, 24 * kMiB);
}

// Requests no machine can hold fail with kOutOfMemory, the cache unchanged; near SIZE_MAX the
// rounding up to whole blocks must not wrap around to a small block.
TEST_F(HostMemory, ImpossibleRequestsThrowOutOfMemory) {
    set_host_cache_limit(64 * kMiB);
    const HostMemoryStats before = host_memory_stats();
    std::vector<std::int64_t> sizes{(std::int64_t{1} << 62) - 1};  // bytes 2^64 - 4
#if !defined(__SANITIZE_ADDRESS__)
    // 4 PiB, past any address space; AddressSanitizer aborts on such a request by design
    sizes.push_back(std::int64_t{1} << 50);
#endif
    for (const std::int64_t numel : sizes) {
        try {
            const Tensor t = Tensor::empty(Shape{numel}, DType::kFloat32, Device{});
            ADD_FAILURE() << "allocated " << t.nbytes() << " bytes";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory) << e.what();
        }
    }
    const HostMemoryStats after = host_memory_stats();
    EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
    EXPECT_EQ(after.cached_bytes, 0u);
}

// A miss makes room: what stays cached and the new block together fit the limit.
TEST_F(HostMemory, FreshBlockEvictsOldBlocksOfOtherSizesBeyondTheLimit) {
    set_host_cache_limit(10 * kMiB);
    { const std::vector<Tensor> live{host_bytes(4 * kMiB), host_bytes(4 * kMiB)}; }
    EXPECT_EQ(host_memory_stats().cached_bytes, 8 * kMiB);
    const Tensor big = host_bytes(6 * kMiB);  // no 6 MiB block cached: 8 + 6 > 10
    EXPECT_EQ(host_memory_stats().cached_bytes, 4 * kMiB);
}

TEST(HostCacheVariable, ParsesMebibytesAndRejectsAnythingElse) {
    EXPECT_EQ(detail::parse_host_cache_mb("0"), 0u);
    EXPECT_EQ(detail::parse_host_cache_mb("16"), 16 * kMiB);
    for (const char* bad : {"", "-1", "+3", " 4", "12x", "1.5", "abc", "99999999999999999999999"}) {
        try {
            detail::parse_host_cache_mb(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kBadArgument);
            EXPECT_NE(std::string(e.what()).find("WTCONV_HOST_CACHE_MB"), std::string::npos);
        }
    }
}

}  // namespace
}  // namespace wtconv::test
