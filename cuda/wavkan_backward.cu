// The Wav-KAN core's fused backward on CUDA (WAVKAN.md 4): one GEMM-shaped kernel that evaluates
// psi and psi' once per (b, o, i), where both of their sums use them, so no (B, O, I) tensor
// exists and every sum runs in a fixed order (no atomics: repeated calls give identical bits).
//   d*(o,i)   over b, in the registers of the thread that owns the edge: dwavelet_weights,
//             dtranslation, dscale
//   dx[b,i]   over o: a tile's 32 outputs through a column sum in shared memory, the tiles of a
//             chunk of outputs in the chunk's partial dx (at most 16 chunks), the chunks by a
//             second pass in order
// It replaced two kernels that each evaluated psi' (edge gradients, then dx). A tile's operands
// are staged in shared memory a slice at a time. The forward is cuda/wavkan_forward.cu.
#include <algorithm>
#include <cstdint>

#include "cuda/device_guard.h"
#include "cuda/wavkan_tiles.cuh"

namespace wtconv::cuda {

namespace {

using namespace wavkan_detail;
using ::wtconv::detail::kan_psi;
using ::wtconv::detail::with_wavelet;

constexpr int kThreads = 256;
constexpr int kTile = 32;   // inputs and outputs a tile
constexpr int kSlice = 32;  // the summed index staged per step
constexpr int kPer = 4;     // outputs per thread: kTile x kTile / kThreads

// The backward of a column of tiles: block (x, y) takes inputs [32 x, 32 x + 32) and the outputs
// of chunk y ([y chunk_len, (y + 1) chunk_len)), a tile of 32 at a time. Within a tile thread
// (row, col) owns outputs row + 8 j at input col and evaluates psi and psi' once per sample for
// both sums: the edge gradients (over every sample, in registers, written when the tile ends) and
// dx (over the tile's outputs: the thread's four, then the eight threads of its column through
// shared memory, then added to the chunk's partial dx in global memory, which only this block
// touches: in a fixed order). kDx false: the edge gradients alone.
template <KanWavelet W, bool kDx, class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads, 1) backward_kernel(std::int64_t batch,
                                                               std::int64_t inputs,
                                                               std::int64_t outputs,
                                                               const S* __restrict__ x,
                                                               const S* __restrict__ translation,
                                                               const S* __restrict__ scales,
                                                               const S* __restrict__ weights,
                                                               const T* __restrict__ window,
                                                               const S* __restrict__ g,
                                                               std::int64_t chunk_len,
                                                               S* __restrict__ dweights,
                                                               S* __restrict__ dtranslation,
                                                               S* __restrict__ dscale,
                                                               T* __restrict__ dx) {
    __shared__ T xs[kSlice][kTile + 1];  // xs[b][i]
    __shared__ T gs[kSlice][kTile + 1];  // gs[b][o]
    // dx's column sums a round of samples at a time: the whole slice in float, a quarter in double
    // (shared memory's static 48 KiB)
    constexpr int kRound = kDx && sizeof(T) == 8 ? kSlice / 4 : kSlice;
    __shared__ T dxs[kDx ? kRound : 1][kThreads / kTile][kTile + 1];  // [b][row][col]
    const std::int64_t i0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
    const int col = threadIdx.x % kTile, row = threadIdx.x / kTile;
    const std::int64_t i = i0 + col;
    const T h = window != nullptr && i < inputs ? window[i] : T(1);
    const std::int64_t o_begin = static_cast<std::int64_t>(blockIdx.y) * chunk_len;
    const std::int64_t o_end = min(outputs, o_begin + chunk_len);
    if constexpr (kDx) {
        dx += static_cast<std::int64_t>(blockIdx.y) * batch * inputs;  // the chunk's partial
    }
    for (std::int64_t o0 = o_begin; o0 < o_end; o0 += kTile) {
        const bool first_tile = o0 == o_begin;
        Edge<T> edge[kPer];
        T gw[kPer] = {}, sp[kPer] = {}, spu[kPer] = {};
#pragma unroll
        for (int j = 0; j < kPer; ++j) {
            edge[j] =
                load_edge(translation, scales, weights, o0 + row + 8 * j, i, o_end, inputs, inputs);
        }
        for (std::int64_t s0 = 0; s0 < batch; s0 += kSlice) {
            for (int r = row; r < kSlice; r += kThreads / kTile) {
                const std::int64_t b = s0 + r;
                xs[r][col] = b < batch && i < inputs ? widen(x[b * inputs + i]) : T(0);
                const std::int64_t o = o0 + col;
                gs[r][col] =
                    b < batch && o < o_end ? widen(g[b * outputs + o]) : T(0);  // 0: no sum
            }
            __syncthreads();
            for (int k0 = 0; k0 < kSlice; k0 += kRound) {
#pragma unroll 2
                for (int k = k0; k < k0 + kRound; ++k) {
                    const T xv = xs[k][col];
                    T dxk = T(0);
#pragma unroll
                    for (int j = 0; j < kPer; ++j) {
                        const T gb = gs[k][row + 8 * j];
                        const T d = xv - edge[j].t;
                        const T u = d * edge[j].r;
                        const ::wtconv::detail::PsiPair<T> p = kan_psi<W, true>(u, h);
                        gw[j] += gb * p.psi;
                        const T q = gb * edge[j].w * p.dpsi;
                        sp[j] += q;
                        // sum q d, times r once at the end: q u = q d r, but d is finite where u
                        // can overflow (a finite yet huge 1 / scale), and there q = 0: 0, not
                        // 0 inf = NaN
                        spu[j] += q * d;
                        dxk += q * edge[j].r;
                    }
                    if constexpr (kDx) {
                        dxs[k - k0][row][col] = dxk;
                    }
                }
                if constexpr (kDx) {
                    __syncthreads();
                    // the column sums of the round's samples, added to the chunk's partial dx
                    for (int k = row; k < kRound; k += kThreads / kTile) {
                        const std::int64_t b = s0 + k0 + k;
                        T v = dxs[k][0][col];
#pragma unroll
                        for (int r = 1; r < kThreads / kTile; ++r) {
                            v += dxs[k][r][col];
                        }
                        if (b < batch && i < inputs) {
                            T& out = dx[b * inputs + i];
                            out = first_tile ? v : out + v;
                        }
                    }
                }
                __syncthreads();
            }
        }
#pragma unroll
        for (int j = 0; j < kPer; ++j) {
            const std::int64_t o = o0 + row + 8 * j;
            if (o < o_end && i < inputs) {
                const std::int64_t k = o * inputs + i;
                dweights[k] = narrow<S>(gw[j]);
                dtranslation[k] = narrow<S>(-edge[j].r * sp[j]);
                dscale[k] = narrow<S>(-edge[j].r * (edge[j].r * spu[j]));
            }
        }
    }
}

// The outputs in chunks, for about four blocks an SM (a 512-wide layer has 16 columns of inputs
// for 132 SMs), at least one tile a chunk: each chunk sums its own partial dx, which a second pass
// adds in chunk order (results depend on the chunk count: the shape and the SM count).
constexpr SplitRule kChunkSplit{4, kTile, 1};

}  // namespace

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
            using T = WavKanCompute<S>;
            constexpr KanWavelet kW = decltype(kind)::value;
            const KernelTables<S> tab = make_tables<S>(ctx, wavelet, w.scale, inputs);
            const std::int64_t columns = (inputs + kTile - 1) / kTile;
            const Split chunks = split_of(columns, outputs, x.device().index, kChunkSplit);
            const dim3 grid(static_cast<unsigned>(columns), static_cast<unsigned>(chunks.count));
            const auto launch = [&](auto kernel, T* dx_sums) {
                kernel<<<grid, kThreads, 0, ctx.cuda_stream()>>>(
                    batch, inputs, outputs, storage<S>(x), storage<S>(w.translation), tab.scales,
                    storage<S>(w.wavelet_weights), tab.window_or_null, storage<S>(g), chunks.len,
                    storage<S>(dw.wavelet_weights), storage<S>(dw.translation),
                    storage<S>(dw.scale), dx_sums);
                WTCONV_CUDA_CHECK_LAUNCH();
            };
            if (dx == nullptr) {
                launch(backward_kernel<kW, false, S>, nullptr);
                return;
            }
            SplitOutput<S> out(chunks, *dx);
            launch(backward_kernel<kW, true, S>, out.data());
            out.finish(ctx);
        });
    });
}

}  // namespace wtconv::cuda
