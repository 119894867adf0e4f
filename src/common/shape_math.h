#pragma once
// Sizes every WTConv implementation agrees on: the level pyramid (ceil halving), 'same' padding
// of a K-tap kernel, and the output length of each stride rule. Host and device code.
#include <cstdint>
#include <vector>

#if defined(__CUDACC__)
#define WTCONV_HOST_DEVICE __host__ __device__
#else
#define WTCONV_HOST_DEVICE
#endif

namespace wtconv::detail {

// 'same' padding of a K-tap kernel: (K-1)//2 before, K//2 after (PyTorch's padding='same').
WTCONV_HOST_DEVICE constexpr int same_pad_before(int k) {
    return (k - 1) / 2;
}
WTCONV_HOST_DEVICE constexpr int same_pad_after(int k) {
    return k / 2;
}
WTCONV_HOST_DEVICE constexpr std::int64_t ceil_half(std::int64_t n) {
    return (n + 1) / 2;
}
// 2D stride keeps rows 0, s, 2s, ...: ceil(n / s) of them.
WTCONV_HOST_DEVICE constexpr std::int64_t subsampled_size(std::int64_t n, int stride) {
    return stride > 1 ? (n - 1) / stride + 1 : n;
}
// 1D stride averages windows of s: floor(n / s) windows, a shorter tail is dropped.
WTCONV_HOST_DEVICE constexpr std::int64_t averaged_size(std::int64_t n, int stride) {
    return stride > 1 ? n / stride : n;
}

// Size of one spatial axis at every level: sizes[0] = n, sizes[i + 1] = ceil(sizes[i] / 2).
inline std::vector<std::int64_t> level_sizes(std::int64_t n, int levels) {
    std::vector<std::int64_t> sizes{n};
    for (int i = 0; i < levels; ++i) {
        sizes.push_back(ceil_half(sizes.back()));
    }
    return sizes;
}

}  // namespace wtconv::detail
