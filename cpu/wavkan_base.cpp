// The Wav-KAN base branch on the CPU (WAVKAN.md 3.4 and 4): a matrix product of SiLU(x) with the
// base weight, by Eigen on row blocks that OpenMP hands out (each block's sums in one order).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/float_types.h"
#include "cpu/gemm.h"
#include "cpu/parallel.h"
#include "ops/wavkan_backends.h"

namespace wtconv::cpu {

namespace {

constexpr std::int64_t kRowBlock = 32;

// Eigen's products peel to alignment: buffers on a fixed alignment keep their rounding the same
// call after call (with std::vector's, AVX-512 builds gave dx differing in the last bit).
template <class T>
using AlignedBuffer = std::vector<T, Eigen::aligned_allocator<T>>;

template <class T>
T sigmoid(T v) {
    return T(1) / (T(1) + std::exp(-v));
}

// SiLU(x) = x sigmoid(x), (B, I).
template <class T>
AlignedBuffer<T> silu(const T* x, std::int64_t count) {
    AlignedBuffer<T> out(static_cast<std::size_t>(count));
    for (std::int64_t k = 0; k < count; ++k) {
        out[static_cast<std::size_t>(k)] = x[k] * sigmoid(x[k]);
    }
    return out;
}

// fn(r0, r1) over blocks of kRowBlock rows of [0, rows), in parallel.
template <class Fn>
void for_row_blocks(const Context& ctx, std::int64_t rows, Fn&& fn) {
    const std::int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for num_threads(thread_count(ctx, blocks)) schedule(static)
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
        fn(blk * kRowBlock, std::min(rows, (blk + 1) * kRowBlock));
    }
}

template <class T>
void forward(Context& ctx, const Tensor& x, const Tensor& base_weight, Tensor& z) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = base_weight.size(0);
    const AlignedBuffer<T> s = silu(x.data<T>(), batch * inputs);
    const auto wb = view(base_weight.data<T>(), outputs, inputs, inputs);
    T* zp = z.data<T>();
    for_row_blocks(ctx, batch, [&](std::int64_t b0, std::int64_t b1) {
        gemm(view(zp + b0 * outputs, b1 - b0, outputs, outputs),
             view(s.data() + b0 * inputs, b1 - b0, inputs, inputs), wb.transpose(), true);
    });
}

template <class T>
void backward(Context& ctx,
              const Tensor& x,
              const Tensor& base_weight,
              const Tensor& g,
              Tensor& dbase_weight,
              Tensor* dx) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = base_weight.size(0);
    const T* xp = x.data<T>();
    const AlignedBuffer<T> s = silu(xp, batch * inputs);
    const auto gm = view(g.data<T>(), batch, outputs, outputs);
    const auto sm = view(s.data(), batch, inputs, inputs);
    T* dwp = dbase_weight.data<T>();
    // dbase_weight rows o0..o1 = g[:, o0..o1]^T SiLU(x)
    for_row_blocks(ctx, outputs, [&](std::int64_t o0, std::int64_t o1) {
        gemm(view(dwp + o0 * inputs, o1 - o0, inputs, inputs),
             gm.middleCols(o0, o1 - o0).transpose(), sm, false);
    });
    if (dx == nullptr) {
        return;
    }
    const auto wb = view(base_weight.data<T>(), outputs, inputs, inputs);
    T* dxp = dx->data<T>();
    // g base_weight, (B, I), allocated here: an allocation inside OpenMP could not throw to the
    // caller
    AlignedBuffer<T> through(static_cast<std::size_t>(batch * inputs));
    for_row_blocks(ctx, batch, [&](std::int64_t b0, std::int64_t b1) {
        gemm(view(through.data() + b0 * inputs, b1 - b0, inputs, inputs),
             gm.middleRows(b0, b1 - b0), wb, false);
        for (std::int64_t k = b0 * inputs; k < b1 * inputs; ++k) {
            const T v = xp[k];
            const T sg = sigmoid(v);
            dxp[k] += sg * (T(1) + v * (T(1) - sg)) * through[static_cast<std::size_t>(k)];
        }
    });
}

}  // namespace

void wavkan_base_forward(Context& ctx, const Tensor& x, const Tensor& base_weight, Tensor& z) {
    with_float_type(x.dtype(), [&](auto tag) { forward<decltype(tag)>(ctx, x, base_weight, z); });
}

void wavkan_base_backward(Context& ctx,
                          const Tensor& x,
                          const Tensor& base_weight,
                          const Tensor& g,
                          Tensor& dbase_weight,
                          Tensor* dx) {
    with_float_type(x.dtype(), [&](auto tag) {
        backward<decltype(tag)>(ctx, x, base_weight, g, dbase_weight, dx);
    });
}

}  // namespace wtconv::cpu
