// The Wav-KAN core's fused forward on CUDA (WAVKAN.md 3.3): z[b,o] = sum_i w psi((x - t) / s) as
// a GEMM whose multiply is the wavelet of the pair (x[b,i], edge (o,i)), evaluated where it is
// summed: no (B, O, I) tensor, every sum in one thread in a fixed order (repeatable bits).
//
// The kernel is bound by instruction issue (and, for the Gaussian wavelets, by the hardware's
// 2^x), not by memory: a block stages 64 samples and 64 outputs' edges a slice of inputs at a
// time, each thread sums 4 x 4 outputs from vector loads of shared memory (0.3 loads a term), and
// each edge is staged with its constants folded in (ForwardTerm) so that a mexican hat term costs
// 6 instructions and one 2^x.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <cuda_pipeline.h>

#include "cuda/device_guard.h"
#include "cuda/wavkan_tiles.cuh"

namespace wtconv::cuda {

namespace {

using namespace wavkan_detail;
using ::wtconv::detail::kan_psi;
using ::wtconv::detail::with_wavelet;

constexpr int kThreads = 256;
constexpr int kTile = 64;  // samples and outputs a block
constexpr int kQuad = 4;   // a thread's samples and outputs: 4 x 4
constexpr int kGroups = kTile / kQuad;
// Inputs staged per step: 32 floats or 16 doubles (ForwardShared: 111 KiB either way, two blocks
// an SM).
template <class T>
constexpr int kSlice = 128 / sizeof(T);

// Four consecutive values of shared memory, read by vector loads (16-byte aligned: the rows of
// doubles are 16-byte multiples, not 32).
template <class T>
struct alignas(16) Quad {
    T v[4];
};

// An edge as the forward stages it: four values (a, b, c, d) per edge, from which eval computes
// the term w psi((x - t) / s) window. In general (t, 1 / s, w window, 0); float32 (and the half
// types, which compute in float) fold the wavelet's constants in, once per edge and block instead
// of once per term, and evaluate by the hardware's 2^x and cos.
// k = sqrt(log2(e) / 2): exp(-u^2 / 2) = 2^(-(u k)^2)
constexpr float kRootHalfLog2e = 0.84932180028801904272f;

template <KanWavelet W, class T>
struct ForwardTerm {
    __device__ static Quad<T> stage(const Edge<T>& e, T window) {
        return {{e.t, e.r, e.w * window, T(0)}};
    }
    __device__ static T eval(T x, T t, T r, T w, T /*unused*/) {
        return w * kan_psi<W, false>((x - t) * r, T(1)).psi;
    }
};

// u' = u k with k^2 = log2(e) / 2, so that exp(-u^2 / 2) = 2^(-u'^2), and
// C w (u^2 - 1) e = e (u'^2 A + B) with A = C w / k^2, B = -C w. u'^2 stops at 288 (u^2 = 400),
// where 2^-288 is 0: an infinite u gives 0, not inf * 0.
template <>
struct ForwardTerm<KanWavelet::kMexicanHat, float> {
    static constexpr float kMaxSquare = 288.0f;
    __device__ static Quad<float> stage(const Edge<float>& e, float /*window*/) {
        constexpr float c = ::wtconv::detail::KanConst<float>::kMexicanHat;
        // C / k^2 > 1: a weight near float's largest would overflow to inf (and inf 0 at u = 0)
        return {{e.t, e.r * kRootHalfLog2e,
                 ::wtconv::detail::finite_part(c * e.w / ::wtconv::detail::kHalfLog2e), -c * e.w}};
    }
    __device__ static float eval(float x, float t, float r, float a, float b) {
        // (x - t) r, not x r - t r by one FMA: that rounds t r first, half an ulp of |t / s| off,
        // which flipped psi's sign at t = x = 1e5, s = 1e-3
        const float u = (x - t) * r;
        const float s = fminf(u * u, kMaxSquare);
        const float e = ::wtconv::detail::exp2_approx(-s);
        return e * fmaf(s, a, b);
    }
};

// -w u e = (-w / k) u' e, u' = u k as above; u' clamped (u to +-20) so that u' e is 0, not inf 0.
template <>
struct ForwardTerm<KanWavelet::kDog, float> {
    static constexpr float kClamp = 20.0f * kRootHalfLog2e;
    __device__ static Quad<float> stage(const Edge<float>& e, float /*window*/) {
        return {{e.t, e.r * kRootHalfLog2e, ::wtconv::detail::finite_part(-e.w / kRootHalfLog2e),
                 0.0f}};
    }
    __device__ static float eval(float x, float t, float r, float a, float /*unused*/) {
        const float u = fminf(fmaxf((x - t) * r, -kClamp), kClamp);
        const float e = ::wtconv::detail::exp2_approx(-(u * u));
        return (a * u) * e;
    }
};

// w cos(5 u) e from y = 5 u, clamped to +-100 (u to +-20, where e is 0; the hardware's cos keeps
// its 2^-20.5 absolute error up to 100 pi), and exp(-u^2 / 2) = 2^(-y^2 log2(e) / 50). 5 / s is
// kept finite (s below 1.5e-38 would make it inf, and y = 0 inf = NaN where x = t: the term must
// be w there).
template <>
struct ForwardTerm<KanWavelet::kMorlet, float> {
    __device__ static Quad<float> stage(const Edge<float>& e, float /*window*/) {
        return {{e.t, ::wtconv::detail::finite_part(5.0f * e.r), e.w, 0.0f}};
    }
    __device__ static float eval(float x, float t, float r, float w, float /*unused*/) {
        constexpr float k = ::wtconv::detail::kHalfLog2e / 25.0f;
        const float y = fminf(fmaxf((x - t) * r, -100.0f), 100.0f);
        const float e = ::wtconv::detail::exp2_approx(-((y * k) * y));
        return w * (__cosf(y) * e);
    }
};

// Shared memory of a forward block: the raw operands of two slices (one arriving by cp.async
// while the other is staged), and the staged edges of one. raw[.][part][o][i] holds translation,
// scale (1 / scale for float64) and weight as loaded; xs[.][i][b] and es[part][i][o] hold x and
// the staged edges, read four at a time (one vector load). Every row is padded so that the copies
// and the staging (lane = 8 inputs by 4 rows a warp: full 32-byte sectors of global memory) hit
// 32 different banks; the vector loads read along a row. 111 KiB for float and double (two blocks
// an SM), 91 KiB for the half types, which keep their operands raw, x too (xraw[.][b][i]), and
// widen them when staging: cp.async cannot convert.
template <class S, class T = WavKanCompute<S>>
struct ForwardShared {
    static constexpr int kS = kSlice<T>;
    static constexpr bool kRawX = !std::is_same_v<S, T>;
    // raw rows: 8 banks a row apart (half types: 20, 80 bytes)
    static constexpr int kPitch = kS + (kRawX ? 8 : 32 / static_cast<int>(sizeof(T)));
    static constexpr int kRow = kTile + 16 / sizeof(T);  // xs, es rows: 4 banks a row apart
    alignas(16) S raw[2][3][kTile][kPitch];
    alignas(16) S xraw[kRawX ? 2 : 1][kRawX ? kTile : 1][kRawX ? kPitch : 1];
    alignas(16) T xs[2][kS][kRow];
    alignas(16) T es[4][kS][kRow];
    T win[2][kS];
};

// dst = src (0 where !valid), asynchronously where the types allow it (cp.async, zero-filled where
// invalid, so that the next slice arrives while this one is computed): float and double; the half
// types copy by pairs (copy_pair) where they can, else here, synchronously.
// An invalid element's copy reads nothing but names base, a valid global address (debug builds
// of the pipeline primitives assert that the source is global).
template <class S>
__device__ inline void copy_operand(S* dst, const S* src, const S* base, bool valid) {
    if constexpr (sizeof(S) >= 4) {
        __pipeline_memcpy_async(dst, valid ? src : base, sizeof(S), valid ? 0 : sizeof(S));
    } else {
        *dst = valid ? *src : S(0.0f);
    }
}

// dst[0, 2) = src[0, count), zeros after: one 4-byte cp.async of two 16-bit values (src and dst
// 4-byte aligned).
template <class S>
__device__ inline void copy_pair(S* dst, const S* src, const S* base, int count) {
    static_assert(sizeof(S) == 2, "pairs of 16-bit values");
    __pipeline_memcpy_async(dst, count > 0 ? src : base, 4, 4 - 2 * static_cast<unsigned>(count));
}

// z tile (kTile samples x kTile outputs): thread (tb, to) sums samples 4 tb + a and outputs
// 4 to + c. Storage S, sums in T (written to z as T: a split's or a half type's partial, or z
// itself). Per slice of inputs: the next slice's copies are issued, this slice's raw edges are
// staged (ForwardTerm::stage), then the 16 sums advance by kS terms each.
// kPairs (half types, even inputs, 4-byte aligned operands): the copies go by pairs,
// asynchronously.
template <KanWavelet W, class S, bool kPairs = false, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThreads, 2) forward_kernel(std::int64_t batch,
                                                              std::int64_t inputs,
                                                              std::int64_t outputs,
                                                              const S* __restrict__ x,
                                                              const S* __restrict__ translation,
                                                              const S* __restrict__ scales,
                                                              const S* __restrict__ weights,
                                                              const T* __restrict__ window,
                                                              std::int64_t split_len,
                                                              T* __restrict__ z) {
    using Term = ForwardTerm<W, T>;
    using Shared = ForwardShared<S, T>;
    constexpr int kS = Shared::kS;
    static_assert(!kPairs || Shared::kRawX, "pairs of 16-bit values");
    extern __shared__ __align__(16) unsigned char shared_bytes[];
    Shared& sh = *reinterpret_cast<Shared*>(shared_bytes);
    const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.y) * kTile;
    const std::int64_t o0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int to = threadIdx.x % kGroups, tb = threadIdx.x / kGroups;
    // Split blockIdx.z sums inputs [z split_len, (z + 1) split_len) into its own copy of z.
    const std::int64_t i_begin = static_cast<std::int64_t>(blockIdx.z) * split_len;
    const std::int64_t i_end = min(inputs, i_begin + split_len);
    z += static_cast<std::int64_t>(blockIdx.z) * batch * outputs;
    // Copies one value at a time walk the slice as the staging does: lane l takes input
    // 8 ii + l % 8 of row 4 g + l / 8, for (ii, g) = the warp's share of the kS / 8 x kGroups
    // blocks of 8 x 4. Copies by pairs take a row's pairs on consecutive threads instead.
    const auto issue = [&](std::int64_t i0, int stage) {
        if constexpr (kPairs) {
            // 16 pairs a row: a row's 64 bytes of each operand by 16 consecutive threads
#pragma unroll 1
            for (int c = threadIdx.x; c < kTile * (kS / 2); c += kThreads) {
                const int r = c / (kS / 2), i = c % (kS / 2) * 2;
                const std::int64_t b = b0 + r, o = o0 + r, gi = i0 + i;
                const int left =
                    static_cast<int>(min(max(i_end - gi, std::int64_t{0}), std::int64_t{2}));
                copy_pair(&sh.xraw[stage][r][i], x + b * inputs + gi, x, b < batch ? left : 0);
                const std::int64_t k = o * inputs + gi;
                const int edges = o < outputs ? left : 0;
                copy_pair(&sh.raw[stage][0][r][i], translation + k, translation, edges);
                copy_pair(&sh.raw[stage][1][r][i], scales + k, scales, edges);
                copy_pair(&sh.raw[stage][2][r][i], weights + k, weights, edges);
            }
        } else {
#pragma unroll 1
            for (int c = warp; c < kS / 8 * kGroups; c += kThreads / 32) {
                const int i = c % (kS / 8) * 8 + lane % 8, r = c / (kS / 8) * 4 + lane / 8;
                const std::int64_t b = b0 + r, o = o0 + r, gi = i0 + i;
                const bool in = gi < i_end;
                if constexpr (Shared::kRawX) {
                    copy_operand(&sh.xraw[stage][r][i], x + b * inputs + gi, x, in && b < batch);
                } else {
                    copy_operand(&sh.xs[stage][i][r], x + b * inputs + gi, x, in && b < batch);
                }
                const std::int64_t k = o * inputs + gi;
                const bool edge = in && o < outputs;
                copy_operand(&sh.raw[stage][0][r][i], translation + k, translation, edge);
                copy_operand(&sh.raw[stage][1][r][i], scales + k, scales, edge);
                copy_operand(&sh.raw[stage][2][r][i], weights + k, weights, edge);
            }
        }
        if (window != nullptr && threadIdx.x < kS) {
            const std::int64_t gi = i0 + threadIdx.x;
            copy_operand(&sh.win[stage][threadIdx.x], window + gi, window, gi < i_end);
        }
        __pipeline_commit();
    };
    T acc[kQuad][kQuad] = {};
    int stage = 0;
    if (i_begin < i_end) {
        issue(i_begin, 0);
    }
    for (std::int64_t i0 = i_begin; i0 < i_end; i0 += kS, stage ^= 1) {
        // The buffers of stage ^ 1 were last read before the previous slice's final barrier.
        const bool more = i0 + kS < i_end;
        if (more) {
            issue(i0 + kS, stage ^ 1);
            __pipeline_wait_prior(1);
        } else {
            __pipeline_wait_prior(0);
        }
        __syncthreads();
#pragma unroll 1
        for (int c = warp; c < kS / 8 * kGroups; c += kThreads / 32) {
            const int i = c % (kS / 8) * 8 + lane % 8, r = c / (kS / 8) * 4 + lane / 8;
            const bool edge = i0 + i < i_end && o0 + r < outputs;
            Edge<T> e{T(0), T(0), T(0)};
            if (edge) {
                const T s = widen(sh.raw[stage][1][r][i]);
                e = {widen(sh.raw[stage][0][r][i]), sizeof(T) == 4 ? __frcp_rn(s) : s,
                     widen(sh.raw[stage][2][r][i])};
            }
            if constexpr (Shared::kRawX) {
                sh.xs[stage][i][r] = widen(sh.xraw[stage][r][i]);  // 0 past the tensor
            }
            const Quad<T> q = Term::stage(e, window != nullptr ? sh.win[stage][i] : T(1));
#pragma unroll
            for (int p = 0; p < 4; ++p) {
                sh.es[p][i][r] = q.v[p];
            }
        }
        __syncthreads();
        // four steps at a time in float; double has the registers for one
#pragma unroll(sizeof(T) == 4 ? 4 : 1)
        for (int k = 0; k < kS; ++k) {
            const Quad<T> xq = *reinterpret_cast<const Quad<T>*>(&sh.xs[stage][k][kQuad * tb]);
            Quad<T> eq[4];
#pragma unroll
            for (int p = 0; p < 4; ++p) {
                eq[p] = *reinterpret_cast<const Quad<T>*>(&sh.es[p][k][kQuad * to]);
            }
#pragma unroll
            for (int a = 0; a < kQuad; ++a) {
#pragma unroll
                for (int c = 0; c < kQuad; ++c) {
                    acc[a][c] +=
                        Term::eval(xq.v[a], eq[0].v[c], eq[1].v[c], eq[2].v[c], eq[3].v[c]);
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int a = 0; a < kQuad; ++a) {
        const std::int64_t b = b0 + kQuad * tb + a;
#pragma unroll
        for (int c = 0; c < kQuad; ++c) {
            const std::int64_t o = o0 + kQuad * to + c;
            if (b < batch && o < outputs) {
                z[b * outputs + o] = acc[a][c];
            }
        }
    }
}

// Fewer outputs than this take thin_kernel: a 64-wide tile would be mostly empty (a network's
// 512 -> 1 head: 98 %), and its few tiles would leave most SMs idle.
constexpr std::int64_t kThinOutputs = 16;

// z[b,o] for layers with few outputs: a block of kThinThreads per (b, o), thread k taking every
// kThinThreads-th input (a few each, so that few loads wait on one another: a warp per output,
// 16 inputs a lane one after another, took 14 us for the 512 -> 1 head at B 256), its sums added
// by a fixed butterfly within each warp and the warps' in order (the same bits every run); edges
// staged per term by the same ForwardTerm as the tiles. Written to z as T, like a single split.
constexpr int kThinThreads = 128;

template <KanWavelet W, class S, class T = WavKanCompute<S>>
__global__ void __launch_bounds__(kThinThreads) thin_kernel(std::int64_t inputs,
                                                            std::int64_t outputs,
                                                            const S* __restrict__ x,
                                                            const S* __restrict__ translation,
                                                            const S* __restrict__ scales,
                                                            const S* __restrict__ weights,
                                                            const T* __restrict__ window,
                                                            T* __restrict__ z) {
    using Term = ForwardTerm<W, T>;
    __shared__ T warp_sums[kThinThreads / 32];
    const std::int64_t item = blockIdx.x;  // b * outputs + o
    const std::int64_t b = item / outputs, o = item % outputs;
    T acc = T(0);
#pragma unroll 1
    for (std::int64_t i = threadIdx.x; i < inputs; i += kThinThreads) {
        const Quad<T> e =
            Term::stage(load_edge(translation, scales, weights, o, i, outputs, inputs, inputs),
                        window != nullptr ? window[i] : T(1));
        acc += Term::eval(widen(x[b * inputs + i]), e.v[0], e.v[1], e.v[2], e.v[3]);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) {
        acc += __shfl_xor_sync(0xffffffffu, acc, offset);
    }
    if (threadIdx.x % 32 == 0) {
        warp_sums[threadIdx.x / 32] = acc;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        T total = warp_sums[0];
#pragma unroll
        for (int k = 1; k < kThinThreads / 32; ++k) {
            total += warp_sums[k];
        }
        z[item] = total;
    }
}

// Samples go to gridDim.y, which CUDA caps at 65535 blocks: src/ops/wavkan.cpp refuses more rows
// than kWavKanFusedMaxBatch before anything is launched.
static_assert(kWavKanFusedMaxBatch <= std::int64_t{65535} * kTile, "the forward's tile rows");

// Two blocks an SM, and enough splits of the inputs to fill them (the 512-wide layers at B 256
// are 32 tiles); a split is at least one slice.
template <class T>
constexpr SplitRule kForwardSplit{2, kSlice<T>, 1};

}  // namespace

WavKanCoreSums wavkan_core_forward_sums(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const DeviceGuard guard(x.device().index);
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    WavKanCoreSums sums;
    with_wavelet(wavelet, [&](auto kind) {
        with_wavkan_dtype(x.dtype(), [&](auto tag) {
            using S = decltype(tag);
            using T = WavKanCompute<S>;
            const KernelTables<S> tab = make_tables<S>(ctx, wavelet, w.scale, inputs);
            if (outputs < kThinOutputs) {
                SplitOutput<S> out(Split{1, inputs}, z);
                thin_kernel<decltype(kind)::value, S><<<static_cast<unsigned>(batch * outputs),
                                                        kThinThreads, 0, ctx.cuda_stream()>>>(
                    inputs, outputs, storage<S>(x), storage<S>(w.translation), tab.scales,
                    storage<S>(w.wavelet_weights), tab.window_or_null, out.data());
                WTCONV_CUDA_CHECK_LAUNCH();
                sums = out.pending();
                return;
            }
            const dim3 grid = tiles(outputs, batch, kTile);
            const Split split =
                split_of(grid.x * grid.y, inputs, x.device().index, kForwardSplit<T>);
            SplitOutput<S> out(split, z);
            constexpr KanWavelet kW = decltype(kind)::value;
            auto kernel = forward_kernel<kW, S>;
            if constexpr (ForwardShared<S>::kRawX) {
                // by pairs where every row starts 4-byte aligned
                const auto aligned = [](const void* p) {
                    return reinterpret_cast<std::uintptr_t>(p) % 4 == 0;
                };
                if (inputs % 2 == 0 && aligned(x.raw_data()) && aligned(w.translation.raw_data()) &&
                    aligned(tab.scales) && aligned(w.wavelet_weights.raw_data())) {
                    kernel = forward_kernel<kW, S, true>;
                }
            }
            // above the default 48 KiB; cheap, so set before every launch. sm_80 and sm_90 have
            // the room (163 and 227 KiB); sm_86 and sm_89 offer 99 KiB.
            constexpr int kBytes = sizeof(ForwardShared<S>);
            int room = 0;
            WTCONV_CUDA_CHECK(cudaDeviceGetAttribute(&room, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                                     x.device().index));
            WTCONV_CHECK_CODE(room >= kBytes, ErrorCode::kNotSupported,
                              "wavkan: the fused CUDA forward needs ", kBytes,
                              " bytes of shared memory a block, this GPU offers ", room,
                              "; WavKanAlgo::kUnfused has no such need");
            WTCONV_CUDA_CHECK(
                cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes));
            kernel<<<tiles(outputs, batch, kTile, split.count), kThreads, kBytes,
                     ctx.cuda_stream()>>>(
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

}  // namespace wtconv::cuda
