#pragma once
// The discrete wavelets the library knows: every name of pywt.wavelist(kind='discrete') (pywt
// 1.1.1), with pywt's stored filter coefficients as exact doubles.
#include <string>
#include <vector>

namespace wtconv {

struct WaveletFilterBank {
    std::string name;
    std::vector<double> dec_lo, dec_hi;  // analysis filters, pywt order (not reversed)
    std::vector<double> rec_lo, rec_hi;  // synthesis filters
};

// Every known name, sorted.
std::vector<std::string> wavelet_names();
bool is_wavelet(const std::string& name);
// Throws Error(kBadArgument) naming the wavelet when it is unknown.
WaveletFilterBank wavelet_filter_bank(const std::string& name);

}  // namespace wtconv
