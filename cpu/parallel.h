#pragma once
// parallel_for_planes: OpenMP over independent planes, each thread with its own scratch, allocated
// once before the parallel region so an allocation failure throws in the caller, not inside OpenMP.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <Eigen/Core>
#include <omp.h>

#include <wtconv/context.h>

namespace wtconv::cpu {

// Threads for a loop of items independent work items: the context's count, never more than the
// items, at least one.
inline int thread_count(const Context& ctx, std::int64_t items) {
    return static_cast<int>(
        std::max<std::int64_t>(1, std::min<std::int64_t>(ctx.num_threads(), items)));
}

// Pieces of scratch start on this many bytes: one AVX-512 packet, a cache line.
constexpr std::size_t kScratchAlign = 64;

template <class T>
constexpr std::size_t scratch_round(std::size_t elems) {
    constexpr std::size_t per = kScratchAlign / sizeof(T);
    return (elems + per - 1) / per * per;
}

// Calls fn(plane, scratch) for plane in [0, count); scratch holds scratch_elems elements of T,
// private to the calling thread, zeroed once per call (not per plane): the kernels keep zero
// borders around the planes they write and never write those borders. Static schedule: planes
// are independent and of equal cost.
template <class T, class Fn>
void parallel_for_planes(int num_threads, std::int64_t count, std::size_t scratch_elems, Fn&& fn) {
    const int threads =
        static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads, count)));
    const std::size_t per_thread = scratch_round<T>(scratch_elems);
    std::vector<T, Eigen::aligned_allocator<T>> scratch(per_thread *
                                                        static_cast<std::size_t>(threads));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t plane = 0; plane < count; ++plane) {
        T* mine = scratch.data() + per_thread * static_cast<std::size_t>(omp_get_thread_num());
        fn(plane, mine);
    }
}

// Hands out consecutive pieces of one scratch buffer, each starting on kScratchAlign bytes. With
// a null base it only counts: running the same layout code once that way sizes the buffer.
template <class T>
class ScratchCursor {
public:
    explicit ScratchCursor(T* base) : base_(base) {}
    T* take(std::size_t elems) {
        const std::size_t at = used_;
        used_ += scratch_round<T>(elems);
        return base_ != nullptr ? base_ + at : nullptr;
    }
    std::size_t used() const { return used_; }

private:
    T* base_;
    std::size_t used_ = 0;
};

}  // namespace wtconv::cpu
