#pragma once
// parallel_for_planes: OpenMP over independent planes, each thread with its own scratch, allocated
// once before the parallel region so an allocation failure throws in the caller, not inside OpenMP.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <omp.h>

namespace wtconv::cpu {

// Calls fn(plane, scratch) for plane in [0, count); scratch holds scratch_elems elements of T,
// private to the calling thread. Static schedule: planes are independent and of equal cost.
template <class T, class Fn>
void parallel_for_planes(int num_threads, std::int64_t count, std::size_t scratch_elems, Fn&& fn) {
    const int threads =
        static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(num_threads, count)));
    std::vector<T> scratch(scratch_elems * static_cast<std::size_t>(threads));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t plane = 0; plane < count; ++plane) {
        T* mine = scratch.data() + scratch_elems * static_cast<std::size_t>(omp_get_thread_num());
        fn(plane, mine);
    }
}

// Hands out consecutive pieces of one scratch buffer.
template <class T>
class ScratchCursor {
public:
    explicit ScratchCursor(T* base) : next_(base) {}
    T* take(std::size_t elems) {
        T* p = next_;
        next_ += elems;
        return p;
    }

private:
    T* next_;
};

}  // namespace wtconv::cpu
