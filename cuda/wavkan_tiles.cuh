#pragma once
// What the fused Wav-KAN kernels (cuda/wavkan_forward.cu, cuda/wavkan_backward.cu) share: an
// edge's operands as a kernel loads them, the per-call tables (1 / scale for float64, shannon's
// window), split-K over the summed index and its ordered second pass.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "common/kan_wavelets.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda::wavkan_detail {

// One edge's operands, zero outside the tensors (r = 0 makes u = 0 and w = 0 its contribution 0).
template <class T>
struct Edge {
    T t, r, w;
};

// Storage S widened to the compute type; 1 / scale for float computation (float32 and the half
// types) taken here, rounded once; float64's scales point at 1 / scale already.
template <class S, class T = WavKanCompute<S>>
__device__ inline Edge<T> load_edge(const S* __restrict__ translation,
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

// Split-K over the summed index, for the grids that would leave SMs idle: the splits' sums are
// added in split order by a second pass, so results depend on the split count (the shape and the
// SM count), never on the run.
struct Split {
    int count;
    std::int64_t len;  // whole slices
};

// How a kernel wants its grid split: about blocks_per_sm blocks an SM in all, each split at least
// min_slices slices of slice long, at most 16 splits.
struct SplitRule {
    int blocks_per_sm;
    int slice;
    int min_slices;
};

inline Split split_of(std::int64_t blocks, std::int64_t length, int device, const SplitRule& rule) {
    int sms = 1;
    WTCONV_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    const std::int64_t slots = static_cast<std::int64_t>(rule.blocks_per_sm) * sms;
    const std::int64_t want = (slots + blocks - 1) / blocks;
    const std::int64_t most = std::max<std::int64_t>(
        1, length / (static_cast<std::int64_t>(rule.min_slices) * rule.slice));
    const std::int64_t count = std::clamp<std::int64_t>(want, 1, std::min<std::int64_t>(most, 16));
    const std::int64_t len =
        ((length + count - 1) / count + rule.slice - 1) / rule.slice * rule.slice;
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

// The grid of tiles of tile x tile; rows go to gridDim.y, which CUDA caps at 65535 blocks:
// the forward's samples go there (src/ops/wavkan.cpp refuses a batch past kWavKanFusedMaxBatch).
inline dim3 tiles(std::int64_t columns, std::int64_t rows, int tile, int splits = 1) {
    return dim3(static_cast<unsigned>((columns + tile - 1) / tile),
                static_cast<unsigned>((rows + tile - 1) / tile), static_cast<unsigned>(splits));
}

}  // namespace wtconv::cuda::wavkan_detail
