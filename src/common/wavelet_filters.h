#pragma once
// The embedded table of discrete wavelet filters (generated into wavelet_table.cpp from
// tests/golden/wavelets.json by cmake/generate_wavelet_table.cmake) and lookup by name.
#include <string_view>

namespace wtconv::detail {

struct WaveletTaps {
    std::string_view name;
    int length;  // F, even, the same for all four filters
    const double* dec_lo;
    const double* dec_hi;
    const double* rec_lo;
    const double* rec_hi;
};

// The whole table, sorted by name; wavelet_table_size() entries.
const WaveletTaps* wavelet_table();
int wavelet_table_size();
// nullptr when the name is unknown.
const WaveletTaps* find_wavelet(std::string_view name);

}  // namespace wtconv::detail
