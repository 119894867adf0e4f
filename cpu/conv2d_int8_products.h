#pragma once
// The int8 conv2d's products (cpu/conv2d_int8.cpp drives them): acc (Og, width) int32 = the
// weights of group gi (Og, K) times col (K, width) uint8, one chunk of output pixels. AMX and
// VNNI: cpu/conv2d_int8_amx.cpp, cpu/conv2d_int8_products.cpp.
#include <cstdint>
#include <vector>

#include "common/conv2d_geometry.h"

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__)
#define WTCONV_HAVE_VNNI 1
#endif
#if defined(__AVX2__)
#define WTCONV_HAVE_AVX2_INT8 1
#endif
#if defined(WTCONV_HAVE_VNNI) && defined(__AMX_TILE__) && defined(__AMX_INT8__)
#define WTCONV_HAVE_AMX 1
#endif

namespace wtconv::cpu::int8 {

using ::wtconv::detail::Conv2dGeometry;

// Pixels per work item, a multiple of the VNNI kernel's 32-pixel block.
constexpr std::int64_t kPixels = 256;
constexpr std::int64_t kPixelBlock = 32;  // two zmm of 16 int32 lanes
constexpr std::int64_t kRowBlock = 8;     // output channels per VNNI block: 16 accumulators
// AMX: 2 x 2 tiles of 16 output channels x 16 pixels, each summing 64 taps (16 k4 rows) a step.
constexpr std::int64_t kAmxRows = 32;
constexpr std::int64_t kAmxTapRows = 16;

constexpr std::int64_t round_up(std::int64_t v, std::int64_t m) {
    return (v + m - 1) / m * m;
}

// The weights of one layer, ready for every product: rows padded to a multiple of 4 taps with
// zeros, kAmxRows zero rows and 64 zero bytes after the last, and each row's sum.
struct PackedWeights {
    std::int64_t k4;                // taps / 4, rounded up
    std::vector<std::int32_t> w4;   // (O + kAmxRows, k4) + 16: 4 int8 taps per int32
    std::vector<std::int32_t> sum;  // (O): sum of a row's taps
    std::vector<std::int32_t> w2;   // (O + kAmxRows, 2 k4): 2 int16 taps per int32, built
                                    // only for the AVX2 product (int16_pairs): 2 ms a call at
                                    // layer4's 3x3 for the others
    PackedWeights(const Conv2dGeometry& g, const std::int8_t* w, bool int16_pairs, int threads);
    const std::int8_t* row(std::int64_t o) const {
        return reinterpret_cast<const std::int8_t*>(w4.data() + o * k4);
    }
};

// Every product: acc (Og, width) of group gi from col (K, width); packed is its scratch (its
// repacked copy of col). Declared through one function type; defined with the same parameters.
using Product = void(const Conv2dGeometry& g,
                     const PackedWeights& pw,
                     std::int64_t gi,
                     const std::uint8_t* col,
                     std::int64_t width,
                     std::uint8_t* packed,
                     std::int32_t* acc);

Product product_portable;
#if defined(WTCONV_HAVE_VNNI)
// col (K, width) repacked so each int32 holds one pixel's 4 consecutive taps: (k4_rows, padded,
// 4) bytes, padded = width rounded up to kPixelBlock; taps past K are zero.
void pack_tap_quads(const Conv2dGeometry& g,
                    const std::uint8_t* col,
                    std::int64_t width,
                    std::int64_t k4_rows,
                    std::uint8_t* packed);
Product product_vnni;
#endif
#if defined(WTCONV_HAVE_AMX)
Product product_amx;
// The CPU has AMX-TILE and AMX-INT8 and Linux lets this process use the tile data state (asked
// once).
bool amx_usable();
#endif
#if defined(WTCONV_HAVE_AVX2_INT8)
Product product_avx2;
#endif

}  // namespace wtconv::cpu::int8
