// The Wav-KAN core on the CPU by the plain composition (WavKanAlgo::kUnfused), the comparator of
// cpu/wavkan_core.cpp: as the original layer and the seed's baseline do (WAVKAN.md 7), every
// per-(b, o, i) term is written to a (B, O, I) buffer by one pass, then summed by a second one,
// each sum in a fixed order (ascending index), whatever the thread count.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/kan_wavelets.h"
#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "ops/wavkan_backends.h"

namespace wtconv::cpu {

namespace {

using detail::kan_psi;
using detail::with_wavelet;

// std::allocator value-initialises, which here would be a serial pass of zeros over up to 4 GiB
// before a parallel pass that overwrites every element anyway. This one default-initialises (the
// elements are left as they are), like the uninitialised tensors the original allocates.
template <class T>
struct UninitAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = UninitAllocator<U>;
    };
    UninitAllocator() = default;
    template <class U>
    UninitAllocator(const UninitAllocator<U>& /*other*/) noexcept {}
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};

// A (B, O, I) buffer of per-(b, o, i) terms, row (b, o) at (b O + o) I.
template <class T>
using Terms = std::vector<T, UninitAllocator<T>>;

template <class T>
std::vector<T> windows(KanWavelet wavelet, std::int64_t inputs) {
    std::vector<T> h(static_cast<std::size_t>(inputs));
    for (std::int64_t i = 0; i < inputs; ++i) {
        h[static_cast<std::size_t>(i)] = static_cast<T>(detail::kan_window(wavelet, i, inputs));
    }
    return h;
}

template <KanWavelet W, class T>
void forward(Context& ctx, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    const std::int64_t batch = x.size(0), inputs = x.size(1), outputs = w.scale.size(0);
    const std::vector<T> window = windows<T>(W, inputs);
    const T* xp = x.data<T>();
    const T* sp = w.scale.data<T>();
    const T* tp = w.translation.data<T>();
    const T* wp = w.wavelet_weights.data<T>();
    T* zp = z.data<T>();
    const std::int64_t rows = batch * outputs;  // (b, o), in z's order
    // Allocated here, before the parallel regions, so that a failure throws in the caller.
    Terms<T> terms(static_cast<std::size_t>(rows * inputs));  // wavelet_weights psi(u)
    T* termp = terms.data();

    // Pass 1: T[b,o,i] = w[o,i] psi_i((x[b,i] - t[o,i]) / s[o,i]).
#pragma omp parallel for num_threads(thread_count(ctx, rows)) schedule(static)
    for (std::int64_t row = 0; row < rows; ++row) {
        const std::int64_t b = row / outputs, o = row % outputs;
        const T* xb = xp + b * inputs;
        const T* s = sp + o * inputs;
        const T* t = tp + o * inputs;
        const T* ww = wp + o * inputs;
        T* out = termp + row * inputs;
        for (std::int64_t i = 0; i < inputs; ++i) {
            const T u = (xb[i] - t[i]) / s[i];
            out[i] = ww[i] * kan_psi<W, false>(u, window[static_cast<std::size_t>(i)]).psi;
        }
    }
    // Pass 2: z[b,o] = sum over i.
#pragma omp parallel for num_threads(thread_count(ctx, rows)) schedule(static)
    for (std::int64_t row = 0; row < rows; ++row) {
        const T* in = termp + row * inputs;
        T acc = 0;
        for (std::int64_t i = 0; i < inputs; ++i) {
            acc += in[i];
        }
        zp[row] = acc;
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
    const std::vector<T> window = windows<T>(W, inputs);
    const T* xp = x.data<T>();
    const T* sp = w.scale.data<T>();
    const T* tp = w.translation.data<T>();
    const T* wp = w.wavelet_weights.data<T>();
    const T* gp = g.data<T>();
    const std::int64_t rows = batch * outputs;
    const auto n = static_cast<std::size_t>(rows * inputs);
    // The four (B, O, I) terms, allocated before the parallel regions (dx's only when asked for).
    Terms<T> dx_terms(dx != nullptr ? n : 0);  //  G w dpsi / s
    Terms<T> ds_terms(n);                      // -G w dpsi u / s
    Terms<T> dt_terms(n);                      // -G w dpsi / s
    Terms<T> dw_terms(n);                      //  G psi
    T* dxq = dx != nullptr ? dx_terms.data() : nullptr;
    T* dsq = ds_terms.data();
    T* dtq = dt_terms.data();
    T* dwq = dw_terms.data();

    // Pass 1: every term of every (b, o, i).
#pragma omp parallel for num_threads(thread_count(ctx, rows)) schedule(static)
    for (std::int64_t row = 0; row < rows; ++row) {
        const std::int64_t b = row / outputs, o = row % outputs;
        const T gb = gp[row];  // g is (B, O): row b O + o
        const T* xb = xp + b * inputs;
        const T* s = sp + o * inputs;
        const T* t = tp + o * inputs;
        const T* ww = wp + o * inputs;
        const std::int64_t at = row * inputs;
        for (std::int64_t i = 0; i < inputs; ++i) {
            const T u = (xb[i] - t[i]) / s[i];
            const detail::PsiPair<T> p = kan_psi<W, true>(u, window[static_cast<std::size_t>(i)]);
            const T q = gb * ww[i] * p.dpsi;
            if (dxq != nullptr) {
                dxq[at + i] = q / s[i];
            }
            dsq[at + i] = -q * detail::finite_part(u) / s[i];
            dtq[at + i] = -q / s[i];
            dwq[at + i] = gb * p.psi;
        }
    }
    // Pass 2: the edge gradients, sums over b; a thread owns whole rows o of all three.
    T* dsp = dw.scale.data<T>();
    T* dtp = dw.translation.data<T>();
    T* dwp = dw.wavelet_weights.data<T>();
#pragma omp parallel for num_threads(thread_count(ctx, outputs)) schedule(static)
    for (std::int64_t o = 0; o < outputs; ++o) {
        T* ds = dsp + o * inputs;
        T* dt = dtp + o * inputs;
        T* dwo = dwp + o * inputs;
        std::fill(ds, ds + inputs, T(0));
        std::fill(dt, dt + inputs, T(0));
        std::fill(dwo, dwo + inputs, T(0));
        for (std::int64_t b = 0; b < batch; ++b) {
            const std::int64_t at = (b * outputs + o) * inputs;
            for (std::int64_t i = 0; i < inputs; ++i) {
                ds[i] += dsq[at + i];
                dt[i] += dtq[at + i];
                dwo[i] += dwq[at + i];
            }
        }
    }
    if (dxq == nullptr) {
        return;
    }
    // Pass 3: dx, sums over o; a thread owns whole rows b.
    T* dxp = dx->data<T>();
#pragma omp parallel for num_threads(thread_count(ctx, batch)) schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
        T* out = dxp + b * inputs;
        std::fill(out, out + inputs, T(0));
        for (std::int64_t o = 0; o < outputs; ++o) {
            const T* in = dxq + (b * outputs + o) * inputs;
            for (std::int64_t i = 0; i < inputs; ++i) {
                out[i] += in[i];
            }
        }
    }
}

}  // namespace

void wavkan_core_forward_unfused(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z) {
    with_wavelet(wavelet, [&](auto kind) {
        with_float_type(x.dtype(), [&](auto tag) {
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
    with_wavelet(wavelet, [&](auto kind) {
        with_float_type(x.dtype(), [&](auto tag) {
            backward<decltype(kind)::value, decltype(tag)>(ctx, x, w, g, dw, dx);
        });
    });
}

}  // namespace wtconv::cpu
