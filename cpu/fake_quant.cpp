// fake_quant on the CPU: the element rule of COMPRESSION.md 3.3 in float or double, the
// straight-through backward, and the per-channel min/max the observers read. OpenMP over chunks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <omp.h>

#include "cpu/float_types.h"
#include "ops/fake_quant_backends.h"

namespace wtconv::cpu {

namespace {

// Elements per work item: long enough to amortise a loop's set-up, short enough that a
// per-tensor call on a large tensor still splits across threads.
constexpr std::int64_t kChunk = std::int64_t{1} << 14;
// Below this many elements one thread does everything: waking a team costs more than the work.
constexpr std::int64_t kParallelMin = std::int64_t{1} << 16;

// Calls fn(channel, begin, end, thread) over flat index ranges [begin, end) that lie in one
// (outer, channel) row, at most kChunk long, each once, spread over the context's threads.
template <class Fn>
void for_each_run(const FakeQuantLayout& l, int threads, Fn&& fn) {
    const std::int64_t chunks = (l.inner + kChunk - 1) / kChunk;
    const std::int64_t count = l.outer * l.channels * chunks;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t item = 0; item < count; ++item) {
        const std::int64_t row = item / chunks;
        const std::int64_t begin = (item % chunks) * kChunk;
        const std::int64_t end = std::min(begin + kChunk, l.inner);
        fn(row % l.channels, row * l.inner + begin, row * l.inner + end, omp_get_thread_num());
    }
}

int thread_count(Context& ctx, const FakeQuantLayout& l) {
    const std::int64_t numel = l.outer * l.channels * l.inner;
    const std::int64_t items = l.outer * l.channels * ((l.inner + kChunk - 1) / kChunk);
    if (numel < kParallelMin) {
        return 1;
    }
    return static_cast<int>(
        std::max<std::int64_t>(1, std::min<std::int64_t>(ctx.num_threads(), items)));
}

// One channel's constants in T. inv = fl32(1 / s) (a float32 division, as PyTorch's 1.0f / scale);
// the quantised value q = rne(x * inv) + z is tested and clamped as the integer r = q - z against
// lo = qmin - z and hi = qmax - z, exact in T: src/ checked qmax - qmin <= 2^24.
template <class T>
struct ChannelQ {
    T inv;
    T scale;
    T lo;
    T hi;
};

template <class T>
ChannelQ<T> channel_q(const QuantParams& q, std::int64_t c) {
    const float s = q.scale[static_cast<std::size_t>(c)];
    const std::int64_t z = q.zero_point[static_cast<std::size_t>(c)];
    return ChannelQ<T>{static_cast<T>(1.0f / s), static_cast<T>(s),
                       static_cast<T>(std::int64_t{q.quant_min} - z),
                       static_cast<T>(std::int64_t{q.quant_max} - z)};
}

// y = fl_T(clamp(r, lo, hi) * s) with r = rne(fl_T(x * inv)): the level k = clamp(r) is an
// integer exact in T, so y is k * s rounded once, as PyTorch's (clamp(q) - z) * s. A NaN r fails
// every comparison: the clamp keeps it (y = NaN) and the mask is 0; +-Inf clamp to the ends. No
// product here meets an add, so FMA contraction (GCC's C++ default) cannot change a bit.
template <class T, bool kMask>
void quantize_run(const T* __restrict__ x,
                  T* __restrict__ y,
                  T* __restrict__ mask,
                  std::int64_t n,
                  const ChannelQ<T>& c) {
    for (std::int64_t i = 0; i < n; ++i) {
        const T r = std::nearbyint(x[i] * c.inv) + T(0);  // + 0: level -0 becomes +0, as in PyTorch
        const T k = r < c.lo ? c.lo : (r > c.hi ? c.hi : r);
        y[i] = k * c.scale;
        if constexpr (kMask) {
            mask[i] = (r >= c.lo && r <= c.hi) ? T(1) : T(0);
        }
    }
}

template <class T>
void forward_typed(Context& ctx,
                   const Tensor& x,
                   const QuantParams& q,
                   const FakeQuantLayout& l,
                   Tensor& y,
                   Tensor* mask) {
    std::vector<ChannelQ<T>> channels;
    channels.reserve(static_cast<std::size_t>(l.channels));
    for (std::int64_t c = 0; c < l.channels; ++c) {
        channels.push_back(channel_q<T>(q, c));
    }
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    T* ms = mask != nullptr ? mask->data<T>() : nullptr;
    for_each_run(l, thread_count(ctx, l),
                 [&](std::int64_t c, std::int64_t begin, std::int64_t end, int /*thread*/) {
                     const ChannelQ<T>& cq = channels[static_cast<std::size_t>(c)];
                     if (ms != nullptr) {
                         quantize_run<T, true>(xs + begin, ys + begin, ms + begin, end - begin, cq);
                     } else {
                         quantize_run<T, false>(xs + begin, ys + begin, nullptr, end - begin, cq);
                     }
                 });
}

template <class T>
void backward_typed(Context& ctx, const Tensor& dy, const Tensor& mask, Tensor& dx) {
    const T* __restrict__ g = dy.data<T>();
    const T* __restrict__ m = mask.data<T>();
    T* __restrict__ out = dx.data<T>();
    const FakeQuantLayout flat{1, 1, dy.numel()};
    for_each_run(flat, thread_count(ctx, flat),
                 [&](std::int64_t, std::int64_t begin, std::int64_t end, int /*thread*/) {
                     for (std::int64_t i = begin; i < end; ++i) {
                         out[i] = g[i] * m[i];
                     }
                 });
}

template <class T>
void min_max_typed(Context& ctx,
                   const Tensor& x,
                   const FakeQuantLayout& l,
                   std::vector<double>& min_val,
                   std::vector<double>& max_val) {
    const int threads = thread_count(ctx, l);
    const std::size_t channels = static_cast<std::size_t>(l.channels);
    const std::size_t parts = channels * static_cast<std::size_t>(threads);
    // One partial per (thread, channel): min and max are exact, so merging in any order gives
    // the same result, and every thread writes only its own slots.
    std::vector<T> mins(parts, std::numeric_limits<T>::infinity());
    std::vector<T> maxs(parts, -std::numeric_limits<T>::infinity());
    std::vector<unsigned char> nans(parts, 0);
    const T* xs = x.data<T>();
    for_each_run(l, threads, [&](std::int64_t c, std::int64_t begin, std::int64_t end, int thread) {
        T mn = std::numeric_limits<T>::infinity();
        T mx = -mn;
        bool nan = false;
        for (std::int64_t i = begin; i < end; ++i) {
            const T v = xs[i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            nan |= v != v;
        }
        const std::size_t slot =
            static_cast<std::size_t>(thread) * channels + static_cast<std::size_t>(c);
        mins[slot] = std::min(mins[slot], mn);
        maxs[slot] = std::max(maxs[slot], mx);
        nans[slot] = static_cast<unsigned char>(nans[slot] | (nan ? 1 : 0));
    });
    min_val.assign(channels, std::numeric_limits<double>::infinity());
    max_val.assign(channels, -std::numeric_limits<double>::infinity());
    std::vector<bool> nan(channels, false);
    for (std::size_t p = 0; p < parts; ++p) {
        const std::size_t c = p % channels;
        min_val[c] = std::min(min_val[c], static_cast<double>(mins[p]));
        max_val[c] = std::max(max_val[c], static_cast<double>(maxs[p]));
        nan[c] = nan[c] || nans[p] != 0;
    }
    for (std::size_t c = 0; c < channels; ++c) {
        if (nan[c]) {
            min_val[c] = max_val[c] = std::numeric_limits<double>::quiet_NaN();
        }
    }
}

}  // namespace

void fake_quant_forward(Context& ctx,
                        const Tensor& x,
                        const QuantParams& q,
                        const FakeQuantLayout& layout,
                        Tensor& y,
                        Tensor* mask) {
    with_float_type(x.dtype(),
                    [&](auto tag) { forward_typed<decltype(tag)>(ctx, x, q, layout, y, mask); });
}

void fake_quant_backward(Context& ctx, const Tensor& dy, const Tensor& mask, Tensor& dx) {
    with_float_type(dy.dtype(),
                    [&](auto tag) { backward_typed<decltype(tag)>(ctx, dy, mask, dx); });
}

void fake_quant_min_max(Context& ctx,
                        const Tensor& x,
                        const FakeQuantLayout& layout,
                        std::vector<double>& min_val,
                        std::vector<double>& max_val) {
    with_float_type(x.dtype(), [&](auto tag) {
        min_max_typed<decltype(tag)>(ctx, x, layout, min_val, max_val);
    });
}

}  // namespace wtconv::cpu
