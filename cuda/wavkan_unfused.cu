// The Wav-KAN core on CUDA by the plain composition (WavKanAlgo::kUnfused), the comparator of
// cuda/wavkan_forward.cu and cuda/wavkan_backward.cu and the seed's baseline (WAVKAN.md 7): one
// thread per (b, o, i) writes its terms into (B, O, I) tensors, then a reduction kernel sums each
// output in a fixed order (no atomics: repeated calls give identical bits).
//   forward   T[b,o,i] = w psi(u)                                  z[b,o] = sum over i
//   backward  G w dpsi / s, -G w dpsi u / s, -G w dpsi / s, G psi   dx over o, the others over b
#include <cstdint>

#include "common/kan_wavelets.h"
#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

// wtconv::detail, which cuda/check.h's wtconv::cuda::detail hides inside this namespace.
namespace common = ::wtconv::detail;
using common::kan_psi;
using common::with_wavelet;

constexpr int kThreads = kElementwiseThreads;  // 256, the seed's block size
constexpr int kWarp = 32;

// n / d for n >= 0, d > 0, in 32 bits when both fit: the GPU has no 64-bit divider, and the
// emulated division would cost more than the wavelet in the element-wise kernels.
__device__ inline std::int64_t quotient(std::int64_t n, std::int64_t d) {
    if (((n | d) >> 32) == 0) {
        return static_cast<std::uint32_t>(n) / static_cast<std::uint32_t>(d);
    }
    return n / d;
}

// Shannon's Hamming window over the inputs.
template <class T>
__global__ void __launch_bounds__(kThreads) window_kernel(std::int64_t inputs, T* __restrict__ h) {
    WTCONV_GRID_STRIDE_LOOP(i, inputs) {
        h[i] = static_cast<T>(common::kan_window(KanWavelet::kShannon, i, inputs));
    }
}

// Element k = (b O + o) I + i of a (B, O, I) tensor: the sample b, the edge o I + i.
struct Index {
    std::int64_t b, edge, i;
};

__device__ inline Index split(std::int64_t k, std::int64_t inputs, std::int64_t outputs) {
    const std::int64_t row = quotient(k, inputs);  // b O + o
    const std::int64_t i = k - row * inputs;
    const std::int64_t b = quotient(row, outputs);
    return {b, (row - b * outputs) * inputs + i, i};
}

template <KanWavelet W, class T>
__device__ inline T window_at(const T* __restrict__ window, std::int64_t i) {
    if constexpr (W == KanWavelet::kShannon) {
        return window[i];
    } else {
        return T(1);
    }
}

// T[b,o,i] = w[o,i] psi_i((x[b,i] - t[o,i]) / s[o,i]), computed in T, stored as S (the half
// types' terms are rounded to storage like every other tensor of the composition).
template <KanWavelet W, class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads) forward_terms_kernel(std::int64_t batch,
                                                                 std::int64_t inputs,
                                                                 std::int64_t outputs,
                                                                 const S* __restrict__ x,
                                                                 const S* __restrict__ translation,
                                                                 const S* __restrict__ scale,
                                                                 const S* __restrict__ weights,
                                                                 const T* __restrict__ window,
                                                                 S* __restrict__ terms) {
    WTCONV_GRID_STRIDE_LOOP(k, batch * outputs * inputs) {
        const Index at = split(k, inputs, outputs);
        const T u =
            (widen(x[at.b * inputs + at.i]) - widen(translation[at.edge])) / widen(scale[at.edge]);
        terms[k] = narrow<S>(widen(weights[at.edge]) *
                             kan_psi<W, false>(u, window_at<W>(window, at.i)).psi);
    }
}

// The four backward terms of (b, o, i); dx_terms may be null (dx not asked for).
template <KanWavelet W, class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads) backward_terms_kernel(std::int64_t batch,
                                                                  std::int64_t inputs,
                                                                  std::int64_t outputs,
                                                                  const S* __restrict__ x,
                                                                  const S* __restrict__ translation,
                                                                  const S* __restrict__ scale,
                                                                  const S* __restrict__ weights,
                                                                  const T* __restrict__ window,
                                                                  const S* __restrict__ g,
                                                                  S* __restrict__ dx_terms,
                                                                  S* __restrict__ ds_terms,
                                                                  S* __restrict__ dt_terms,
                                                                  S* __restrict__ dw_terms) {
    WTCONV_GRID_STRIDE_LOOP(k, batch * outputs * inputs) {
        const Index at = split(k, inputs, outputs);
        const T s = widen(scale[at.edge]);
        const T u = (widen(x[at.b * inputs + at.i]) - widen(translation[at.edge])) / s;
        const common::PsiPair<T> p = kan_psi<W, true>(u, window_at<W>(window, at.i));
        const T gb = widen(g[quotient(k, inputs)]);  // g is (B, O): element b O + o
        const T q = gb * widen(weights[at.edge]) * p.dpsi;
        if (dx_terms != nullptr) {
            dx_terms[k] = narrow<S>(q / s);
        }
        ds_terms[k] = narrow<S>(-q * common::finite_part(u) / s);
        dt_terms[k] = narrow<S>(-q / s);
        dw_terms[k] = narrow<S>(gb * p.psi);
    }
}

// out[r] = sum over j < length of in[r length + j], r < rows: one warp per row. Each lane sums
// its strided share in order, then the lanes' sums meet in a fixed shuffle tree.
template <class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads) row_sum_kernel(std::int64_t rows,
                                                           std::int64_t length,
                                                           const S* __restrict__ in,
                                                           S* __restrict__ out) {
    const int lane = static_cast<int>(threadIdx.x % kWarp);
    const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / kWarp);
    // Every lane of a warp takes the same rows, so the whole warp reaches each shuffle.
    for (std::int64_t r =
             (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / kWarp;
         r < rows; r += warps) {
        const S* row = in + r * length;
        T acc = 0;
        for (std::int64_t j = lane; j < length; j += kWarp) {
            acc += widen(row[j]);
        }
#pragma unroll
        for (int offset = kWarp / 2; offset > 0; offset /= 2) {
            acc += __shfl_down_sync(0xffffffffu, acc, offset);
        }
        if (lane == 0) {
            out[r] = narrow<S>(acc);
        }
    }
}

// out[a inner + c] = sum over j < count of in[a outer_stride + c + j step], for a < outer and
// c < inner: one thread per output, summing in order of j. Neighbouring threads read neighbouring
// addresses (consecutive c).
template <class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads) strided_sum_kernel(std::int64_t outer,
                                                               std::int64_t inner,
                                                               std::int64_t outer_stride,
                                                               std::int64_t count,
                                                               std::int64_t step,
                                                               const S* __restrict__ in,
                                                               S* __restrict__ out) {
    WTCONV_GRID_STRIDE_LOOP(r, outer * inner) {
        const std::int64_t a = quotient(r, inner);
        const S* p = in + a * outer_stride + (r - a * inner);
        T acc = 0;
        for (std::int64_t j = 0; j < count; ++j) {
            acc += widen(p[j * step]);
        }
        out[r] = narrow<S>(acc);
    }
}

// Shannon's window in a fresh (I) tensor of the compute type on x's device; an undefined tensor
// for the others.
template <KanWavelet W, class S, class T = WavKanCompute<S>>
Tensor window_tensor(Context& ctx, const Tensor& x) {
    if constexpr (W == KanWavelet::kShannon) {
        const std::int64_t inputs = x.size(1);
        Tensor h = Tensor::empty(Shape{inputs}, wavkan_compute_dtype<S>(), x.device());
        window_kernel<T>
            <<<elementwise_blocks(inputs), kThreads, 0, ctx.cuda_stream()>>>(inputs, h.data<T>());
        WTCONV_CUDA_CHECK_LAUNCH();
        return h;
    } else {
        return Tensor();
    }
}

template <class T>
T* data_or_null(Tensor& t) {
    return t.defined() ? storage<T>(t) : nullptr;
}

template <KanWavelet W, class S, class T = WavKanCompute<S>>
void forward(Context& ctx, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    Tensor window = window_tensor<W, S>(ctx, x);
    Tensor terms = Tensor::empty(Shape{batch, outputs, inputs}, x.dtype(), x.device());
    forward_terms_kernel<W, S>
        <<<elementwise_blocks(terms.numel()), kThreads, 0, ctx.cuda_stream()>>>(
            batch, inputs, outputs, storage<S>(x), storage<S>(w.translation), storage<S>(w.scale),
            storage<S>(w.wavelet_weights), data_or_null<T>(window), storage<S>(terms));
    WTCONV_CUDA_CHECK_LAUNCH();
    const std::int64_t rows = batch * outputs;
    row_sum_kernel<S><<<elementwise_blocks(rows * kWarp), kThreads, 0, ctx.cuda_stream()>>>(
        rows, inputs, storage<S>(terms), storage<S>(z));
    WTCONV_CUDA_CHECK_LAUNCH();
}

template <KanWavelet W, class S, class T = WavKanCompute<S>>
void backward(Context& ctx,
              const Tensor& x,
              const WavKanWeights& w,
              const Tensor& g,
              WavKanWeights& dw,
              Tensor* dx) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    Tensor window = window_tensor<W, S>(ctx, x);
    const Shape shape{batch, outputs, inputs};
    Tensor dx_terms = dx != nullptr ? Tensor::empty(shape, x.dtype(), x.device()) : Tensor();
    Tensor ds_terms = Tensor::empty(shape, x.dtype(), x.device());
    Tensor dt_terms = Tensor::empty(shape, x.dtype(), x.device());
    Tensor dw_terms = Tensor::empty(shape, x.dtype(), x.device());
    cudaStream_t stream = ctx.cuda_stream();
    backward_terms_kernel<W, S><<<elementwise_blocks(ds_terms.numel()), kThreads, 0, stream>>>(
        batch, inputs, outputs, storage<S>(x), storage<S>(w.translation), storage<S>(w.scale),
        storage<S>(w.wavelet_weights), data_or_null<T>(window), storage<S>(g),
        data_or_null<S>(dx_terms), storage<S>(ds_terms), storage<S>(dt_terms),
        storage<S>(dw_terms));
    WTCONV_CUDA_CHECK_LAUNCH();
    // The edge gradients: (o, i) sums over b, element (b O + o) I + i.
    const std::int64_t edges = outputs * inputs;
    const auto sum_over_batch = [&](const Tensor& terms, Tensor& out) {
        strided_sum_kernel<S><<<elementwise_blocks(edges), kThreads, 0, stream>>>(
            1, edges, 0, batch, edges, storage<S>(terms), storage<S>(out));
        WTCONV_CUDA_CHECK_LAUNCH();
    };
    sum_over_batch(ds_terms, dw.scale);
    sum_over_batch(dt_terms, dw.translation);
    sum_over_batch(dw_terms, dw.wavelet_weights);
    if (dx != nullptr) {
        // dx: (b, i) sums over o, element (b O + o) I + i.
        strided_sum_kernel<S><<<elementwise_blocks(batch * inputs), kThreads, 0, stream>>>(
            batch, inputs, edges, outputs, inputs, storage<S>(dx_terms), storage<S>(*dx));
        WTCONV_CUDA_CHECK_LAUNCH();
    }
}

}  // namespace

void wavkan_core_forward_unfused(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const DeviceGuard guard(x.device().index);
    with_wavelet(wavelet, [&](auto kind) {
        with_wavkan_dtype(x.dtype(), [&](auto tag) {
            forward<decltype(kind)::value, decltype(tag)>(ctx, x, w, z);
        });
    });
}

void wavkan_core_backward_unfused(Context& ctx,
                                  KanWavelet wavelet,
                                  const Tensor& x,
                                  const WavKanWeights& w,
                                  const Tensor& g,
                                  WavKanWeights& dw,
                                  Tensor* dx) {
    const DeviceGuard guard(x.device().index);
    with_wavelet(wavelet, [&](auto kind) {
        with_wavkan_dtype(x.dtype(), [&](auto tag) {
            backward<decltype(kind)::value, decltype(tag)>(ctx, x, w, g, dw, dx);
        });
    });
}

}  // namespace wtconv::cuda
