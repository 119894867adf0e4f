#pragma once
// pywt-compatible 2-D discrete wavelet transform on host tensors: dwt2/idwt2 (one level) and
// wavedec2/waverec2 (multilevel), all nine pywt 1.1.1 signal-extension modes, every discrete
// wavelet of wavelets.h. Spec: COMPRESSION.md section 5.
#include <cstdint>
#include <string>
#include <vector>

#include <wtconv/context.h>
#include <wtconv/tensor.h>

namespace wtconv {

// pywt's extension modes (COMPRESSION.md 5.2); kPeriodization changes the coefficient count.
enum class DwtMode {
    kZero,
    kConstant,
    kSymmetric,
    kReflect,
    kPeriodic,
    kAntisymmetric,
    kAntireflect,
    kSmooth,
    kPeriodization,
};

// pywt's names: "zero", "constant", "symmetric", "reflect", "periodic", "antisymmetric",
// "antireflect", "smooth", "periodization". An unknown name throws Error(kBadArgument).
DwtMode dwt_mode_from_name(const std::string& name);
const char* dwt_mode_name(DwtMode mode);

// pywt.dwt_max_level: 0 when n < filter_len - 1, else floor(log2(floor(n / (filter_len - 1)))).
// n >= 0, filter_len >= 2.
int dwt_max_level(std::int64_t n, int filter_len);
// The same with the filter length of a wavelet by name (unknown names throw).
int dwt_max_level(std::int64_t n, const std::string& wavelet);
// Coefficients one analysis step makes of n >= 1 samples: ceil(n / 2) for kPeriodization, else
// floor((n + filter_len - 1) / 2).
std::int64_t dwt_coeff_len(std::int64_t n, int filter_len, DwtMode mode);

// One level's details, each (..., h, w): h = cH (high-pass along H, axis -2, low along W),
// v = cV (low along H, high along W), d = cD (high along both).
struct DwtDetails {
    Tensor h, v, d;
};

// pywt's coefficient list [cA_L, (cH, cV, cD)_L, ..., (cH, cV, cD)_1]: details[0] is the coarsest
// level (j = 1 in the golden naming), details.back() the finest (the first dwt2 of x).
struct Dwt2Coeffs {
    Tensor approx;
    std::vector<DwtDetails> details;
};

// x: (..., H, W) host float32 or float64 tensor, H, W >= 1, any leading (batch) dims; the last two
// axes are transformed. Outputs have x's dtype and leading dims; sums accumulate in double and are
// rounded once to the dtype. Errors (Error, kBadArgument unless noted) name the argument: unknown
// wavelet, rank < 2, empty H or W, a dtype other than float32/float64, a CUDA tensor
// (kNotSupported), level < 0, or kReflect/kAntireflect on an axis of length 1 at any level (pywt
// never returns there).

// One analysis level: approx and details[0], each (..., Lc(H), Lc(W)) per dwt_coeff_len.
Dwt2Coeffs dwt2(Context& ctx, const Tensor& x, const std::string& wavelet, DwtMode mode);
Dwt2Coeffs dwt2(const Tensor& x, const std::string& wavelet, DwtMode mode);

// One synthesis level; approx and the three details must share shape (..., h, w) and dtype.
// Returns (..., 2h, 2w) for kPeriodization, else (..., 2h - F + 2, 2w - F + 2), which needs
// h, w >= F / 2 (always true of pywt-made coefficients). Synthesis ignores the mode otherwise.
Tensor idwt2(Context& ctx,
             const Tensor& approx,
             const DwtDetails& details,
             const std::string& wavelet,
             DwtMode mode);
Tensor idwt2(const Tensor& approx,
             const DwtDetails& details,
             const std::string& wavelet,
             DwtMode mode);

// pywt.wavedec2: level repeated dwt2 steps on the approximation. level > dwt_max_level is allowed
// (pywt only warns); level 0 returns approx = a copy of x and no details.
Dwt2Coeffs wavedec2(
    Context& ctx, const Tensor& x, const std::string& wavelet, DwtMode mode, int level);
Dwt2Coeffs wavedec2(const Tensor& x, const std::string& wavelet, DwtMode mode, int level);

// pywt.waverec2: from the coarsest level, drop the approximation's last row (column) where it is
// one longer than the details, then idwt2. Not cropped: for level >= 1 of an H x W input it is
// (H + H % 2) x (W + W % 2); no details returns a copy of approx.
Tensor waverec2(Context& ctx, const Dwt2Coeffs& coeffs, const std::string& wavelet, DwtMode mode);
Tensor waverec2(const Dwt2Coeffs& coeffs, const std::string& wavelet, DwtMode mode);

}  // namespace wtconv
