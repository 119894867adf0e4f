// The Wav-KAN core on the CPU (WAVKAN.md 3.3 and 4): every (b, o, i) evaluates its wavelet where it
// is summed, so no (B, O, I) tensor exists. Forward: OpenMP over (output, batch block), the inner
// loop over the inputs. Backward: OpenMP over blocks of inputs; a block owns its columns of the
// three edge gradients (sums over b) and of dx (sums over o), so no two threads write one element
// and every sum runs in a fixed order, whatever the thread count.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "common/kan_wavelets.h"
#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "ops/wavkan_backends.h"

namespace wtconv::cpu {

namespace {

using detail::kan_psi;
using detail::with_wavelet;

constexpr std::int64_t kBatchBlock = 32;  // forward items: one output over this many samples
constexpr std::int64_t kInputBlock = 16;  // backward items: this many input columns

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

template <KanWavelet W, class T>
void forward(Context& ctx, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    const EdgeTables<T> tables(W, w.scale.data<T>(), outputs * inputs, inputs);
    const T* xp = x.data<T>();
    const T* tp = w.translation.data<T>();
    const T* wp = w.wavelet_weights.data<T>();
    T* zp = z.data<T>();
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
        for (std::int64_t b = b0; b < b1; ++b) {
            const T* xb = xp + b * inputs;
            T acc = 0;
            for (std::int64_t i = 0; i < inputs; ++i) {
                const T u = (xb[i] - t[i]) * r[i];
                acc += ww[i] * kan_psi<W, false>(u, tables.window[static_cast<std::size_t>(i)]).psi;
            }
            zp[b * outputs + o] = acc;
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
    const std::int64_t items = (inputs + kInputBlock - 1) / kInputBlock;
#pragma omp parallel for num_threads(thread_count(ctx, items)) schedule(static)
    for (std::int64_t item = 0; item < items; ++item) {
        const std::int64_t i0 = item * kInputBlock;
        const std::int64_t n = std::min(kInputBlock, inputs - i0);
        if (dxp != nullptr) {
            for (std::int64_t b = 0; b < batch; ++b) {
                std::fill(dxp + b * inputs + i0, dxp + b * inputs + i0 + n, T(0));
            }
        }
        const T* window = tables.window.data() + i0;
        for (std::int64_t o = 0; o < outputs; ++o) {
            const std::int64_t row = o * inputs + i0;
            const T* t = tp + row;
            const T* r = tables.inv_scale.data() + row;
            const T* ww = wp + row;
            T gw[kInputBlock] = {};
            T sp[kInputBlock] = {};
            T spu[kInputBlock] = {};
            for (std::int64_t b = 0; b < batch; ++b) {
                const T gb = gp[b * outputs + o];
                const T* xb = xp + b * inputs + i0;
                T* dxb = dxp != nullptr ? dxp + b * inputs + i0 : nullptr;
                for (std::int64_t i = 0; i < n; ++i) {
                    const T u = (xb[i] - t[i]) * r[i];
                    const detail::PsiPair<T> p = kan_psi<W, true>(u, window[i]);
                    gw[i] += gb * p.psi;
                    const T q = gb * ww[i] * p.dpsi;
                    sp[i] += q;
                    spu[i] += q * u;
                    if (dxb != nullptr) {
                        dxb[i] += q * r[i];
                    }
                }
            }
            for (std::int64_t i = 0; i < n; ++i) {
                dwp[row + i] = gw[i];
                dtp[row + i] = -r[i] * sp[i];
                dsp[row + i] = -r[i] * spu[i];
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
