// dwt: argument checks, output allocation and the one dispatch point of the pywt-compatible 2-D
// DWT (dwt2, idwt2, wavedec2, waverec2). The transforms live in cpu/dwt.cpp.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include <wtconv/ops/dwt.h>

#include "common/alloc_output.h"
#include "common/wavelet_filters.h"
#include "ops/dwt_backends.h"

namespace wtconv {

namespace {

using std::int64_t;

constexpr std::array<std::pair<DwtMode, const char*>, 9> kModeNames{{
    {DwtMode::kZero, "zero"},
    {DwtMode::kConstant, "constant"},
    {DwtMode::kSymmetric, "symmetric"},
    {DwtMode::kReflect, "reflect"},
    {DwtMode::kPeriodic, "periodic"},
    {DwtMode::kAntisymmetric, "antisymmetric"},
    {DwtMode::kAntireflect, "antireflect"},
    {DwtMode::kSmooth, "smooth"},
    {DwtMode::kPeriodization, "periodization"},
}};

const detail::WaveletTaps& taps_of(const std::string& wavelet) {
    const detail::WaveletTaps* taps = detail::find_wavelet(wavelet);
    WTCONV_CHECK(taps != nullptr, "dwt: wavelet must be a discrete pywt wavelet name, got \"",
                 wavelet, "\"");
    return *taps;
}

// Whole-sample mirrors need two samples: pywt's extension loop makes no progress on one.
bool needs_two_samples(DwtMode mode) {
    return mode == DwtMode::kReflect || mode == DwtMode::kAntireflect;
}

// The one place that knows which devices have a dwt kernel; no default, so -Wswitch names it
// when DeviceType grows.
void check_backend(const char* name, const Tensor& t) {
    switch (t.device().type) {
        case DeviceType::kCpu:
            return;
        case DeviceType::kCuda:
            throw Error(
                ErrorCode::kNotSupported,
                detail::concat("dwt: ", name,
                               " must be a CPU tensor (dwt has no CUDA kernel), got one on ",
                               t.device().str()));
    }
}

// Defined, on the host, float32 or float64, rank >= 2.
void check_tensor(const char* name, const Tensor& t) {
    WTCONV_CHECK(t.defined(), "dwt: ", name, " must be a tensor, got an undefined one");
    check_backend(name, t);
    WTCONV_CHECK(t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64, "dwt: ", name,
                 " must be float32 or float64, got ", dtype_name(t.dtype()));
    WTCONV_CHECK(t.dim() >= 2, "dwt: ", name, " must be (..., H, W) with rank >= 2, got ",
                 t.shape());
}

// x's leading dims followed by (h, w).
Shape with_plane(const Shape& lead, int64_t h, int64_t w) {
    std::vector<int64_t> sizes(lead.begin(), lead.end() - 2);
    sizes.push_back(h);
    sizes.push_back(w);
    return Shape(std::move(sizes));
}

// The shape of the plane at every level, checked before anything is allocated so that a bad
// level fails whole: level 0 is x's own.
void check_levels(const Shape& x, const detail::WaveletTaps& taps, DwtMode mode, int level) {
    WTCONV_CHECK(level >= 0, "dwt: level must be >= 0, got ", level);
    int64_t h = x[x.rank() - 2];
    int64_t w = x[x.rank() - 1];
    WTCONV_CHECK(h >= 1 && w >= 1, "dwt: x must have H >= 1 and W >= 1, got ", x);
    for (int j = 0; j < level; ++j) {
        WTCONV_CHECK(!needs_two_samples(mode) || (h >= 2 && w >= 2), "dwt: x must have H >= 2 and ",
                     "W >= 2 at every level for mode ", dwt_mode_name(mode),
                     " (pywt never returns on a length-1 axis), got ", h, "x", w, " at level ",
                     j + 1, " of x ", x);
        h = dwt_coeff_len(h, taps.length, mode);
        w = dwt_coeff_len(w, taps.length, mode);
    }
}

Dwt2Coeffs alloc_level(Context& ctx, const Tensor& x, const detail::WaveletTaps& taps, DwtMode m) {
    const Shape s = with_plane(x.shape(), dwt_coeff_len(x.size(-2), taps.length, m),
                               dwt_coeff_len(x.size(-1), taps.length, m));
    const auto band = [&] { return detail::alloc_output(ctx, s, x.dtype(), x.device()); };
    Dwt2Coeffs c;
    c.approx = band();
    c.details.push_back(DwtDetails{band(), band(), band()});
    return c;
}

// 5.5: samples one synthesis step makes of lc coefficients.
int64_t synthesis_len(int64_t lc, int f, DwtMode mode) {
    return mode == DwtMode::kPeriodization ? 2 * lc : 2 * lc - f + 2;
}

// The three details of one level: defined, same shape and dtype. The approximation (its shape a
// and dtype) must match their leading dims and dtype, and its plane may exceed theirs by at most
// one (waverec2) or not at all (idwt2). Returns the shape synthesis makes.
Shape check_synthesis(const Shape& a,
                      DType dtype,
                      const DwtDetails& d,
                      const detail::WaveletTaps& taps,
                      DwtMode mode,
                      int64_t slack) {
    check_tensor("details.h", d.h);
    check_tensor("details.v", d.v);
    check_tensor("details.d", d.d);
    WTCONV_CHECK(d.v.shape() == d.h.shape() && d.d.shape() == d.h.shape(),
                 "dwt: details h, v, d must share one shape, got ", d.h.shape(), ", ", d.v.shape(),
                 ", ", d.d.shape());
    WTCONV_CHECK(d.h.dtype() == dtype && d.v.dtype() == dtype && d.d.dtype() == dtype,
                 "dwt: details must have approx's dtype ", dtype_name(dtype), ", got ",
                 dtype_name(d.h.dtype()), ", ", dtype_name(d.v.dtype()), ", ",
                 dtype_name(d.d.dtype()));
    const Shape& s = d.h.shape();
    bool fits = a.rank() == s.rank();
    for (int i = 0; fits && i < a.rank(); ++i) {
        const int64_t extra = a[i] - s[i];
        fits = extra == 0 || (i >= a.rank() - 2 && extra >= 0 && extra <= slack);
    }
    WTCONV_CHECK(fits, "dwt: approx must have the details' shape ", s,
                 slack > 0 ? " (or one more row or column)" : "", ", got ", a);
    const int64_t h = s[s.rank() - 2];
    const int64_t w = s[s.rank() - 1];
    WTCONV_CHECK(h >= 1 && w >= 1, "dwt: details must have H >= 1 and W >= 1, got ", s);
    if (mode != DwtMode::kPeriodization) {
        const int64_t half = taps.length / 2;
        WTCONV_CHECK(h >= half && w >= half, "dwt: details must be at least F / 2 = ", half,
                     " long on each axis for ", taps.name, " in mode ", dwt_mode_name(mode),
                     " (as pywt makes them), got ", s);
    }
    return with_plane(s, synthesis_len(h, taps.length, mode), synthesis_len(w, taps.length, mode));
}

}  // namespace

DwtMode dwt_mode_from_name(const std::string& name) {
    for (const auto& [mode, text] : kModeNames) {
        if (name == text) {
            return mode;
        }
    }
    throw Error(
        ErrorCode::kBadArgument,
        detail::concat("dwt: mode must be one of zero, constant, symmetric, reflect, ",
                       "periodic, antisymmetric, antireflect, smooth, periodization, got \"", name,
                       "\""));
}

const char* dwt_mode_name(DwtMode mode) {
    for (const auto& [m, text] : kModeNames) {
        if (m == mode) {
            return text;
        }
    }
    return "?";
}

int dwt_max_level(int64_t n, int filter_len) {
    WTCONV_CHECK(n >= 0, "dwt: n must be >= 0, got ", n);
    WTCONV_CHECK(filter_len >= 2, "dwt: filter_len must be >= 2, got ", filter_len);
    if (n < filter_len - 1) {
        return 0;
    }
    int64_t q = n / (filter_len - 1);  // floor(log2(q)) in integers: no rounding at powers of 2
    int level = 0;
    while (q > 1) {
        q /= 2;
        ++level;
    }
    return level;
}

int dwt_max_level(int64_t n, const std::string& wavelet) {
    return dwt_max_level(n, taps_of(wavelet).length);
}

int64_t dwt_coeff_len(int64_t n, int filter_len, DwtMode mode) {
    WTCONV_CHECK(n >= 1, "dwt: n must be >= 1, got ", n);
    WTCONV_CHECK(filter_len >= 2, "dwt: filter_len must be >= 2, got ", filter_len);
    return mode == DwtMode::kPeriodization ? (n + 1) / 2 : (n + filter_len - 1) / 2;
}

Dwt2Coeffs dwt2(Context& ctx, const Tensor& x, const std::string& wavelet, DwtMode mode) {
    return wavedec2(ctx, x, wavelet, mode, 1);
}

Tensor idwt2(Context& ctx,
             const Tensor& approx,
             const DwtDetails& details,
             const std::string& wavelet,
             DwtMode mode) {
    const detail::WaveletTaps& taps = taps_of(wavelet);
    check_tensor("approx", approx);
    const Shape out = check_synthesis(approx.shape(), approx.dtype(), details, taps, mode, 0);
    Tensor y = detail::alloc_output(ctx, out, approx.dtype(), approx.device());
    cpu::dwt2_inverse(ctx, approx, details, taps, mode, y);
    return y;
}

Dwt2Coeffs wavedec2(
    Context& ctx, const Tensor& x, const std::string& wavelet, DwtMode mode, int level) {
    const detail::WaveletTaps& taps = taps_of(wavelet);
    check_tensor("x", x);
    check_levels(x.shape(), taps, mode, level);
    Dwt2Coeffs out;
    out.approx = level == 0 ? x.clone() : x;
    for (int j = 0; j < level; ++j) {  // finest first; pywt lists the coarsest first
        Dwt2Coeffs step = alloc_level(ctx, out.approx, taps, mode);
        cpu::dwt2_forward(ctx, out.approx, taps, mode, step);
        out.approx = std::move(step.approx);
        out.details.insert(out.details.begin(), std::move(step.details[0]));
    }
    return out;
}

Tensor waverec2(Context& ctx, const Dwt2Coeffs& c, const std::string& wavelet, DwtMode mode) {
    const detail::WaveletTaps& taps = taps_of(wavelet);
    check_tensor("approx", c.approx);
    // Every level is checked against the shape the previous one makes, before any work.
    std::vector<Shape> outs;
    Shape a = c.approx.shape();
    for (const DwtDetails& d : c.details) {
        a = check_synthesis(a, c.approx.dtype(), d, taps, mode, 1);
        outs.push_back(a);
    }
    if (c.details.empty()) {
        return c.approx.clone();
    }
    Tensor approx = c.approx;
    for (std::size_t j = 0; j < c.details.size(); ++j) {
        Tensor y = detail::alloc_output(ctx, outs[j], approx.dtype(), approx.device());
        cpu::dwt2_inverse(ctx, approx, c.details[j], taps, mode, y);
        approx = std::move(y);
    }
    return approx;
}

Dwt2Coeffs dwt2(const Tensor& x, const std::string& wavelet, DwtMode mode) {
    return dwt2(default_context(Device::cpu()), x, wavelet, mode);
}
Tensor idwt2(const Tensor& approx,
             const DwtDetails& details,
             const std::string& wavelet,
             DwtMode mode) {
    return idwt2(default_context(Device::cpu()), approx, details, wavelet, mode);
}
Dwt2Coeffs wavedec2(const Tensor& x, const std::string& wavelet, DwtMode mode, int level) {
    return wavedec2(default_context(Device::cpu()), x, wavelet, mode, level);
}
Tensor waverec2(const Dwt2Coeffs& coeffs, const std::string& wavelet, DwtMode mode) {
    return waverec2(default_context(Device::cpu()), coeffs, wavelet, mode);
}

}  // namespace wtconv
