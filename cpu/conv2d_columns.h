#pragma once
// How cpu/conv2d.cpp cuts one group's column matrix over the whole batch (column n P + p, so a
// chunk may span images) into GEMM-sized chunks, and moves chunks between the NCHW tensors and
// contiguous buffers. Wide chunks matter: Eigen packs the weight matrix again for every product,
// which costs as much as ~30 / width of the multiply-adds, and deep layers have few pixels per
// image (49 at 7x7), so chunks gather several images.
#include <algorithm>
#include <cstdint>

#include "common/conv2d_geometry.h"
#include "cpu/gemm.h"
#include "cpu/img2col.h"

namespace wtconv::cpu {

// Chunks of [0, total) columns, all but the last `width` wide.
struct ColumnChunks {
    std::int64_t total = 0, width = 1, count = 0;
    ColumnChunks(std::int64_t total_columns, std::int64_t target_width, std::int64_t min_count) {
        total = total_columns;
        count = std::max<std::int64_t>(
            min_count, (total + target_width - 1) / std::max<std::int64_t>(1, target_width));
        count = std::min(count, total);
        width = (total + count - 1) / count;
        count = (total + width - 1) / width;
    }
    std::int64_t begin(std::int64_t i) const { return i * width; }
    std::int64_t end(std::int64_t i) const { return std::min(total, (i + 1) * width); }
};

// A chunk's target width: a column buffer of about 2 MiB (L2 or near L3 on current cores), at
// least 256 columns (the packing overhead above) and at most 2048.
template <class T>
std::int64_t target_chunk_width(const ::wtconv::detail::Conv2dGeometry& g) {
    constexpr std::int64_t kBytes = 2 * 1024 * 1024;
    const std::int64_t fit = kBytes / static_cast<std::int64_t>(sizeof(T)) / g.k();
    return std::clamp<std::int64_t>(fit, 256, 2048);
}

// Calls fn(n, p0, p1, offset) for each image's part [p0, p1) of columns [c0, c1), offset being
// where that part starts within the chunk.
template <class Fn>
void for_each_image(const ::wtconv::detail::Conv2dGeometry& g,
                    std::int64_t c0,
                    std::int64_t c1,
                    Fn&& fn) {
    for (std::int64_t c = c0; c < c1;) {
        const std::int64_t n = c / g.p();
        const std::int64_t p0 = c - n * g.p();
        const std::int64_t p1 = std::min(g.p(), p0 + (c1 - c));
        fn(n, p0, p1, c - c0);
        c += p1 - p0;
    }
}

inline bool single_image(const ::wtconv::detail::Conv2dGeometry& g,
                         std::int64_t c0,
                         std::int64_t c1) {
    return c0 / g.p() == (c1 - 1) / g.p();
}

// The (K, c1 - c0) column matrix of group gi: x itself for a pointwise conv within one image,
// else built by img2col in buf.
template <class T>
ConstMatrixView<T> build_columns(const ::wtconv::detail::Conv2dGeometry& g,
                                 const T* x,
                                 std::int64_t gi,
                                 std::int64_t c0,
                                 std::int64_t c1,
                                 T* buf) {
    const std::int64_t width = c1 - c0;
    const auto x_group = [&](std::int64_t n) { return x + (n * g.c + gi * g.cg()) * g.hw(); };
    if (g.pointwise() && single_image(g, c0, c1)) {
        const std::int64_t n = c0 / g.p();
        return view(x_group(n) + (c0 - n * g.p()), g.k(), width, g.hw());
    }
    for_each_image(g, c0, c1,
                   [&](std::int64_t n, std::int64_t p0, std::int64_t p1, std::int64_t at) {
                       img2col(g, x_group(n), p0, p1, buf + at, width);
                   });
    return view(static_cast<const T*>(buf), g.k(), width, width);
}

// Rows gi Og .. (gi + 1) Og - 1 of an (N, O, P) tensor over columns [c0, c1): a view when they lie
// in one image, else copied into buf (Og, c1 - c0).
template <class T>
ConstMatrixView<T> gather_rows(const ::wtconv::detail::Conv2dGeometry& g,
                               const T* t,
                               std::int64_t gi,
                               std::int64_t c0,
                               std::int64_t c1,
                               T* buf) {
    const std::int64_t width = c1 - c0;
    if (single_image(g, c0, c1)) {
        const std::int64_t n = c0 / g.p();
        return view(t + (n * g.o + gi * g.og()) * g.p() + (c0 - n * g.p()), g.og(), width, g.p());
    }
    for_each_image(g, c0, c1,
                   [&](std::int64_t n, std::int64_t p0, std::int64_t p1, std::int64_t at) {
                       for (std::int64_t r = 0; r < g.og(); ++r) {
                           const T* src = t + (n * g.o + gi * g.og() + r) * g.p();
                           std::copy(src + p0, src + p1, buf + r * width + at);
                       }
                   });
    return view(static_cast<const T*>(buf), g.og(), width, width);
}

// The inverse of gather_rows: buf (Og, c1 - c0) into the (N, O, P) tensor t.
template <class T>
void scatter_rows(const ::wtconv::detail::Conv2dGeometry& g,
                  const T* buf,
                  std::int64_t gi,
                  std::int64_t c0,
                  std::int64_t c1,
                  T* t) {
    const std::int64_t width = c1 - c0;
    for_each_image(
        g, c0, c1, [&](std::int64_t n, std::int64_t p0, std::int64_t p1, std::int64_t at) {
            for (std::int64_t r = 0; r < g.og(); ++r) {
                const T* src = buf + r * width + at;
                std::copy(src, src + (p1 - p0), t + (n * g.o + gi * g.og() + r) * g.p() + p0);
            }
        });
}

}  // namespace wtconv::cpu
