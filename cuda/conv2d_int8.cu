// int8 conv2d and activation (de)quantisation on CUDA (Conv2dInt8Algo::kDp4a): per call the
// weights are packed for the GEMM, then the implicit GEMM on __dp4a (cuda/conv2d_int8_dp4a.cuh)
// runs, split over K when the output tiles alone would leave SMs idle. Outputs equal the CPU's
// bit for bit: integer sums are exact, and every float operation rounds as the CPU's does.
#include <algorithm>
#include <cstdint>

#include "cuda/conv2d_int8_dp4a.cuh"
#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/reduce.cuh"
#include "ops/conv2d_backends.h"

namespace wtconv::cuda {

namespace {

using int8::ConvArgs;
using int8::kInvalid;
using int8::kThreads;
using int8::kTileWords;
using int8::Requant;
using std::int64_t;
using std::int8_t;
using std::uint8_t;

// ---- operand preparation ----------------------------------------------------------------------

// x4 word (n, group, quad, pixel) = channels 4 quad .. 4 quad + 3 of the group at that pixel, each
// byte x - 128 (the int8 the signed __dp4a takes). Channels past Cg meet zero weights: any byte.
__global__ void pack_activations(const uint8_t* __restrict__ x,
                                 int cg,
                                 int cq,
                                 int hw,
                                 uint8_t z_x,
                                 int64_t total,
                                 int* __restrict__ x4) {
    WTCONV_GRID_STRIDE_LOOP(idx, total) {
        const int pixel = static_cast<int>(idx % hw);
        const int quad = static_cast<int>(idx / hw % cq);
        const int64_t image_group = idx / hw / cq;  // n groups + group
        const uint8_t* src = x + (image_group * cg + 4 * quad) * hw + pixel;
        unsigned word = 0;
        for (int b = 0; b < 4; ++b) {
            const unsigned v = 4 * quad + b < cg ? src[b * hw] : z_x;
            word |= (v ^ 0x80u) << (8 * b);
        }
        x4[idx] = static_cast<int>(word);
    }
}

// Word (group, k4, m) of the packed weights: row m of the group at K word k4 = tap cq + quad, its
// bytes channels 4 quad .. 4 quad + 3. Zero past Cg, past K and past Og, so padded products add
// nothing.
__global__ void pack_weights(const int8_t* __restrict__ w,
                             int og,
                             int cg,
                             int cq,
                             int taps,
                             int k4_pad,
                             int og_pad,
                             int64_t total,
                             int* __restrict__ packed) {
    WTCONV_GRID_STRIDE_LOOP(idx, total) {
        const int m = static_cast<int>(idx % og_pad);
        const int k4 = static_cast<int>(idx / og_pad % k4_pad);
        const int64_t group = idx / og_pad / k4_pad;
        unsigned word = 0;
        if (m < og && k4 < taps * cq) {
            const int tap = k4 / cq, quad = k4 % cq;
            const int8_t* row = w + (group * og + m) * cg * taps;
            for (int b = 0; b < 4 && 4 * quad + b < cg; ++b) {
                const auto v = static_cast<uint8_t>(row[(4 * quad + b) * taps + tap]);
                word |= static_cast<unsigned>(v) << (8 * b);
            }
        }
        packed[idx] = static_cast<int>(word);
    }
}

// sum of each row's taps, one warp per output channel (the z_x correction of requantize).
__global__ void row_sums(const int8_t* __restrict__ w, int rows, int k, int* __restrict__ sums) {
    const int row = static_cast<int>(blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32);
    if (row >= rows) {
        return;  // whole warps leave, so warp_sum's full mask still holds for the others
    }
    const int8_t* src = w + static_cast<int64_t>(row) * k;
    int s = 0;
    for (int i = static_cast<int>(threadIdx.x % 32); i < k; i += 32) {
        s += src[i];
    }
    s = warp_sum(s);
    if (threadIdx.x % 32 == 0) {
        sums[row] = s;
    }
}

// The generic gather's table: K word k4 = tap cq + quad -> {its offset in x4 from the window's
// corner, the tap's row offset, its column offset}. Words past K get a row offset that fails every
// bounds test, so they read nothing.
__global__ void tap_table(
    int cq, int kh, int kw, int dh, int dw, int h, int w, int k4_pad, int4* __restrict__ out) {
    WTCONV_GRID_STRIDE_LOOP(idx, k4_pad) {
        const int k4 = static_cast<int>(idx);
        int4 e = make_int4(0, kInvalid, 0, 0);
        if (k4 < cq * kh * kw) {
            const int tap = k4 / cq, quad = k4 % cq;
            const int dy = tap / kw * dh, dx = tap % kw * dw;
            e = make_int4(quad * h * w + dy * w + dx, dy, dx, 0);
        }
        out[idx] = e;
    }
}

// y from the K splits' int32 partial sums, added in split order (exact: integers).
__global__ void requantize_splits(const int* __restrict__ partial,
                                  int splits,
                                  int64_t numel,
                                  int p,
                                  int o,
                                  const int* __restrict__ row_sum,
                                  const float* __restrict__ w_scale,
                                  const float* __restrict__ bias,
                                  Requant rq,
                                  uint8_t* __restrict__ y) {
    WTCONV_GRID_STRIDE_LOOP(idx, numel) {
        unsigned acc = 0;
        for (int s = 0; s < splits; ++s) {
            acc += static_cast<unsigned>(partial[s * numel + idx]);
        }
        const int oc = static_cast<int>(idx / p % o);
        y[idx] = int8::requantize(static_cast<int>(acc), row_sum[oc], w_scale[oc],
                                  bias != nullptr ? bias[oc] : 0.0f, rq);
    }
}

// ---- the plan: tile shape, gather, K split ----------------------------------------------------

struct Plan {
    int tm;               // rows per thread: 8 (128-row tiles) or 4 (64-row tiles)
    int cq;               // channel quads per group, ceil(Cg / 4)
    bool channel_gather;  // cq % 8 == 0: whole K tiles of one tap
    int k_tiles, k4_pad, c_tiles, m_tiles, og_pad, n_tiles;
    int splits, tiles_per_split;
};

constexpr int kCols = 128;  // pixels per tile: TN = 8

Plan make_plan(const ::wtconv::detail::Conv2dGeometry& g, int sms) {
    Plan pl{};
    const int64_t og = g.og();
    pl.cq = static_cast<int>((g.cg() + 3) / 4);
    pl.channel_gather = pl.cq > 0 && pl.cq % kTileWords == 0;
    const int64_t k_words = int64_t{pl.cq} * g.kh * g.kw;
    pl.k_tiles = static_cast<int>(std::max<int64_t>(1, (k_words + kTileWords - 1) / kTileWords));
    pl.k4_pad = pl.k_tiles * kTileWords;
    pl.c_tiles = pl.cq / kTileWords;
    pl.n_tiles = static_cast<int>((g.n * g.p() + kCols - 1) / kCols);
    // Blocks resident at once: the kernels are bounded to two per SM.
    const int64_t slots = 2 * static_cast<int64_t>(sms);
    const auto blocks = [&](int tm) {
        return int64_t{pl.n_tiles} * g.groups * ((og + 16 * tm - 1) / (16 * tm));
    };
    // 128-row tiles do twice the products per byte of shared memory read, but leave half of each
    // tile idle when Og <= 64, and half the blocks when the GPU would not be full anyway.
    pl.tm = og > 64 && blocks(8) >= slots ? 8 : 4;
    pl.m_tiles = static_cast<int>((og + 16 * pl.tm - 1) / (16 * pl.tm));
    pl.og_pad = pl.m_tiles * 16 * pl.tm;
    // Deep layers at small batch (ResNet's 7x7, 14x14) have fewer output tiles than slots but long
    // K: split it, keeping >= 4 tiles per split so the partial sums' traffic stays small.
    pl.splits = 1;
    const int64_t b = blocks(pl.tm);
    if (b < slots) {
        const int64_t want = (slots + b - 1) / b;
        pl.splits =
            static_cast<int>(std::clamp<int64_t>(std::min<int64_t>(want, pl.k_tiles / 4), 1, 16));
    }
    pl.tiles_per_split = (pl.k_tiles + pl.splits - 1) / pl.splits;
    pl.splits = (pl.k_tiles + pl.tiles_per_split - 1) / pl.tiles_per_split;  // none empty
    return pl;
}

template <int TM, bool kChannelGather>
void launch_conv(ConvArgs a, const Plan& pl, int groups, cudaStream_t stream) {
    // gridDim.x = row tiles x pixel tiles < 2^31 follows from y_q's < 2^31 elements; gridDim.y,
    // the groups, is limited to 65535, so groups go in chunks.
    constexpr int kMaxGridY = 65535;
    for (int g0 = 0; g0 < groups; g0 += kMaxGridY) {
        a.group0 = g0;
        const dim3 grid(static_cast<unsigned>(int64_t{pl.n_tiles} * pl.m_tiles),
                        static_cast<unsigned>(std::min(kMaxGridY, groups - g0)),
                        static_cast<unsigned>(pl.splits));
        int8::conv2d_int8_dp4a<TM, kCols / 16, kChannelGather><<<grid, kThreads, 0, stream>>>(a);
        WTCONV_CUDA_CHECK_LAUNCH();
    }
}

// Scratch regions start 256-byte aligned (cp.async reads the packed weights 16 bytes at a time).
int64_t align_up(int64_t bytes) {
    return (bytes + 255) / 256 * 256;
}

Requant make_requant(const Conv2dInt8Params& p) {
    Requant r{};
    r.s_x = p.input.scale;
    r.inv_y = 1.0f / p.output.scale;  // as cpu/conv2d_int8.cpp computes it
    r.zero_y = static_cast<float>(p.output.zero_point);
    r.lo = static_cast<float>(p.relu ? p.output.zero_point : p.output.quant_min);
    r.hi = static_cast<float>(p.output.quant_max);
    r.x_shift = 128 - p.input.zero_point;
    return r;
}

// ---- element-wise quantisation ----------------------------------------------------------------

__global__ void quantize_kernel(const float* __restrict__ x,
                                int64_t n,
                                float inv,
                                float zero,
                                float lo,
                                float hi,
                                uint8_t* __restrict__ q) {
    WTCONV_GRID_STRIDE_LOOP(i, n) {
        q[i] = int8::quantize_value(x[i], inv, zero, lo, hi);
    }
}

__global__ void dequantize_kernel(
    const uint8_t* __restrict__ q, int64_t n, int zero, float scale, float* __restrict__ x) {
    WTCONV_GRID_STRIDE_LOOP(i, n) {
        x[i] = __fmul_rn(__int2float_rn(static_cast<int>(q[i]) - zero), scale);
    }
}

}  // namespace

void conv2d_int8_forward(Context& ctx,
                         const ::wtconv::detail::Conv2dGeometry& g,
                         const Tensor& x_q,
                         const Conv2dInt8Weights& w,
                         const Conv2dInt8Params& p,
                         Tensor& y_q) {
    if (y_q.numel() == 0) {
        return;  // a zero-sized grid is a launch error
    }
    const Device device = x_q.device();
    const DeviceGuard guard(device.index);
    const cudaStream_t stream = ctx.cuda_stream();
    int sms = 0;
    WTCONV_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.index));
    const Plan pl = make_plan(g, sms);
    const int taps = g.kh * g.kw;

    // One scratch tensor: packed activations and weights, row sums, tap table, partial sums.
    const int64_t x4_words = g.n * g.groups * pl.cq * g.hw();
    const int64_t packed_words = int64_t{g.groups} * pl.k4_pad * pl.og_pad;
    const int64_t at_packed = align_up(x4_words * 4);
    const int64_t at_sums = at_packed + align_up(packed_words * 4);
    const int64_t at_taps = at_sums + align_up(g.o * 4);
    const int64_t at_partial = at_taps + (pl.channel_gather ? 0 : align_up(pl.k4_pad * 16));
    const int64_t bytes = at_partial + (pl.splits > 1 ? pl.splits * y_q.numel() * 4 : 0);
    Tensor scratch = Tensor::empty(Shape{bytes}, DType::kUInt8, device);
    uint8_t* base = scratch.data<uint8_t>();
    auto* x4 = reinterpret_cast<int*>(base);
    auto* packed = reinterpret_cast<int*>(base + at_packed);
    auto* sums = reinterpret_cast<int*>(base + at_sums);
    auto* table = reinterpret_cast<int4*>(base + at_taps);
    auto* partial = reinterpret_cast<int*>(base + at_partial);

    const auto z_x = static_cast<uint8_t>(p.input.zero_point);
    if (x4_words > 0) {
        pack_activations<<<elementwise_blocks(x4_words), kElementwiseThreads, 0, stream>>>(
            x_q.data<uint8_t>(), static_cast<int>(g.cg()), pl.cq, static_cast<int>(g.hw()), z_x,
            x4_words, x4);
        WTCONV_CUDA_CHECK_LAUNCH();
    }
    const int8_t* weight = w.weight.data<int8_t>();
    pack_weights<<<elementwise_blocks(packed_words), kElementwiseThreads, 0, stream>>>(
        weight, static_cast<int>(g.og()), static_cast<int>(g.cg()), pl.cq, taps, pl.k4_pad,
        pl.og_pad, packed_words, packed);
    WTCONV_CUDA_CHECK_LAUNCH();
    constexpr int kRowsPerBlock = kElementwiseThreads / 32;
    row_sums<<<static_cast<unsigned>((g.o + kRowsPerBlock - 1) / kRowsPerBlock),
               kElementwiseThreads, 0, stream>>>(weight, static_cast<int>(g.o),
                                                 static_cast<int>(g.k()), sums);
    WTCONV_CUDA_CHECK_LAUNCH();
    if (!pl.channel_gather) {
        tap_table<<<elementwise_blocks(pl.k4_pad), kElementwiseThreads, 0, stream>>>(
            pl.cq, g.kh, g.kw, g.dh, g.dw, static_cast<int>(g.h), static_cast<int>(g.w), pl.k4_pad,
            table);
        WTCONV_CUDA_CHECK_LAUNCH();
    }

    ConvArgs a{};
    a.x4 = x4;
    a.packed = packed;
    a.row_sum = sums;
    a.taps = table;
    a.w_scale = w.weight_scale.data<float>();
    a.bias = p.conv.bias ? w.bias.data<float>() : nullptr;
    a.y = y_q.data<uint8_t>();
    a.partial = pl.splits > 1 ? partial : nullptr;
    a.y_numel = y_q.numel();
    a.h = static_cast<int>(g.h);
    a.w = static_cast<int>(g.w);
    a.hw = static_cast<int>(g.hw());
    a.o = static_cast<int>(g.o);
    a.og = static_cast<int>(g.og());
    a.og_pad = pl.og_pad;
    a.cq = pl.cq;
    a.groups = g.groups;
    a.kw = g.kw;
    a.sh = g.sh;
    a.sw = g.sw;
    a.ph = g.ph;
    a.pw = g.pw;
    a.dh = g.dh;
    a.dw = g.dw;
    a.wo = static_cast<int>(g.wo);
    a.p = static_cast<int>(g.p());
    a.npix = static_cast<int>(g.n * g.p());
    a.k4_pad = pl.k4_pad;
    a.k_tiles = pl.k_tiles;
    a.tiles_per_split = pl.tiles_per_split;
    a.c_tiles = pl.c_tiles;
    a.m_tiles = pl.m_tiles;
    a.pad_word = static_cast<int>(0x01010101u * (z_x ^ 0x80u));
    a.rq = make_requant(p);
    if (pl.tm == 8) {
        pl.channel_gather ? launch_conv<8, true>(a, pl, g.groups, stream)
                          : launch_conv<8, false>(a, pl, g.groups, stream);
    } else {
        pl.channel_gather ? launch_conv<4, true>(a, pl, g.groups, stream)
                          : launch_conv<4, false>(a, pl, g.groups, stream);
    }
    if (pl.splits > 1) {
        requantize_splits<<<elementwise_blocks(y_q.numel()), kElementwiseThreads, 0, stream>>>(
            partial, pl.splits, y_q.numel(), a.p, a.o, sums, a.w_scale, a.bias, a.rq, a.y);
        WTCONV_CUDA_CHECK_LAUNCH();
    }
}

void quantize_activation(Context& ctx, const Tensor& x, const ActivationQuant& q, Tensor& out) {
    if (x.numel() == 0) {
        return;
    }
    const DeviceGuard guard(x.device().index);
    quantize_kernel<<<elementwise_blocks(x.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
        x.data<float>(), x.numel(), 1.0f / q.scale, static_cast<float>(q.zero_point),
        static_cast<float>(q.quant_min), static_cast<float>(q.quant_max), out.data<uint8_t>());
    WTCONV_CUDA_CHECK_LAUNCH();
}

void dequantize_activation(Context& ctx,
                           const Tensor& q,
                           const ActivationQuant& quant,
                           Tensor& out) {
    if (q.numel() == 0) {
        return;
    }
    const DeviceGuard guard(q.device().index);
    dequantize_kernel<<<elementwise_blocks(q.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
        q.data<uint8_t>(), q.numel(), quant.zero_point, quant.scale, out.data<float>());
    WTCONV_CUDA_CHECK_LAUNCH();
}

}  // namespace wtconv::cuda
