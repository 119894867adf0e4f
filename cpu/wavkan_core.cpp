// The Wav-KAN core on the CPU (WAVKAN.md 3.3 and 4): every (b, o, i) evaluates its wavelet where it
// is summed, so no (B, O, I) tensor exists. Forward: OpenMP over (output, batch block), the inner
// loop over the inputs in vectorised chunks (cpu/wavkan_chunk.h). Backward: OpenMP over chunks of
// inputs; a chunk owns its columns of the three edge gradients (sums over b) and of dx (sums over
// o), so no two threads write one element and every sum runs in a fixed order, whatever the
// thread count.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "common/kan_wavelets.h"
#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "cpu/wavkan_chunk.h"
#include "ops/wavkan_backends.h"

namespace wtconv::cpu {

namespace {

using detail::with_wavelet;

constexpr std::int64_t kBatchBlock = 32;  // forward items: one output over this many samples
// backward items: kChunk input columns

// 1 / scale per edge (one rounding off the true division, WAVKAN.md 3.1) and the inputs' windows.
template <class T>
struct EdgeTables {
    std::vector<T> inv_scale;
    std::vector<T> window;
    EdgeTables(KanWavelet wavelet, const T* scale, std::int64_t edges, std::int64_t inputs)
        : inv_scale(static_cast<std::size_t>(edges)), window(static_cast<std::size_t>(inputs)) {
        for (std::int64_t e = 0; e < edges; ++e) {
            inv_scale[static_cast<std::size_t>(e)] = T(1) / scale[e];
        }
        for (std::int64_t i = 0; i < inputs; ++i) {
            window[static_cast<std::size_t>(i)] =
                static_cast<T>(detail::kan_window(wavelet, i, inputs));
        }
    }
};

// One edge row's chunk c (inputs c kChunk on): t, 1 / scale, weights and windows; past the row's
// end r = 0 and w = 0 (u = 0, a term of 0) and window 1.
template <class T>
struct EdgeChunk {
    Chunk<T> t, r, w, h;
    EdgeChunk(const T* tp, const T* rp, const T* wp, const T* hp, int n)
        : t(padded(tp, n, T(0))),
          r(padded(rp, n, T(0))),
          w(padded(wp, n, T(0))),
          h(padded(hp, n, T(1))) {}
};

template <KanWavelet W, class T>
void forward(Context& ctx, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    const EdgeTables<T> tables(W, w.scale.data<T>(), outputs * inputs, inputs);
    const T* xp = x.data<T>();
    const T* tp = w.translation.data<T>();
    const T* wp = w.wavelet_weights.data<T>();
    const T* hp = tables.window.data();
    T* zp = z.data<T>();
    const std::int64_t whole = inputs / kChunk;  // chunks of kChunk inputs, then the rest
    const int rest = static_cast<int>(inputs % kChunk);
    const std::int64_t blocks = (batch + kBatchBlock - 1) / kBatchBlock;
    const std::int64_t items = outputs * blocks;
#pragma omp parallel for num_threads(thread_count(ctx, items)) schedule(static)
    for (std::int64_t item = 0; item < items; ++item) {
        const std::int64_t o = item / blocks;
        const std::int64_t b0 = item % blocks * kBatchBlock;
        const std::int64_t b1 = std::min(batch, b0 + kBatchBlock);
        const T* t = tp + o * inputs;
        const T* r = tables.inv_scale.data() + o * inputs;
        const T* ww = wp + o * inputs;
        const std::int64_t end = whole * kChunk;
        const EdgeChunk<T> last(t + end, r + end, ww + end, hp + end, rest);
        Chunk<T> psi, unused;
        for (std::int64_t b = b0; b < b1; ++b) {
            const T* xb = xp + b * inputs;
            // kChunk running sums, added up at the end: every sum in one fixed order
            Chunk<T> acc = Chunk<T>::Zero();
            for (std::int64_t c = 0; c < end; c += kChunk) {
                const Chunk<T> u = (ChunkMap<T>(xb + c) - ChunkMap<T>(t + c)) * ChunkMap<T>(r + c);
                psi_chunk<W, false>(u, ChunkMap<T>(hp + c), psi, unused);
                acc += ChunkMap<T>(ww + c) * psi;
            }
            if (rest > 0) {
                const Chunk<T> u = (padded(xb + end, rest, T(0)) - last.t) * last.r;
                psi_chunk<W, false>(u, last.h, psi, unused);
                acc += last.w * psi;
            }
            zp[b * outputs + o] = acc.sum();
        }
    }
}

template <KanWavelet W, class T>
void backward(Context& ctx,
              const Tensor& x,
              const WavKanWeights& w,
              const Tensor& g,
              WavKanWeights& dw,
              Tensor* dx) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    const EdgeTables<T> tables(W, w.scale.data<T>(), outputs * inputs, inputs);
    const T* xp = x.data<T>();
    const T* tp = w.translation.data<T>();
    const T* wp = w.wavelet_weights.data<T>();
    const T* gp = g.data<T>();
    T* dwp = dw.wavelet_weights.data<T>();
    T* dtp = dw.translation.data<T>();  // sum_b P first, then -r times it
    T* dsp = dw.scale.data<T>();        // sum_b P u first, then -r times it
    T* dxp = dx != nullptr ? dx->data<T>() : nullptr;
    const std::int64_t items = (inputs + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(thread_count(ctx, items)) schedule(static)
    for (std::int64_t item = 0; item < items; ++item) {
        const std::int64_t i0 = item * kChunk;
        const int n = static_cast<int>(std::min<std::int64_t>(kChunk, inputs - i0));
        if (dxp != nullptr) {
            for (std::int64_t b = 0; b < batch; ++b) {
                std::fill(dxp + b * inputs + i0, dxp + b * inputs + i0 + n, T(0));
            }
        }
        Chunk<T> psi, dpsi;
        for (std::int64_t o = 0; o < outputs; ++o) {
            const std::int64_t row = o * inputs + i0;
            const EdgeChunk<T> e(tp + row, tables.inv_scale.data() + row, wp + row,
                                 tables.window.data() + i0, n);
            Chunk<T> gw = Chunk<T>::Zero(), sp = Chunk<T>::Zero(), spu = Chunk<T>::Zero();
            for (std::int64_t b = 0; b < batch; ++b) {
                const T gb = gp[b * outputs + o];
                const T* xb = xp + b * inputs + i0;
                const Chunk<T> u =
                    ((n == kChunk ? Chunk<T>(ChunkMap<T>(xb)) : padded(xb, n, T(0))) - e.t) * e.r;
                psi_chunk<W, true>(u, e.h, psi, dpsi);
                gw += gb * psi;
                const Chunk<T> q = gb * e.w * dpsi;
                sp += q;
                spu += q * u.max(-std::numeric_limits<T>::max())
                               .min(std::numeric_limits<T>::max());  // detail::finite_part
                if (dxp != nullptr) {
                    const Chunk<T> through = q * e.r;
                    T* dxb = dxp + b * inputs + i0;
                    for (int k = 0; k < n; ++k) {
                        dxb[k] += through[k];
                    }
                }
            }
            for (int k = 0; k < n; ++k) {
                dwp[row + k] = gw[k];
                dtp[row + k] = -e.r[k] * sp[k];
                dsp[row + k] = -e.r[k] * spu[k];
            }
        }
    }
}

}  // namespace

void wavkan_core_forward(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    with_wavelet(wavelet, [&](auto kind) {
        with_float_type(x.dtype(), [&](auto tag) {
            forward<decltype(kind)::value, decltype(tag)>(ctx, x, w, z);
        });
    });
}

void wavkan_core_backward(Context& ctx,
                          KanWavelet wavelet,
                          const Tensor& x,
                          const WavKanWeights& w,
                          const Tensor& g,
                          WavKanWeights& dw,
                          Tensor* dx) {
    with_wavelet(wavelet, [&](auto kind) {
        with_float_type(x.dtype(), [&](auto tag) {
            backward<decltype(kind)::value, decltype(tag)>(ctx, x, w, g, dw, dx);
        });
    });
}

}  // namespace wtconv::cpu
