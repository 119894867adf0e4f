#pragma once
// Whole-tensor stages shared by the direct algorithm's 1D and 2D files: (N * channels) planes of
// `plane` elements one after another, plane q belonging to channel q % channels.
#include <cstdint>
#include <vector>

namespace wtconv::cpu {

struct PlaneBatch {
    std::int64_t n;  // images
    int threads;     // OpenMP threads
};

// A per-channel sum over the batch that is the same for any thread count: plane q = (n, ch)
// writes `width` partial sums (double, one thread, fixed order) through plane_fn(q, partial),
// then each channel adds its N partials in n order and out (channels, width) gets them as T.
template <class T, class Fn>
void batch_reduce(
    const PlaneBatch& b, std::int64_t channels, std::int64_t width, T* out, const Fn& plane_fn) {
    std::vector<double> partial(static_cast<std::size_t>(b.n * channels * width));
#pragma omp parallel for num_threads(b.threads) schedule(static)
    for (std::int64_t q = 0; q < b.n * channels; ++q) {
        plane_fn(q, partial.data() + q * width);
    }
    for (std::int64_t e = 0; e < channels * width; ++e) {
        double total = 0;
        for (std::int64_t i = 0; i < b.n; ++i) {
            total += partial[i * channels * width + e];
        }
        out[e] = static_cast<T>(total);
    }
}

// out[ch] = sum over the batch and the plane of a * b, in double (b null: the sum of a).
template <class T>
void channel_dot(const PlaneBatch& batch,
                 std::int64_t channels,
                 std::int64_t plane,
                 const T* a,
                 const T* b,
                 T* out) {
    batch_reduce(batch, channels, 1, out, [&](std::int64_t q, double* d) {
        double acc = 0;
        for (std::int64_t e = q * plane; e < (q + 1) * plane; ++e) {
            acc += static_cast<double>(a[e]) * (b != nullptr ? static_cast<double>(b[e]) : 1.0);
        }
        *d = acc;
    });
}

// out_q = factor[q % channels] * in_q: a per-channel scale (spec 4) or its adjoint (spec 6.1).
template <class T>
void scale_planes(const PlaneBatch& batch,
                  std::int64_t channels,
                  std::int64_t plane,
                  const T* in,
                  const T* factor,
                  T* out) {
#pragma omp parallel for num_threads(batch.threads) schedule(static)
    for (std::int64_t q = 0; q < batch.n * channels; ++q) {
        for (std::int64_t e = q * plane; e < (q + 1) * plane; ++e) {
            out[e] = factor[q % channels] * in[e];
        }
    }
}

// dst_q += src_q for the N * channels planes of m elements, at strides src_stride and dst_stride
// (dst_stride = bands * m adds into band 0 of a band tensor: T_i += R_{i+1}, dZ_i += dA_{i+1}).
template <class T>
void add_planes(const PlaneBatch& batch,
                std::int64_t channels,
                const T* src,
                std::int64_t src_stride,
                T* dst,
                std::int64_t dst_stride,
                std::int64_t m) {
#pragma omp parallel for num_threads(batch.threads) schedule(static)
    for (std::int64_t q = 0; q < batch.n * channels; ++q) {
        for (std::int64_t e = 0; e < m; ++e) {
            dst[q * dst_stride + e] += src[q * src_stride + e];
        }
    }
}

}  // namespace wtconv::cpu
