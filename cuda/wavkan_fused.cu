// The Wav-KAN core on CUDA, fused (WAVKAN.md 3.3 and 4): three GEMM-shaped kernels in which the
// multiply of a GEMM is the wavelet of the pair (x[b,i], edge (o,i)), each evaluated where it is
// summed, so no (B, O, I) tensor exists and every sum runs in one thread in a fixed order (no
// atomics: repeated calls give identical bits).
//   forward   z[b,o]        tiles of (b, o), the loop over i
//   backward  d*(o,i)       tiles of (o, i), the loop over b: dwavelet_weights, dtranslation,
//   dscale
//             dx[b,i]       tiles of (b, i), the loop over o (psi' evaluated a second time, which
//                           costs less than a (B, I) partial per tile of outputs would in memory)
// A tile's operands are staged in shared memory a slice at a time; the work is the wavelet
// (one exp, and a sin/cos for morlet and meyer), not the loads.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "common/kan_wavelets.h"
#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

using ::wtconv::detail::kan_psi;
using ::wtconv::detail::with_wavelet;

constexpr int kThreads = 256;
constexpr int kTile = 32;   // each kernel's two tile sides
constexpr int kSlice = 32;  // the summed index staged per step
constexpr int kPer = 4;     // outputs per thread: kTile x kTile / kThreads

// One edge's operands, zero outside the tensors (r = 0 makes u = 0 and w = 0 its contribution 0).
template <class T>
struct Edge {
    T t, r, w;
};

// Storage S widened to the compute type; 1 / scale for float computation (float32 and the half
// types) taken here, rounded once; float64's scales point at 1 / scale already.
template <class S, class T = WavKanCompute<S>>
__device__ Edge<T> load_edge(const S* __restrict__ translation,
                             const S* __restrict__ scales,
                             const S* __restrict__ weights,
                             std::int64_t o,
                             std::int64_t i,
                             std::int64_t o_end,
                             std::int64_t i_end,
                             std::int64_t inputs) {
    if (o >= o_end || i >= i_end) {
        return {T(0), T(0), T(0)};
    }
    const std::int64_t k = o * inputs + i;
    if constexpr (sizeof(T) == 4) {
        return {widen(translation[k]), __frcp_rn(widen(scales[k])), widen(weights[k])};
    } else {
        return {translation[k], scales[k], weights[k]};
    }
}

// The forward's term w psi((x - t) r) from an edge staged as (a, b, c). In general (a, b, c) =
// (t, r, w). float32 mexican hat and dog fold their constant into the staged weight, once per edge
// and slice instead of once per sample, and the mexican hat needs only min(u^2, 400) (exp(-200) is
// 0 in float32, so the huge-u limit 0 holds without clamping u).
template <KanWavelet W, class T>
struct ForwardTerm {
    static constexpr bool kFolded =
        sizeof(T) == 4 && (W == KanWavelet::kMexicanHat || W == KanWavelet::kDog);

    __device__ static Edge<T> stage(const Edge<T>& e) {
        if constexpr (!kFolded) {
            return e;
        } else if constexpr (W == KanWavelet::kMexicanHat) {
            return {e.t, e.r, ::wtconv::detail::KanConst<float>::kMexicanHat * e.w};
        } else {
            return {e.t, e.r, -e.w};
        }
    }

    __device__ static T eval(T x, const Edge<T>& s, T window) {
        if constexpr (!kFolded) {
            return s.w * kan_psi<W, false>((x - s.t) * s.r, window).psi;
        } else {
#if defined(__CUDA_ARCH__)
            // (x - t) r as everywhere else: x r - t r by one FMA rounded t r first, half an ulp of
            // |t / scale| off, which flipped psi's sign at t = x = 1e5, scale = 1e-3
            const float u = (x - s.t) * s.r;
            if constexpr (W == KanWavelet::kMexicanHat) {
                const float u2 = fminf(u * u, 400.0f);  // also u = +-inf
                const float e = ::wtconv::detail::fast_gaussian_of_square(u2);
                return s.w * fmaf(u2, e, -e);  // C w (u^2 - 1) e
            } else {
                const float v = ::wtconv::detail::clamp_fast(u);  // u e must be 0, not inf 0
                return s.w * (v * ::wtconv::detail::fast_gaussian_of_square(v * v));  // -w u e
            }
#else
            (void)x, (void)window;
            return s.w;
#endif
        }
    }
};

// z tile (kTile samples x kTile outputs): thread (row, col) sums samples row + 8 j, output col.
// Storage S, sums in T (written to z as T: a split's or a half type's partial, or z itself).
template <KanWavelet W, class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads, 1) forward_kernel(std::int64_t batch,
                                                              std::int64_t inputs,
                                                              std::int64_t outputs,
                                                              const S* __restrict__ x,
                                                              const S* __restrict__ translation,
                                                              const S* __restrict__ scales,
                                                              const S* __restrict__ weights,
                                                              const T* __restrict__ window,
                                                              std::int64_t split_len,
                                                              T* __restrict__ z) {
    __shared__ T xs[kSlice][kTile + 1];  // xs[i][b]
    __shared__ T ts[kSlice][kTile + 1];  // per edge, [i][o]
    __shared__ T rs[kSlice][kTile + 1];
    __shared__ T ws[kSlice][kTile + 1];
    __shared__ T win[kSlice];
    const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.y) * kTile;
    const std::int64_t o0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
    const int col = threadIdx.x % kTile, row = threadIdx.x / kTile;  // row < 8
    T acc[kPer] = {};
    // Split blockIdx.z sums inputs [z split_len, (z + 1) split_len) into its own copy of z.
    const std::int64_t i_begin = static_cast<std::int64_t>(blockIdx.z) * split_len;
    const std::int64_t i_end = min(inputs, i_begin + split_len);
    z += static_cast<std::int64_t>(blockIdx.z) * batch * outputs;
    for (std::int64_t i0 = i_begin; i0 < i_end; i0 += kSlice) {
        // Loads: lane col walks i (consecutive addresses), rows of threads walk b and o.
        for (int r = row; r < kTile; r += kThreads / kTile) {
            const std::int64_t b = b0 + r, o = o0 + r, i = i0 + col;
            xs[col][r] = b < batch && i < i_end ? widen(x[b * inputs + i]) : T(0);
            const Edge<T> e = ForwardTerm<W, T>::stage(
                load_edge(translation, scales, weights, o, i, outputs, i_end, inputs));
            ts[col][r] = e.t;
            rs[col][r] = e.r;
            ws[col][r] = e.w;
        }
        if (threadIdx.x < kSlice) {
            win[threadIdx.x] =
                window != nullptr && i0 + threadIdx.x < i_end ? window[i0 + threadIdx.x] : T(1);
        }
        __syncthreads();
#pragma unroll 4
        for (int k = 0; k < kSlice; ++k) {
            const Edge<T> e{ts[k][col], rs[k][col], ws[k][col]};
            const T h = win[k];
#pragma unroll
            for (int j = 0; j < kPer; ++j) {
                acc[j] += ForwardTerm<W, T>::eval(xs[k][row + 8 * j], e, h);
            }
        }
        __syncthreads();
    }
    const std::int64_t o = o0 + col;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
        const std::int64_t b = b0 + row + 8 * j;
        if (b < batch && o < outputs) {
            z[b * outputs + o] = acc[j];
        }
    }
}

// Edge gradients of a tile (kTile outputs x kTile inputs): thread (row, col) owns outputs
// row + 8 j at input col, sums over every sample.
template <KanWavelet W, class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads, 1) edge_grad_kernel(std::int64_t batch,
                                                                std::int64_t inputs,
                                                                std::int64_t outputs,
                                                                const S* __restrict__ x,
                                                                const S* __restrict__ translation,
                                                                const S* __restrict__ scales,
                                                                const S* __restrict__ weights,
                                                                const T* __restrict__ window,
                                                                const S* __restrict__ g,
                                                                S* __restrict__ dweights,
                                                                S* __restrict__ dtranslation,
                                                                S* __restrict__ dscale) {
    __shared__ T xs[kSlice][kTile + 1];  // xs[b][i]
    __shared__ T gs[kSlice][kTile + 1];  // gs[b][o]
    const std::int64_t i0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
    const std::int64_t o0 = static_cast<std::int64_t>(blockIdx.y) * kTile;
    const int col = threadIdx.x % kTile, row = threadIdx.x / kTile;
    const std::int64_t i = i0 + col;
    const T h = window != nullptr && i < inputs ? window[i] : T(1);
    Edge<T> edge[kPer];
    T gw[kPer] = {}, sp[kPer] = {}, spu[kPer] = {};
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
        edge[j] =
            load_edge(translation, scales, weights, o0 + row + 8 * j, i, outputs, inputs, inputs);
    }
    for (std::int64_t s0 = 0; s0 < batch; s0 += kSlice) {
        for (int r = row; r < kSlice; r += kThreads / kTile) {
            const std::int64_t b = s0 + r;
            xs[r][col] = b < batch && i < inputs ? widen(x[b * inputs + i]) : T(0);
            const std::int64_t o = o0 + col;
            gs[r][col] = b < batch && o < outputs ? widen(g[b * outputs + o]) : T(0);  // 0: no sum
        }
        __syncthreads();
#pragma unroll 2
        for (int k = 0; k < kSlice; ++k) {
            const T xv = xs[k][col];
#pragma unroll
            for (int j = 0; j < kPer; ++j) {
                const T gb = gs[k][row + 8 * j];
                const T d = xv - edge[j].t;
                const T u = d * edge[j].r;
                const ::wtconv::detail::PsiPair<T> p = kan_psi<W, true>(u, h);
                gw[j] += gb * p.psi;
                const T q = gb * edge[j].w * p.dpsi;
                sp[j] += q;
                // sum q d, times r once at the end: q u = q d r, but d is finite where u can
                // overflow (a finite yet huge 1 / scale), and there q = 0: 0, not 0 inf = NaN
                spu[j] += q * d;
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
        const std::int64_t o = o0 + row + 8 * j;
        if (o < outputs && i < inputs) {
            const std::int64_t k = o * inputs + i;
            dweights[k] = narrow<S>(gw[j]);
            dtranslation[k] = narrow<S>(-edge[j].r * sp[j]);
            dscale[k] = narrow<S>(-edge[j].r * (edge[j].r * spu[j]));
        }
    }
}

// dx of a tile (kTile samples x kTile inputs): thread (row, col) owns samples row + 8 j at input
// col, sums over every output.
template <KanWavelet W, class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads, 1) dx_kernel(std::int64_t batch,
                                                         std::int64_t inputs,
                                                         std::int64_t outputs,
                                                         const S* __restrict__ x,
                                                         const S* __restrict__ translation,
                                                         const S* __restrict__ scales,
                                                         const S* __restrict__ weights,
                                                         const T* __restrict__ window,
                                                         const S* __restrict__ g,
                                                         std::int64_t split_len,
                                                         T* __restrict__ dx) {
    __shared__ T ts[kSlice][kTile + 1];  // per edge, [o][i]
    __shared__ T rs[kSlice][kTile + 1];
    __shared__ T ws[kSlice][kTile + 1];
    __shared__ T gs[kTile][kSlice + 1];  // gs[b][o]
    const std::int64_t i0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
    const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.y) * kTile;
    const int col = threadIdx.x % kTile, row = threadIdx.x / kTile;
    const std::int64_t i = i0 + col;
    const T h = window != nullptr && i < inputs ? window[i] : T(1);
    T xv[kPer];
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
        const std::int64_t b = b0 + row + 8 * j;
        xv[j] = b < batch && i < inputs ? widen(x[b * inputs + i]) : T(0);
    }
    T acc[kPer] = {};
    // Split blockIdx.z sums outputs [z split_len, (z + 1) split_len) into its own copy of dx.
    const std::int64_t o_begin = static_cast<std::int64_t>(blockIdx.z) * split_len;
    const std::int64_t o_end = min(outputs, o_begin + split_len);
    dx += static_cast<std::int64_t>(blockIdx.z) * batch * inputs;
    for (std::int64_t s0 = o_begin; s0 < o_end; s0 += kSlice) {
        for (int r = row; r < kSlice; r += kThreads / kTile) {
            const Edge<T> e =
                load_edge(translation, scales, weights, s0 + r, i, o_end, inputs, inputs);
            ts[r][col] = e.t;
            rs[r][col] = e.r;
            ws[r][col] = e.w;
            const std::int64_t b = b0 + r, o = s0 + col;
            gs[r][col] = b < batch && o < o_end ? widen(g[b * outputs + o]) : T(0);
        }
        __syncthreads();
#pragma unroll 2
        for (int k = 0; k < kSlice; ++k) {
            const T t = ts[k][col], r = rs[k][col], w = ws[k][col];
#pragma unroll
            for (int j = 0; j < kPer; ++j) {
                const T u = (xv[j] - t) * r;
                const T q = gs[row + 8 * j][k] * w * kan_psi<W, true>(u, h).dpsi;
                acc[j] += q * r;
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
        const std::int64_t b = b0 + row + 8 * j;
        if (b < batch && i < inputs) {
            dx[b * inputs + i] = acc[j];
        }
    }
}

// 1 / scale per edge (float64's kernels multiply by it: one rounding off the true division,
// WAVKAN.md 3.1) and the inputs' windows, made once per call where the kernels need them: in the
// kernels a double division or a cos would call its slow path, and the call's register saves
// spilled. edges is 0 where no reciprocal table is made.
template <class T>
__global__ void tables_kernel(std::int64_t edges,
                              std::int64_t inputs,
                              KanWavelet wavelet,
                              const T* __restrict__ scale,
                              T* __restrict__ inv_scale,
                              T* __restrict__ window) {
    WTCONV_GRID_STRIDE_LOOP(k, edges) {
        inv_scale[k] = T(1) / scale[k];
    }
    WTCONV_GRID_STRIDE_LOOP(i, inputs) {
        window[i] = static_cast<T>(::wtconv::detail::kan_window(wavelet, i, inputs));
    }
}

// What the kernels get for the scale and the window: float computation (float32 and the half
// types) reads the scale and takes its reciprocal as it stages it (__frcp_rn, no slow path);
// float64 reads 1 / scale from the table kernel. The window, in the compute type, exists for
// shannon only (null: 1).
template <class S>
struct KernelTables {
    using T = WavKanCompute<S>;
    Tensor inv_scale, window;  // what the pointers below may point into
    const S* scales = nullptr;
    const T* window_or_null = nullptr;
};

template <class S>
KernelTables<S> make_tables(Context& ctx,
                            KanWavelet wavelet,
                            const Tensor& scale,
                            std::int64_t inputs) {
    using T = WavKanCompute<S>;
    constexpr bool kReciprocals = std::is_same_v<S, double>;
    KernelTables<S> t;
    t.scales = storage<S>(scale);
    if (!kReciprocals && wavelet != KanWavelet::kShannon) {
        return t;  // nothing to launch: a kernel fewer per call
    }
    const DType compute = wavkan_compute_dtype<S>();
    t.window = Tensor::empty(Shape{inputs}, compute, scale.device());
    const T* scales = nullptr;
    T* inv = nullptr;
    if constexpr (kReciprocals) {
        t.inv_scale = Tensor::empty(scale.shape(), compute, scale.device());
        scales = scale.data<T>();
        inv = t.inv_scale.template data<T>();
    }
    const std::int64_t edges = kReciprocals ? scale.numel() : 0;
    tables_kernel<T>
        <<<elementwise_blocks(std::max(edges, inputs)), kElementwiseThreads, 0,
           ctx.cuda_stream()>>>(edges, inputs, wavelet, scales, inv, t.window.template data<T>());
    WTCONV_CUDA_CHECK_LAUNCH();
    if constexpr (kReciprocals) {
        t.scales = storage<S>(t.inv_scale);
    }
    if (wavelet == KanWavelet::kShannon) {
        t.window_or_null = t.window.template data<T>();
    }
    return t;
}

// Split-K over the summed index, for the grids that would leave SMs idle (the 512-wide layers at
// B 256: 128 tiles for 132 SMs): about four blocks an SM, each split at least 4 slices long. The
// splits' sums are added in split order by a second pass, so results depend on the split count
// (the shape and the SM count), never on the run.
struct Split {
    int count;
    std::int64_t len;  // whole slices
};

Split split_of(std::int64_t blocks, std::int64_t length, int device) {
    int sms = 1;
    WTCONV_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    const std::int64_t want = (4 * static_cast<std::int64_t>(sms) + blocks - 1) / blocks;
    const std::int64_t most = std::max<std::int64_t>(1, length / (4 * kSlice));
    const std::int64_t count = std::clamp<std::int64_t>(want, 1, std::min<std::int64_t>(most, 16));
    const std::int64_t len = ((length + count - 1) / count + kSlice - 1) / kSlice * kSlice;
    return Split{static_cast<int>((length + len - 1) / len), len};
}

// out = the splits' sums added in split order, rounded to the storage type once.
template <class S, class T = WavKanCompute<S>>
__global__ void sum_splits_kernel(std::int64_t n,
                                  int splits,
                                  const T* __restrict__ partial,
                                  S* __restrict__ out) {
    WTCONV_GRID_STRIDE_LOOP(k, n) {
        T v = partial[k];
        for (int s = 1; s < splits; ++s) {
            v += partial[s * n + k];
        }
        out[k] = narrow<S>(v);
    }
}

// Where the kernels' sums go, in the compute type: out itself when it has that type and there is
// one split, else a partial per split that a second pass adds into out.
template <class S>
class SplitOutput {
public:
    using T = WavKanCompute<S>;
    SplitOutput(const Split& split, Tensor& out) : split_(split), out_(out) {
        if (!direct()) {
            partial_ = Tensor::empty(Shape{split.count * out.numel()}, wavkan_compute_dtype<S>(),
                                     out.device());
        }
    }
    T* data() { return direct() ? out_.data<T>() : partial_.data<T>(); }
    // The sums not yet in out, for a consumer that adds them itself (batch norm's statistics).
    WavKanCoreSums pending() const {
        return direct() ? WavKanCoreSums{} : WavKanCoreSums{partial_, split_.count};
    }
    void finish(Context& ctx) {
        if (direct()) {
            return;
        }
        sum_splits_kernel<S>
            <<<elementwise_blocks(out_.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
                out_.numel(), split_.count, partial_.data<T>(), storage<S>(out_));
        WTCONV_CUDA_CHECK_LAUNCH();
    }

private:
    bool direct() const { return split_.count == 1 && std::is_same_v<S, T>; }
    Split split_;
    Tensor& out_;
    Tensor partial_;
};

// The grid of tiles; rows go to gridDim.y, which CUDA caps at 65535 blocks: src/ops/wavkan.cpp
// refuses more rows (kWavKanFusedMaxRows) before anything is launched.
static_assert(kWavKanFusedMaxRows == std::int64_t{65535} * kTile, "the fused kernels' tile rows");

dim3 tiles(std::int64_t columns, std::int64_t rows, int splits = 1) {
    return dim3(static_cast<unsigned>((columns + kTile - 1) / kTile),
                static_cast<unsigned>((rows + kTile - 1) / kTile), static_cast<unsigned>(splits));
}

}  // namespace

WavKanCoreSums wavkan_core_forward_sums(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const DeviceGuard guard(x.device().index);
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    WavKanCoreSums sums;
    with_wavelet(wavelet, [&](auto kind) {
        with_wavkan_dtype(x.dtype(), [&](auto tag) {
            using S = decltype(tag);
            const KernelTables<S> tab = make_tables<S>(ctx, wavelet, w.scale, inputs);
            const dim3 grid = tiles(outputs, batch);
            const Split split = split_of(grid.x * grid.y, inputs, x.device().index);
            SplitOutput<S> out(split, z);
            forward_kernel<decltype(kind)::value, S>
                <<<tiles(outputs, batch, split.count), kThreads, 0, ctx.cuda_stream()>>>(
                    batch, inputs, outputs, storage<S>(x), storage<S>(w.translation), tab.scales,
                    storage<S>(w.wavelet_weights), tab.window_or_null, split.len, out.data());
            WTCONV_CUDA_CHECK_LAUNCH();
            sums = out.pending();
        });
    });
    return sums;
}

void wavkan_core_forward(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const WavKanCoreSums sums = wavkan_core_forward_sums(ctx, wavelet, x, w, z);
    if (sums.splits == 0) {
        return;
    }
    const DeviceGuard guard(x.device().index);
    with_wavkan_dtype(x.dtype(), [&](auto tag) {
        using S = decltype(tag);
        using T = WavKanCompute<S>;
        sum_splits_kernel<S>
            <<<elementwise_blocks(z.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
                z.numel(), sums.splits, sums.partial.data<T>(), storage<S>(z));
        WTCONV_CUDA_CHECK_LAUNCH();
    });
}

void wavkan_core_backward(Context& ctx,
                          KanWavelet wavelet,
                          const Tensor& x,
                          const WavKanWeights& w,
                          const Tensor& g,
                          WavKanWeights& dw,
                          Tensor* dx) {
    const DeviceGuard guard(x.device().index);
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    with_wavelet(wavelet, [&](auto kind) {
        with_wavkan_dtype(x.dtype(), [&](auto tag) {
            using S = decltype(tag);
            constexpr KanWavelet kW = decltype(kind)::value;
            const KernelTables<S> tab = make_tables<S>(ctx, wavelet, w.scale, inputs);
            edge_grad_kernel<kW, S><<<tiles(inputs, outputs), kThreads, 0, ctx.cuda_stream()>>>(
                batch, inputs, outputs, storage<S>(x), storage<S>(w.translation), tab.scales,
                storage<S>(w.wavelet_weights), tab.window_or_null, storage<S>(g),
                storage<S>(dw.wavelet_weights), storage<S>(dw.translation), storage<S>(dw.scale));
            WTCONV_CUDA_CHECK_LAUNCH();
            if (dx != nullptr) {
                const dim3 grid = tiles(inputs, batch);
                const Split split = split_of(grid.x * grid.y, outputs, x.device().index);
                SplitOutput<S> out(split, *dx);
                dx_kernel<kW, S>
                    <<<tiles(inputs, batch, split.count), kThreads, 0, ctx.cuda_stream()>>>(
                        batch, inputs, outputs, storage<S>(x), storage<S>(w.translation),
                        tab.scales, storage<S>(w.wavelet_weights), tab.window_or_null,
                        storage<S>(g), split.len, out.data());
                WTCONV_CUDA_CHECK_LAUNCH();
                out.finish(ctx);
            }
        });
    });
}

}  // namespace wtconv::cuda
