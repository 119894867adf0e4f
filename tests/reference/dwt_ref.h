// Independent double-precision reference for the pywt-compatible DWT (COMPRESSION.md 5): the
// closed-form extension of 5.2 and the direct sums of 5.3-5.6 as plain loops, nothing from the
// library. Modes are pywt's names ("zero", ..., "periodization").
#pragma once

#include <array>
#include <string>
#include <vector>

#include "reference/wtconv_ref.h"

namespace wtconv::ref {

// x~[n] of x (5.2) for any integer n, however far outside [0, N). Not for "periodization".
double dwt_extended(const std::vector<double>& x, int64_t n, const std::string& mode);

// 5.3 / 5.4: one analysis step with one filter (dec_lo gives cA, dec_hi gives cD).
std::vector<double> dwt1d(const std::vector<double>& x,
                          const std::vector<double>& filter,
                          const std::string& mode);
// 5.5: one synthesis step from cA and cD of equal length.
std::vector<double> idwt1d(const std::vector<double>& ca,
                           const std::vector<double>& cd,
                           const FilterBank& fb,
                           const std::string& mode);

// A 2-D array (H, W) transformed; bands[0..2] = cH, cV, cD.
struct DwtLevel {
    std::array<Array, 3> bands;
};
struct Dwt2 {
    Array approx;                   // cA_L
    std::vector<DwtLevel> details;  // coarsest first (pywt order, golden j = 1 first)
};

// 5.6 on a 2-D array (H, W).
Dwt2 dwt2(const Array& x, const FilterBank& fb, const std::string& mode);
Array idwt2(const Array& approx,
            const DwtLevel& details,
            const FilterBank& fb,
            const std::string& mode);
Dwt2 wavedec2(const Array& x, const FilterBank& fb, const std::string& mode, int level);
Array waverec2(const Dwt2& coeffs, const FilterBank& fb, const std::string& mode);
int dwt_max_level(int64_t n, int filter_len);

}  // namespace wtconv::ref
