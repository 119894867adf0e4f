// dwt on the CPU: pywt's 1-D analysis and synthesis (COMPRESSION.md 5.2-5.5) applied along H then
// W (analysis) or W then H (synthesis), one (H, W) plane per OpenMP item, sums in double.
#include <algorithm>
#include <cstdint>

#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "ops/dwt_backends.h"

// pywt rounds every product before adding it (its C kernels are built without FMA). A fused
// multiply-add, which GCC emits for s += a * b in C++ wherever the target has FMA (-march=native),
// leaves ~1e-17 residues where pywt gets exact zeros (the detail of a duplicated sample under
// periodization), and DWT pruning's percentile and zero counts see those zeros. Hence
// -ffp-contract=off on this file (CMakeLists.txt).

namespace wtconv::cpu {

namespace {

using std::int64_t;

// How far one analysis step reads x~ past either end of a signal of n samples (n' for
// periodization), given the tap offset s of 5.3/5.4: indices s - F + 1 .. s + 2 (lc - 1).
struct LineGeometry {
    int64_t n = 0;   // samples in the (possibly padded) signal
    int64_t lc = 0;  // coefficients out
    int64_t s = 0;   // cA[o] = sum_j lo[j] * x~[s + 2o - j]
    int64_t reach = 0;
};

LineGeometry line_geometry(int64_t n, int f, DwtMode mode) {
    LineGeometry g;
    const bool per = mode == DwtMode::kPeriodization;
    g.n = per ? n + n % 2 : n;  // 5.4: an odd signal gets its last sample once more
    g.lc = per ? g.n / 2 : (n + f - 1) / 2;
    g.s = per ? f / 2 : 1;
    g.reach = std::max<int64_t>({0, f - 1 - g.s, g.s + 2 * (g.lc - 1) - (g.n - 1)});
    return g;
}

// Fills e[-reach, 0) and e[n, n + reach) from e[0..n) = x by the mode's rules. The mirroring
// modes grow the extension one sample a side at a time from what is already there, so that a
// filter longer than the signal mirrors again (5.2: the rules repeat however far they reach).
// Right first, then left, keeps every source index inside the filled range; the whole-sample
// mirrors need n >= 2, which src/ops/dwt.cpp checks.
void extend(int64_t n, DwtMode mode, int64_t reach, double* e) {
    const double first = e[0];
    const double last = e[n - 1];
    for (int64_t r = 1; r <= reach; ++r) {
        double& right = e[n - 1 + r];
        double& left = e[-r];
        const int64_t m = n - 1 + r;  // index of right
        switch (mode) {
            case DwtMode::kZero:
                right = 0.0;
                left = 0.0;
                break;
            case DwtMode::kConstant:
                right = last;
                left = first;
                break;
            case DwtMode::kSmooth:  // linear extrapolation of the end slopes; constant when n = 1
                right = n == 1 ? last : last + static_cast<double>(r) * (last - e[n - 2]);
                left = n == 1 ? first : first + static_cast<double>(r) * (first - e[1]);
                break;
            case DwtMode::kSymmetric:  // mirrors about -1/2 and n - 1/2
                right = e[2 * n - 1 - m];
                left = e[r - 1];
                break;
            case DwtMode::kAntisymmetric:
                right = -e[2 * n - 1 - m];
                left = -e[r - 1];
                break;
            case DwtMode::kReflect:  // mirrors about 0 and n - 1
                right = e[2 * n - 2 - m];
                left = e[r];
                break;
            case DwtMode::kAntireflect:  // point reflections about (0, x[0]) and (n-1, x[n-1])
                right = 2.0 * last - e[2 * n - 2 - m];
                left = 2.0 * first - e[r];
                break;
            case DwtMode::kPeriodic:
            case DwtMode::kPeriodization:
                right = e[m - n];
                left = e[n - r];
                break;
        }
    }
}

// cA and cD of one line (5.3/5.4). e: scratch of n + 2 * reach + 1 doubles.
void analyze_line(const double* x,
                  int64_t n,
                  const detail::WaveletTaps& taps,
                  DwtMode mode,
                  double* e,
                  double* ca,
                  double* cd) {
    const LineGeometry g = line_geometry(n, taps.length, mode);
    double* origin = e + g.reach;
    std::copy(x, x + n, origin);
    if (g.n > n) {
        origin[n] = x[n - 1];
    }
    extend(g.n, mode, g.reach, origin);
    for (int64_t o = 0; o < g.lc; ++o) {
        const double* at = origin + g.s + 2 * o;  // at[-j] = x~[s + 2o - j]
        double lo = 0.0;
        double hi = 0.0;
        for (int j = 0; j < taps.length; ++j) {
            lo += taps.dec_lo[j] * at[-j];
            hi += taps.dec_hi[j] * at[-j];
        }
        ca[o] = lo;
        cd[o] = hi;
    }
}

// Length of one synthesis step's output from lc coefficients (5.5).
int64_t synthesis_len(int64_t lc, int f, DwtMode mode) {
    return mode == DwtMode::kPeriodization ? 2 * lc : 2 * lc - f + 2;
}

// x[0..synthesis_len) from cA, cD (5.5), as a scatter: coefficient k feeds output 2k + t - shift
// through tap t, dropped outside the output (non-periodization) or wrapped (periodization).
void synthesize_line(const double* ca,
                     const double* cd,
                     int64_t lc,
                     const detail::WaveletTaps& taps,
                     DwtMode mode,
                     double* x) {
    const int f = taps.length;
    const bool per = mode == DwtMode::kPeriodization;
    const int64_t m = synthesis_len(lc, f, mode);
    const int64_t shift = per ? f / 2 - 1 : f - 2;
    std::fill(x, x + m, 0.0);
    for (int64_t k = 0; k < lc; ++k) {
        for (int t = 0; t < f; ++t) {
            int64_t at = 2 * k + t - shift;
            if (per) {
                at = ((at % m) + m) % m;
            } else if (at < 0 || at >= m) {
                continue;
            }
            x[at] += ca[k] * taps.rec_lo[t] + cd[k] * taps.rec_hi[t];
        }
    }
}

template <class T>
void store(const double* src, int64_t count, T* dst) {
    for (int64_t i = 0; i < count; ++i) {
        dst[i] = static_cast<T>(src[i]);
    }
}

template <class T>
void forward_typed(
    Context& ctx, const Tensor& x, const detail::WaveletTaps& taps, DwtMode mode, Dwt2Coeffs& out) {
    const int64_t hh = x.size(-2);
    const int64_t ww = x.size(-1);
    const int64_t planes = hh * ww == 0 ? 0 : x.numel() / (hh * ww);
    const LineGeometry gh = line_geometry(hh, taps.length, mode);
    const LineGeometry gw = line_geometry(ww, taps.length, mode);
    const int64_t h = gh.lc;
    const int64_t w = gw.lc;
    const int64_t ext = std::max(gh.n + 2 * gh.reach, gw.n + 2 * gw.reach) + 1;
    const int64_t line = std::max(hh, ww);
    // Scratch: the H-pass results (h x W, lo and hi), one input line, its extension, two outputs.
    const auto scratch = static_cast<std::size_t>(2 * h * ww + line + ext + 2 * std::max(h, w));

    const T* xs = x.data<T>();
    T* a = out.approx.data<T>();
    T* dh = out.details[0].h.data<T>();
    T* dv = out.details[0].v.data<T>();
    T* dd = out.details[0].d.data<T>();
    parallel_for_planes<double>(ctx.num_threads(), planes, scratch, [&](int64_t p, double* s) {
        double* lo_h = s;           // (h, W): low-pass along H
        double* hi_h = s + h * ww;  // (h, W): high-pass along H
        double* in = hi_h + h * ww;
        double* e = in + line;
        double* o1 = e + ext;
        double* o2 = o1 + std::max(h, w);
        const T* xp = xs + p * hh * ww;
        for (int64_t c = 0; c < ww; ++c) {  // along H, one column at a time
            for (int64_t r = 0; r < hh; ++r) {
                in[r] = static_cast<double>(xp[r * ww + c]);
            }
            analyze_line(in, hh, taps, mode, e, o1, o2);
            for (int64_t o = 0; o < h; ++o) {
                lo_h[o * ww + c] = o1[o];
                hi_h[o * ww + c] = o2[o];
            }
        }
        const int64_t off = p * h * w;
        for (int64_t r = 0; r < h; ++r) {  // along W: (lo, lo) = cA, (lo, hi) = cV, ...
            analyze_line(lo_h + r * ww, ww, taps, mode, e, o1, o2);
            store(o1, w, a + off + r * w);
            store(o2, w, dv + off + r * w);
            analyze_line(hi_h + r * ww, ww, taps, mode, e, o1, o2);
            store(o1, w, dh + off + r * w);
            store(o2, w, dd + off + r * w);
        }
    });
}

template <class T>
void inverse_typed(Context& ctx,
                   const Tensor& approx,
                   const DwtDetails& det,
                   const detail::WaveletTaps& taps,
                   DwtMode mode,
                   Tensor& y) {
    const int64_t h = det.h.size(-2);
    const int64_t w = det.h.size(-1);
    const int64_t ha = approx.size(-2);
    const int64_t wa = approx.size(-1);
    const int64_t mh = synthesis_len(h, taps.length, mode);
    const int64_t mw = synthesis_len(w, taps.length, mode);
    const int64_t planes = h * w == 0 ? 0 : det.h.numel() / (h * w);
    // Scratch: the W-pass results (h x Mw, lo and hi along H), four input lines, one output line.
    const int64_t line = std::max(h, w);
    const auto scratch = static_cast<std::size_t>(2 * h * mw + 4 * line + std::max(mh, mw));

    const T* as = approx.data<T>();
    const T* hs = det.h.data<T>();
    const T* vs = det.v.data<T>();
    const T* ds = det.d.data<T>();
    T* ys = y.data<T>();
    parallel_for_planes<double>(ctx.num_threads(), planes, scratch, [&](int64_t p, double* s) {
        double* lo_h = s;  // (h, Mw): from (cA, cV), still low-pass along H
        double* hi_h = s + h * mw;
        double* l1 = hi_h + h * mw;
        double* l2 = l1 + line;
        double* l3 = l2 + line;
        double* l4 = l3 + line;
        double* out = l4 + line;
        const T* ap = as + p * ha * wa;
        const int64_t off = p * h * w;
        for (int64_t r = 0; r < h; ++r) {  // along W
            for (int64_t c = 0; c < w; ++c) {
                l1[c] = static_cast<double>(ap[r * wa + c]);
                l2[c] = static_cast<double>(vs[off + r * w + c]);
                l3[c] = static_cast<double>(hs[off + r * w + c]);
                l4[c] = static_cast<double>(ds[off + r * w + c]);
            }
            synthesize_line(l1, l2, w, taps, mode, lo_h + r * mw);
            synthesize_line(l3, l4, w, taps, mode, hi_h + r * mw);
        }
        T* yp = ys + p * mh * mw;
        for (int64_t c = 0; c < mw; ++c) {  // along H, one column at a time
            for (int64_t r = 0; r < h; ++r) {
                l1[r] = lo_h[r * mw + c];
                l2[r] = hi_h[r * mw + c];
            }
            synthesize_line(l1, l2, h, taps, mode, out);
            for (int64_t r = 0; r < mh; ++r) {
                yp[r * mw + c] = static_cast<T>(out[r]);
            }
        }
    });
}

}  // namespace

void dwt2_forward(
    Context& ctx, const Tensor& x, const detail::WaveletTaps& taps, DwtMode mode, Dwt2Coeffs& out) {
    with_float_type(x.dtype(),
                    [&](auto tag) { forward_typed<decltype(tag)>(ctx, x, taps, mode, out); });
}

void dwt2_inverse(Context& ctx,
                  const Tensor& approx,
                  const DwtDetails& details,
                  const detail::WaveletTaps& taps,
                  DwtMode mode,
                  Tensor& y) {
    with_float_type(approx.dtype(), [&](auto tag) {
        inverse_typed<decltype(tag)>(ctx, approx, details, taps, mode, y);
    });
}

}  // namespace wtconv::cpu
