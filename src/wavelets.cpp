// The public wavelet API (include/wtconv/wavelets.h): names, lookup and filter banks copied out
// of the embedded table in common/wavelet_table.cpp.
#include <cstddef>
#include <string>
#include <vector>

#include <wtconv/error.h>
#include <wtconv/wavelets.h>

#include "common/wavelet_filters.h"

namespace wtconv {

std::vector<std::string> wavelet_names() {
    // The table is already sorted by name, so this keeps that order.
    const detail::WaveletTaps* const table = detail::wavelet_table();
    const int size = detail::wavelet_table_size();
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(size));
    for (int i = 0; i < size; ++i) {
        names.emplace_back(table[i].name);
    }
    return names;
}

bool is_wavelet(const std::string& name) {
    return detail::find_wavelet(name) != nullptr;
}

WaveletFilterBank wavelet_filter_bank(const std::string& name) {
    const detail::WaveletTaps* const taps = detail::find_wavelet(name);
    WTCONV_CHECK(taps != nullptr, "wavelet: unknown name \"", name,
                 "\"; expected a discrete pywt wavelet such as db1, db2, sym3, coif1, bior2.2 "
                 "(see wavelet_names())");
    const int f = taps->length;
    WaveletFilterBank bank;
    bank.name = name;
    bank.dec_lo.assign(taps->dec_lo, taps->dec_lo + f);
    bank.dec_hi.assign(taps->dec_hi, taps->dec_hi + f);
    bank.rec_lo.assign(taps->rec_lo, taps->rec_lo + f);
    bank.rec_hi.assign(taps->rec_hi, taps->rec_hi + f);
    return bank;
}

}  // namespace wtconv
