// conv2d on the CPU by img2col + GEMM (COMPRESSION.md 1.3-1.4). Work is split into items of
// (image, group, range of output pixels) so that a column chunk stays in cache and both cores
// have work even at batch 1; each thread builds its chunk in its slice of the context's workspace
// and multiplies it with Eigen, serially inside our OpenMP region.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include <omp.h>

#include "cpu/float_types.h"
#include "cpu/gemm.h"
#include "cpu/img2col.h"
#include "cpu/parallel.h"
#include "ops/conv2d_backends.h"

namespace wtconv::cpu {

namespace {

using detail::Conv2dGeometry;

// Output pixels per work item: a column chunk of about kChunkBytes (L2-sized on current cores),
// never fewer than kMinColumns (GEMM panels need some width) nor more than the image has.
constexpr std::size_t kChunkBytes = 512 * 1024;
constexpr std::int64_t kMinColumns = 64;

template <class T>
std::int64_t chunk_columns(const Conv2dGeometry& g) {
    const std::int64_t fit = static_cast<std::int64_t>(kChunkBytes / sizeof(T)) / g.k();
    return std::min(g.p(), std::max(kMinColumns, fit));
}

// Items (n, group, chunk) in that order, chunk fastest.
struct Items {
    std::int64_t chunk, chunks_per_image, count;
    Items(const Conv2dGeometry& g, std::int64_t columns)
        : chunk(columns),
          chunks_per_image((g.p() + columns - 1) / columns),
          count(g.n * g.groups * chunks_per_image) {}
};

int thread_count(const Context& ctx, std::int64_t items) {
    return static_cast<int>(
        std::max<std::int64_t>(1, std::min<std::int64_t>(ctx.num_threads(), items)));
}

// The column matrix of pixels [p0, p1) of image n, group gi: x itself for a pointwise conv,
// else built in buf (row stride p1 - p0).
template <class T>
ConstMatrixView<T> columns(const Conv2dGeometry& g,
                           const T* x,
                           std::int64_t n,
                           std::int64_t gi,
                           std::int64_t p0,
                           std::int64_t p1,
                           T* buf) {
    const T* x_group = x + (n * g.c + gi * g.cg()) * g.hw();
    if (g.pointwise()) {
        return view(x_group + p0, g.k(), p1 - p0, g.hw());
    }
    img2col(g, x_group, p0, p1, buf, p1 - p0);
    return view(static_cast<const T*>(buf), g.k(), p1 - p0, p1 - p0);
}

template <class T>
void forward(
    Context& ctx, const Conv2dGeometry& g, const Tensor& x, const Conv2dWeights& w, Tensor& y) {
    const Items items(g, chunk_columns<T>(g));
    const int threads = thread_count(ctx, items.count);
    const std::size_t per_thread = g.pointwise() ? 0 : scratch_round<T>(g.k() * items.chunk);
    T* scratch = static_cast<T*>(ctx.host_workspace(per_thread * threads * sizeof(T)));
    const T* xp = x.data<T>();
    const T* wp = w.weight.data<T>();
    const T* bp = w.bias.defined() ? w.bias.data<T>() : nullptr;
    T* yp = y.data<T>();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t item = 0; item < items.count; ++item) {
        const std::int64_t chunk = item % items.chunks_per_image;
        const std::int64_t gi = item / items.chunks_per_image % g.groups;
        const std::int64_t n = item / items.chunks_per_image / g.groups;
        const std::int64_t p0 = chunk * items.chunk;
        const std::int64_t p1 = std::min(g.p(), p0 + items.chunk);
        T* buf = scratch + per_thread * omp_get_thread_num();
        const auto col = columns(g, xp, n, gi, p0, p1, buf);  // (K, p1 - p0)
        const auto weight = view(wp + gi * g.og() * g.k(), g.og(), g.k(), g.k());
        auto out = view(yp + (n * g.o + gi * g.og()) * g.p() + p0, g.og(), p1 - p0, g.p());
        gemm(out, weight, col, false);
        if (bp != nullptr) {
            for (std::int64_t r = 0; r < g.og(); ++r) {
                out.row(r).array() += bp[gi * g.og() + r];
            }
        }
    }
}

// db[o] = sum over n and pixels of dy; summed in double for float32 (N Ho Wo terms).
template <class T>
void bias_grad(Context& ctx, const Conv2dGeometry& g, const T* dy, T* db) {
    const int threads = thread_count(ctx, g.o);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t o = 0; o < g.o; ++o) {
        double sum = 0.0;
        for (std::int64_t n = 0; n < g.n; ++n) {
            const T* plane = dy + (n * g.o + o) * g.p();
            for (std::int64_t p = 0; p < g.p(); ++p) {
                sum += static_cast<double>(plane[p]);
            }
        }
        db[o] = static_cast<T>(sum);
    }
}

// dW_group += dY_group chunk * col chunk^T per thread, then the threads' partial sums are added
// in thread order, so a given thread count gives bitwise-repeatable gradients.
template <class T>
void weight_grad(Context& ctx, const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
    const Items items(g, chunk_columns<T>(g));
    const int threads = thread_count(ctx, items.count);
    const std::int64_t weight_numel = g.o * g.k();
    const std::size_t col_elems = g.pointwise() ? 0 : scratch_round<T>(g.k() * items.chunk);
    const std::size_t per_thread = col_elems + scratch_round<T>(weight_numel);
    T* scratch = static_cast<T*>(ctx.host_workspace(per_thread * threads * sizeof(T)));
#pragma omp parallel num_threads(threads)
    {
        T* buf = scratch + per_thread * omp_get_thread_num();
        T* partial = buf + col_elems;
        std::fill(partial, partial + weight_numel, T(0));
#pragma omp for schedule(static)
        for (std::int64_t item = 0; item < items.count; ++item) {
            const std::int64_t chunk = item % items.chunks_per_image;
            const std::int64_t gi = item / items.chunks_per_image % g.groups;
            const std::int64_t n = item / items.chunks_per_image / g.groups;
            const std::int64_t p0 = chunk * items.chunk;
            const std::int64_t p1 = std::min(g.p(), p0 + items.chunk);
            const auto col = columns(g, x, n, gi, p0, p1, buf);
            const auto grad =
                view(dy + (n * g.o + gi * g.og()) * g.p() + p0, g.og(), p1 - p0, g.p());
            gemm(view(partial + gi * g.og() * g.k(), g.og(), g.k(), g.k()), grad, col.transpose(),
                 true);
        }
    }
    std::copy(scratch + col_elems, scratch + col_elems + weight_numel, dw);
    for (int t = 1; t < threads; ++t) {
        const T* partial = scratch + per_thread * t + col_elems;
        for (std::int64_t e = 0; e < weight_numel; ++e) {
            dw[e] += partial[e];
        }
    }
}

// dx of image n, group gi, pixels [p0, p1): dcol = W_group^T dY chunk, scattered by col2im (or,
// pointwise, written straight into dx).
template <class T>
void input_grad_chunk(const Conv2dGeometry& g,
                      const T* w,
                      const T* dy,
                      std::int64_t n,
                      std::int64_t gi,
                      std::int64_t p0,
                      std::int64_t p1,
                      T* buf,
                      std::int64_t buf_ld,
                      T* dx) {
    const auto weight = view(w + gi * g.og() * g.k(), g.og(), g.k(), g.k());
    const auto grad = view(dy + (n * g.o + gi * g.og()) * g.p() + p0, g.og(), p1 - p0, g.p());
    T* dx_group = dx + (n * g.c + gi * g.cg()) * g.hw();
    if (g.pointwise()) {
        gemm(view(dx_group + p0, g.k(), p1 - p0, g.hw()), weight.transpose(), grad, false);
        return;
    }
    gemm(view(buf, g.k(), p1 - p0, buf_ld), weight.transpose(), grad, false);
    col2im_add(g, static_cast<const T*>(buf), buf_ld, p0, p1, dx_group);
}

template <class T>
void input_grad(Context& ctx, const Conv2dGeometry& g, const T* w, const T* dy, T* dx) {
    const Items items(g, chunk_columns<T>(g));
    const std::int64_t planes = g.n * g.groups;
    if (!g.pointwise()) {
        std::memset(dx, 0, static_cast<std::size_t>(g.n * g.c * g.hw()) * sizeof(T));
    }
    if (planes >= ctx.num_threads()) {
        // One (image, group) per item: its chunks scatter into its own planes of dx only.
        const int threads = thread_count(ctx, planes);
        const std::size_t per_thread = scratch_round<T>(g.k() * items.chunk);
        T* scratch = static_cast<T*>(ctx.host_workspace(per_thread * threads * sizeof(T)));
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t plane = 0; plane < planes; ++plane) {
            T* buf = scratch + per_thread * omp_get_thread_num();
            for (std::int64_t p0 = 0; p0 < g.p(); p0 += items.chunk) {
                input_grad_chunk(g, w, dy, plane / g.groups, plane % g.groups, p0,
                                 std::min(g.p(), p0 + items.chunk), buf, items.chunk, dx);
            }
        }
        return;
    }
    // Few images: the whole column gradient of one (image, group) by chunks in parallel, then
    // col2im in parallel over input channels (each writes its own plane).
    const std::size_t dcol_elems = static_cast<std::size_t>(g.k() * g.p());
    T* dcol = static_cast<T*>(ctx.host_workspace(dcol_elems * sizeof(T)));
    for (std::int64_t plane = 0; plane < planes; ++plane) {
        const std::int64_t n = plane / g.groups;
        const std::int64_t gi = plane % g.groups;
        const int threads = thread_count(ctx, items.chunks_per_image);
        const auto weight = view(w + gi * g.og() * g.k(), g.og(), g.k(), g.k());
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t chunk = 0; chunk < items.chunks_per_image; ++chunk) {
            const std::int64_t p0 = chunk * items.chunk;
            const std::int64_t p1 = std::min(g.p(), p0 + items.chunk);
            const auto grad =
                view(dy + (n * g.o + gi * g.og()) * g.p() + p0, g.og(), p1 - p0, g.p());
            T* out = g.pointwise() ? dx + (n * g.c + gi * g.cg()) * g.hw() : dcol;
            gemm(view(out + p0, g.k(), p1 - p0, g.pointwise() ? g.hw() : g.p()), weight.transpose(),
                 grad, false);
        }
        if (g.pointwise()) {
            continue;
        }
        Conv2dGeometry one_channel = g;
        one_channel.c = g.groups;  // cg() == 1: col2im of one input channel at a time
        const int channel_threads = thread_count(ctx, g.cg());
#pragma omp parallel for num_threads(channel_threads) schedule(static)
        for (std::int64_t c = 0; c < g.cg(); ++c) {
            const std::int64_t rows = static_cast<std::int64_t>(g.kh) * g.kw;
            col2im_add(one_channel, static_cast<const T*>(dcol + c * rows * g.p()), g.p(), 0, g.p(),
                       dx + (n * g.c + gi * g.cg() + c) * g.hw());
        }
    }
}

}  // namespace

void conv2d_forward_img2col(
    Context& ctx, const Conv2dGeometry& g, const Tensor& x, const Conv2dWeights& w, Tensor& y) {
    with_float_type(x.dtype(), [&](auto type) {
        using T = decltype(type);
        forward<T>(ctx, g, x, w, y);
    });
}

void conv2d_backward_img2col(Context& ctx,
                             const Conv2dGeometry& g,
                             const Tensor& dy,
                             const Tensor& x,
                             const Conv2dWeights& w,
                             Conv2dGrads& grads) {
    with_float_type(x.dtype(), [&](auto type) {
        using T = decltype(type);
        if (grads.dweights.bias.defined()) {
            bias_grad<T>(ctx, g, dy.data<T>(), grads.dweights.bias.data<T>());
        }
        weight_grad<T>(ctx, g, x.data<T>(), dy.data<T>(), grads.dweights.weight.data<T>());
        if (grads.dx.defined()) {
            input_grad<T>(ctx, g, w.weight.data<T>(), dy.data<T>(), grads.dx.data<T>());
        }
    });
}

}  // namespace wtconv::cpu
