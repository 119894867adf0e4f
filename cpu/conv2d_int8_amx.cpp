// The int8 conv2d's AMX product (cpu/conv2d_int8_products.h): tdpbsud sums a 16 x 16 int32 tile
// from 16 x 64 s8 weights and 64 x 16 u8 taps an instruction.
#include "cpu/conv2d_int8_products.h"

#if defined(WTCONV_HAVE_AMX)
#include <algorithm>
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace wtconv::cpu::int8 {

// Tile registers: 0-3 the 2 x 2 sums, 4-5 the weights, 6-7 the taps; each 16 rows of 64 bytes.
struct alignas(64) AmxTileConfig {
    std::uint8_t palette = 1;
    std::uint8_t start_row = 0;
    std::uint8_t reserved[14] = {};
    std::uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// One tile's 16 x 16 sums at (r0, p0) of acc (Og, width), rows past Og and pixels past width
// dropped; store_tile(dst, stride) stores the tile (the intrinsics take its number as a literal).
template <class StoreTile>
void store_amx_sums(const StoreTile& store_tile,
                    std::int32_t* acc,
                    std::int64_t og,
                    std::int64_t width,
                    std::int64_t r0,
                    std::int64_t p0) {
    if (r0 + 16 <= og && p0 + 16 <= width) {
        store_tile(acc + r0 * width + p0, width * 4);
        return;
    }
    if (r0 >= og || p0 >= width) {
        return;
    }
    alignas(64) std::int32_t sums[16 * 16];
    store_tile(sums, 64);
    for (std::int64_t r = 0; r < std::min<std::int64_t>(16, og - r0); ++r) {
        std::copy_n(sums + r * 16, std::min<std::int64_t>(16, width - p0),
                    acc + (r0 + r) * width + p0);
    }
}

// The same product on AMX: the taps in pack_tap_quads' layout are the B tiles (16 k4 rows of 16
// pixels x 4 bytes), the weight rows the A tiles (16 channels x 64 taps), tdpbsud the signed x
// unsigned product; every sum stays in a tile register from the first tap to the last.
void product_amx(const Conv2dGeometry& g,
                 const PackedWeights& pw,
                 std::int64_t gi,
                 const std::uint8_t* col,
                 std::int64_t width,
                 std::uint8_t* packed,
                 std::int32_t* acc) {
    const std::int64_t padded = round_up(width, kPixelBlock);
    const std::int64_t k4_rows = round_up(pw.k4, kAmxTapRows);
    pack_tap_quads(g, col, width, k4_rows, packed);
    static const AmxTileConfig config;
    _tile_loadconfig(&config);
    const std::int64_t weight_stride = pw.k4 * 4, tap_stride = padded * 4;
    // Row blocks outside: a block's weights (32 rows x K bytes, 147 kB at layer4's 3x3) stay in
    // L2 while every pixel block passes; with pixel blocks outside, all the weights came from L3
    // once per pixel block.
    for (std::int64_t r0 = 0; r0 < g.og(); r0 += kAmxRows) {
        const auto* w =
            reinterpret_cast<const std::uint8_t*>(pw.w4.data() + (gi * g.og() + r0) * pw.k4);
        for (std::int64_t p0 = 0; p0 < padded; p0 += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (std::int64_t k4 = 0; k4 < k4_rows; k4 += kAmxTapRows) {
                _tile_loadd(4, w + k4 * 4, weight_stride);
                _tile_loadd(5, w + 16 * weight_stride + k4 * 4, weight_stride);
                _tile_loadd(6, packed + k4 * tap_stride + p0 * 4, tap_stride);
                _tile_loadd(7, packed + k4 * tap_stride + (p0 + 16) * 4, tap_stride);
                _tile_dpbsud(0, 4, 6);
                _tile_dpbsud(1, 4, 7);
                _tile_dpbsud(2, 5, 6);
                _tile_dpbsud(3, 5, 7);
            }
            const std::int64_t og = g.og();
            store_amx_sums([](void* d, std::int64_t s) { _tile_stored(0, d, s); }, acc, og, width,
                           r0, p0);
            store_amx_sums([](void* d, std::int64_t s) { _tile_stored(1, d, s); }, acc, og, width,
                           r0, p0 + 16);
            store_amx_sums([](void* d, std::int64_t s) { _tile_stored(2, d, s); }, acc, og, width,
                           r0 + 16, p0);
            store_amx_sums([](void* d, std::int64_t s) { _tile_stored(3, d, s); }, acc, og, width,
                           r0 + 16, p0 + 16);
        }
    }
    _tile_release();
}

// CPUID leaf 7, EDX bits 24 and 25; then the permission, once.
bool amx_usable() {
    static const bool usable = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0 || (d & (3u << 24)) != (3u << 24)) {
            return false;
        }
        constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
        return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    }();
    return usable;
}

}  // namespace wtconv::cpu::int8
#endif
