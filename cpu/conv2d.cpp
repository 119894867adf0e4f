// conv2d on the CPU by img2col + GEMM (COMPRESSION.md 1.3-1.4). Work is split into items of
// (group, chunk of the batch's columns) so that a column chunk stays near the core and every
// thread has work even at batch 1; each thread multiplies its chunk serially inside our OpenMP
// region, the chunk built by img2col in its slice of the context's workspace, except in the float32
// forward on cpu/sgemm.h's GEMM, which packs img2col straight into the GEMM's panels
// (cpu/img2col_panels.h).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <omp.h>

#include "cpu/conv2d_columns.h"
#include "cpu/conv2d_weight_product.h"
#include "cpu/float_types.h"
#include "cpu/gemm.h"
#include "cpu/img2col.h"
#include "cpu/img2col_panels.h"
#include "cpu/parallel.h"
#include "ops/conv2d_backends.h"

namespace wtconv::cpu {

namespace {

using detail::Conv2dGeometry;

// Each group's N P columns in chunks, enough of them that every thread has work, and a multiple of
// the thread count when there is one group so that no thread gets one chunk more.
template <class T>
ColumnChunks batch_chunks(const Context& ctx, const Conv2dGeometry& g) {
    const std::int64_t threads = ctx.num_threads();
    const std::int64_t per_group = (threads + g.groups - 1) / g.groups;
    ColumnChunks chunks(g.n * g.p(), target_chunk_width<T>(g), per_group);
    if (g.groups == 1 && chunks.count % threads != 0) {
        const std::int64_t balanced = (chunks.count + threads - 1) / threads * threads;
        chunks = ColumnChunks(g.n * g.p(), (g.n * g.p() + balanced - 1) / balanced, balanced);
    }
    return chunks;
}

// The workspace of a call: first what all threads share (packed weights), then per thread a
// column chunk (none where img2col goes straight into the GEMM's panels), a chunk of output rows,
// the GEMM's packing space and (weight gradient) a partial sum of the whole weight.
template <class T>
struct Scratch {
    std::size_t shared, columns, rows, gemm, weight, per_thread;
    Scratch(const Conv2dGeometry& g,
            std::int64_t width,
            bool weight_partial,
            std::int64_t shared_elems = 0,
            std::int64_t gemm_elems = 0,
            bool column_buffer = true)
        : shared(scratch_round<T>(shared_elems)),
          columns(column_buffer ? scratch_round<T>(g.k() * width) : 0),
          rows(scratch_round<T>(g.og() * width)),
          gemm(scratch_round<T>(gemm_elems)),
          weight(weight_partial ? scratch_round<T>(g.o * g.k()) : 0),
          per_thread(columns + rows + gemm + weight) {}
    // The whole workspace: the shared part first, then thread_part(base, t) for each thread.
    T* take(Context& ctx, int threads) const {
        return static_cast<T*>(ctx.host_workspace((shared + per_thread * threads) * sizeof(T)));
    }
    T* thread_part(T* base, int thread) const { return base + shared + per_thread * thread; }
};

template <class T>
void forward(
    Context& ctx, const Conv2dGeometry& g, const Tensor& x, const Conv2dWeights& w, Tensor& y) {
    const ColumnChunks chunks = batch_chunks<T>(ctx, g);
    const std::int64_t items = g.groups * chunks.count;
    const int threads = thread_count(ctx, items);
    WeightProduct<T> product(g, w.weight.data<T>(), false);
    // float32 on the packed path: img2col straight into the GEMM's panels
    const bool fused = WeightProduct<T>::packed_path();
    // Fused, no chunk needs a column buffer (a pointwise chunk within one image is x itself).
    const Scratch<T> scratch(g, chunks.width, false, product.packed_elems(),
                             product.scratch_elems(chunks.width), !fused);
    T* base = scratch.take(ctx, threads);
    product.pack(base);
    const T* xp = x.data<T>();
    const T* bp = w.bias.defined() ? w.bias.data<T>() : nullptr;
    T* yp = y.data<T>();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t item = 0; item < items; ++item) {
        const std::int64_t gi = item / chunks.count;
        const std::int64_t c0 = chunks.begin(item % chunks.count);
        const std::int64_t c1 = chunks.end(item % chunks.count);
        T* buf = scratch.thread_part(base, omp_get_thread_num());
        T* rows = buf + scratch.columns;
        const bool direct = single_image(g, c0, c1);
        const std::int64_t n = c0 / g.p();
        auto out = direct ? view(yp + (n * g.o + gi * g.og()) * g.p() + (c0 - n * g.p()), g.og(),
                                 c1 - c0, g.p())
                          : view(rows, g.og(), c1 - c0, c1 - c0);
        bool done = false;
        if constexpr (std::is_same_v<T, float>) {
            if (fused && !(g.pointwise() && direct)) {
                product.multiply(gi, out, Img2colPanels(g, xp, gi, c0, c1), c1 - c0,
                                 rows + scratch.rows);
                done = true;
            }
        }
        if (!done) {
            // (K, c1 - c0); fused, only a pointwise chunk within one image comes here, as a view
            // of x: no buffer, so that any other would fail loudly rather than overwrite rows
            const auto col = build_columns(g, xp, gi, c0, c1, scratch.columns > 0 ? buf : nullptr);
            product.multiply(gi, out, col, rows + scratch.rows);
        }
        if (bp != nullptr) {
            for (std::int64_t r = 0; r < g.og(); ++r) {
                out.row(r).array() += bp[gi * g.og() + r];
            }
        }
        if (!direct) {
            scatter_rows(g, static_cast<const T*>(rows), gi, c0, c1, yp);
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

// dW_group += dY chunk * col chunk^T per thread, then the threads' partial sums are added in
// thread order, so a given thread count gives bitwise-repeatable gradients.
template <class T>
void weight_grad(Context& ctx, const Conv2dGeometry& g, const T* x, const T* dy, T* dw) {
    const ColumnChunks chunks = batch_chunks<T>(ctx, g);
    const std::int64_t items = g.groups * chunks.count;
    const int threads = thread_count(ctx, items);
    const std::int64_t weight_numel = g.o * g.k();
    // The packed path packs each dY chunk as A (Og, width) and reads the columns transposed as B.
    const bool packed = WeightProduct<T>::packed_path();
    // The GEMM's own scratch must start 64-byte aligned: the packed chunk's size is rounded.
    const std::int64_t packed_chunk =
        static_cast<std::int64_t>(scratch_round<T>(packed_a_floats(g.og(), chunks.width)));
    const std::int64_t gemm_elems = packed ? packed_chunk + sgemm_scratch_floats(g.k()) : 0;
    const Scratch<T> scratch(g, chunks.width, true, 0, gemm_elems);
    T* base = scratch.take(ctx, threads);
    const std::size_t partial_at = scratch.columns + scratch.rows + scratch.gemm;
#pragma omp parallel num_threads(threads)
    {
        T* buf = scratch.thread_part(base, omp_get_thread_num());
        T* partial = buf + partial_at;
        std::fill(partial, partial + weight_numel, T(0));
#pragma omp for schedule(static)
        for (std::int64_t item = 0; item < items; ++item) {
            const std::int64_t gi = item / chunks.count;
            const std::int64_t c0 = chunks.begin(item % chunks.count);
            const std::int64_t c1 = chunks.end(item % chunks.count);
            const auto col = build_columns(g, x, gi, c0, c1, buf);
            const auto grad = gather_rows(g, dy, gi, c0, c1, buf + scratch.columns);
            T* out = partial + gi * g.og() * g.k();
            if constexpr (std::is_same_v<T, float>) {
                if (packed) {
                    float* a = buf + scratch.columns + scratch.rows;
                    const std::int64_t width = c1 - c0;
                    const PackedA pa = pack_a(grad.data(), g.og(), width, grad.outerStride(), 1, a);
                    sgemm(pa, col.data(), g.k(), 1, col.outerStride(), out, g.k(), true,
                          a + packed_chunk);
                    continue;
                }
            }
            gemm(view(out, g.og(), g.k(), g.k()), grad, col.transpose(), true);
        }
    }
    std::copy(scratch.thread_part(base, 0) + partial_at,
              scratch.thread_part(base, 0) + partial_at + weight_numel, dw);
    for (int t = 1; t < threads; ++t) {
        const T* partial = scratch.thread_part(base, t) + partial_at;
        for (std::int64_t e = 0; e < weight_numel; ++e) {
            dw[e] += partial[e];
        }
    }
}

// dx over columns [c0, c1) of group gi: dcol = W_group^T dY chunk, scattered by col2im (or, for
// a pointwise conv within one image, written straight into dx). dx must start zeroed.
template <class T>
void input_grad_chunk(const Conv2dGeometry& g,
                      const WeightProduct<T>& product,
                      const T* dy,
                      std::int64_t gi,
                      std::int64_t c0,
                      std::int64_t c1,
                      T* buf,
                      T* rows,
                      T* gemm_scratch,
                      T* dx) {
    const std::int64_t width = c1 - c0;
    const auto grad = gather_rows(g, dy, gi, c0, c1, rows);
    const auto dx_group = [&](std::int64_t n) { return dx + (n * g.c + gi * g.cg()) * g.hw(); };
    if (g.pointwise() && single_image(g, c0, c1)) {
        const std::int64_t n = c0 / g.p();
        product.multiply(gi, view(dx_group(n) + (c0 - n * g.p()), g.k(), width, g.hw()), grad,
                         gemm_scratch);
        return;
    }
    product.multiply(gi, view(buf, g.k(), width, width), grad, gemm_scratch);
    for_each_image(g, c0, c1,
                   [&](std::int64_t n, std::int64_t p0, std::int64_t p1, std::int64_t at) {
                       col2im_add(g, static_cast<const T*>(buf + at), width, p0, p1, dx_group(n));
                   });
}

template <class T>
void input_grad(Context& ctx, const Conv2dGeometry& g, const T* w, const T* dy, T* dx) {
    std::memset(dx, 0, static_cast<std::size_t>(g.n * g.c * g.hw()) * sizeof(T));
    WeightProduct<T> product(g, w, true);  // W_group^T (K, Og)
    const std::int64_t threads = ctx.num_threads();
    const std::int64_t target = target_chunk_width<T>(g);
    if (g.n * g.groups >= threads) {
        // Items of whole images (so no two threads write one image's dx) times groups: as many
        // images per item as fill a chunk, while every thread still gets an item.
        const std::int64_t per_group = (threads + g.groups - 1) / g.groups;
        const std::int64_t fill = std::max<std::int64_t>(1, target / g.p());
        const std::int64_t images = std::max<std::int64_t>(1, std::min(fill, g.n / per_group));
        const std::int64_t blocks = (g.n + images - 1) / images;
        const std::int64_t items = blocks * g.groups;
        const std::int64_t width = std::min(target, images * g.p());
        const Scratch<T> scratch(g, width, false, product.packed_elems(),
                                 product.scratch_elems(width));
        const int used = thread_count(ctx, items);
        T* base = scratch.take(ctx, used);
        product.pack(base);
#pragma omp parallel for num_threads(used) schedule(static)
        for (std::int64_t item = 0; item < items; ++item) {
            const std::int64_t gi = item % g.groups;
            const std::int64_t n0 = item / g.groups * images;
            const std::int64_t end = std::min(g.n, n0 + images) * g.p();
            T* buf = scratch.thread_part(base, omp_get_thread_num());
            for (std::int64_t c0 = n0 * g.p(); c0 < end; c0 += width) {
                input_grad_chunk(g, product, dy, gi, c0, std::min(end, c0 + width), buf,
                                 buf + scratch.columns, buf + scratch.columns + scratch.rows, dx);
            }
        }
        return;
    }
    // Fewer images than threads: the whole column gradient of one (image, group) by chunks in
    // parallel, then col2im in parallel over input channels (each writes its own plane).
    const ColumnChunks chunks(g.p(), target, threads);
    const std::size_t dcol_elems = static_cast<std::size_t>(g.k() * g.p());
    T* dcol = static_cast<T*>(ctx.host_workspace(dcol_elems * sizeof(T)));
    for (std::int64_t plane = 0; plane < g.n * g.groups; ++plane) {
        const std::int64_t n = plane / g.groups;
        const std::int64_t gi = plane % g.groups;
        const auto weight = view(w + gi * g.og() * g.k(), g.og(), g.k(), g.k());
        T* dx_group = dx + (n * g.c + gi * g.cg()) * g.hw();
        const int used = thread_count(ctx, chunks.count);
#pragma omp parallel for num_threads(used) schedule(static)
        for (std::int64_t chunk = 0; chunk < chunks.count; ++chunk) {
            const std::int64_t p0 = chunks.begin(chunk);
            const std::int64_t p1 = chunks.end(chunk);
            const auto grad =
                view(dy + (n * g.o + gi * g.og()) * g.p() + p0, g.og(), p1 - p0, g.p());
            T* out = g.pointwise() ? dx_group : dcol;
            gemm(view(out + p0, g.k(), p1 - p0, g.pointwise() ? g.hw() : g.p()), weight.transpose(),
                 grad, false);
        }
        if (g.pointwise()) {
            continue;
        }
        Conv2dGeometry one_channel = g;
        one_channel.c = g.groups;  // cg() == 1: col2im of one input channel at a time
        const std::int64_t rows = static_cast<std::int64_t>(g.kh) * g.kw;
#pragma omp parallel for num_threads(thread_count(ctx, g.cg())) schedule(static)
        for (std::int64_t c = 0; c < g.cg(); ++c) {
            col2im_add(one_channel, static_cast<const T*>(dcol + c * rows * g.p()), g.p(), 0, g.p(),
                       dx_group + c * g.hw());
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
