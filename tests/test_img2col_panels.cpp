// test_img2col_panels: the float32 GEMM's img2col packer (cpu/img2col_panels.h) against the column
// matrix written from its definition (COMPRESSION.md 1.3), entry by entry and bitwise (it only
// copies): every chunk of columns (within an image, across images, the last one short of a whole
// panel), every block of taps (k0 > 0, short blocks), strides 1-3, dilation, padding wider than
// the kernel's reach (taps whose whole row is padding), groups, 1-pixel images. The panel buffer
// starts as NaN, so an entry the packer leaves unwritten shows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/conv2d_geometry.h"
#include "cpu/img2col_panels.h"
#include "cpu/sgemm.h"

namespace wtconv::test {
namespace {

using Geometry = ::wtconv::detail::Conv2dGeometry;
constexpr std::int64_t kCols = cpu::SgemmShape::kCols;
constexpr std::int64_t kDepth = cpu::SgemmShape::kDepth;

Geometry geometry(std::int64_t n,
                  std::int64_t c,
                  std::int64_t h,
                  std::int64_t w,
                  int kh,
                  int kw,
                  int stride,
                  int pad,
                  int dilation,
                  int groups) {
    Geometry g{};
    g.n = n;
    g.c = c;
    g.h = h;
    g.w = w;
    g.o = groups;
    g.kh = kh;
    g.kw = kw;
    g.sh = stride;
    g.sw = stride;
    g.ph = pad;
    g.pw = pad;
    g.dh = dilation;
    g.dw = dilation;
    g.groups = groups;
    g.ho = ::wtconv::detail::conv_output_size(h, kh, stride, pad, dilation);
    g.wo = ::wtconv::detail::conv_output_size(w, kw, stride, pad, dilation);
    return g;
}

std::string describe(const Geometry& g) {
    std::ostringstream out;
    out << "x(" << g.n << ", " << g.c << ", " << g.h << ", " << g.w << ") kernel " << g.kh << "x"
        << g.kw << " stride " << g.sh << " pad " << g.ph << " dilation " << g.dh << " groups "
        << g.groups << " -> " << g.ho << "x" << g.wo;
    return out.str();
}

// Entry (tap, column) of group gi's column matrix over the batch: x at the tap's input pixel of
// the column's output pixel, zero on the padding.
float column_entry(const Geometry& g,
                   const std::vector<float>& x,
                   std::int64_t gi,
                   std::int64_t tap,
                   std::int64_t column) {
    const std::int64_t c = tap / (g.kh * g.kw);
    const std::int64_t i = tap / g.kw % g.kh;
    const std::int64_t j = tap % g.kw;
    const std::int64_t n = column / g.p();
    const std::int64_t oh = column % g.p() / g.wo;
    const std::int64_t ow = column % g.wo;
    const std::int64_t ih = oh * g.sh - g.ph + i * g.dh;
    const std::int64_t iw = ow * g.sw - g.pw + j * g.dw;
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
        return 0.0f;
    }
    return x[static_cast<std::size_t>(((n * g.c + gi * g.cg() + c) * g.h + ih) * g.w + iw)];
}

// Packs every chunk width of the batch's columns and every tap block; returns the mismatches.
int check_geometry(const Geometry& g, std::int64_t chunk, std::int64_t depth, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 2.0f);  // no zeros by accident: rarely 0
    std::vector<float> x(static_cast<std::size_t>(g.n * g.c * g.h * g.w));
    for (float& v : x) {
        v = dist(rng);
    }
    int mismatches = 0;
    const std::int64_t columns = g.n * g.p();
    for (std::int64_t gi = 0; gi < g.groups; ++gi) {
        for (std::int64_t c0 = 0; c0 < columns; c0 += chunk) {
            const std::int64_t c1 = std::min(columns, c0 + chunk);
            const std::int64_t padded = (c1 - c0 + kCols - 1) / kCols * kCols;
            const cpu::Img2colPanels packer(g, x.data(), gi, c0, c1);
            for (std::int64_t k0 = 0; k0 < g.k(); k0 += depth) {
                const std::int64_t kc = std::min(depth, g.k() - k0);
                std::vector<float> panels(static_cast<std::size_t>(kc * padded),
                                          std::numeric_limits<float>::quiet_NaN());
                packer.pack(k0, kc, panels.data());
                for (std::int64_t col = 0; col < padded; ++col) {
                    for (std::int64_t k = 0; k < kc; ++k) {
                        const float got = panels[static_cast<std::size_t>(col / kCols * kCols * kc +
                                                                          k * kCols + col % kCols)];
                        const float want =
                            col < c1 - c0 ? column_entry(g, x, gi, k0 + k, c0 + col) : 0.0f;
                        if (!(got == want) && mismatches++ < 5) {
                            ADD_FAILURE() << "group " << gi << " columns [" << c0 << ", " << c1
                                          << ") tap " << k0 + k << " column " << col << ": got "
                                          << got << ", want " << want;
                        }
                    }
                }
            }
        }
    }
    return mismatches;
}

struct PanelCase {
    std::string name;
    Geometry g;
    std::int64_t chunk;  // columns a packer covers
    std::int64_t depth;  // taps a block
};

std::vector<PanelCase> cases() {
    std::vector<PanelCase> out = {
        // ResNet-18's stem and downsampling shapes, scaled down; chunks across image edges.
        {"stem_7x7_s2", geometry(2, 3, 30, 29, 7, 7, 2, 3, 1, 1), 100, kDepth},
        {"pointwise_s2", geometry(3, 8, 14, 14, 1, 1, 2, 0, 1, 1), 45, kDepth},
        {"3x4_s1_rows_past_panels", geometry(2, 4, 9, 40, 3, 4, 1, 1, 1, 1), 77, 13},
        {"dilated_groups", geometry(2, 6, 11, 12, 3, 3, 1, 2, 2, 3), 33, 7},
        {"stride3_wide_pad", geometry(1, 2, 8, 8, 3, 3, 3, 4, 1, 1), 31, kDepth},
        {"one_pixel", geometry(5, 3, 1, 1, 1, 1, 1, 0, 1, 1), 3, 2},
        {"one_pixel_padded", geometry(4, 2, 1, 1, 3, 3, 1, 1, 1, 2), 5, 4},
        {"padding_only_rows_s2", geometry(2, 1, 2, 3, 3, 3, 2, 3, 1, 1), 7, 5},
        {"short_chunk", geometry(2, 2, 5, 7, 3, 4, 2, 1, 1, 1), 1, 1},
        {"deep_taps", geometry(1, 40, 6, 6, 3, 3, 1, 1, 1, 1), 64, kDepth},  // 360 taps, 2 blocks
    };
    std::mt19937_64 rng(7);
    while (out.size() < 60) {
        const auto pick = [&](int lo, int hi) {
            return std::uniform_int_distribution<int>(lo, hi)(rng);
        };
        const int groups = pick(1, 3);
        const Geometry g =
            geometry(pick(1, 3), groups * pick(1, 4), pick(1, 20), pick(1, 70), pick(1, 5),
                     pick(1, 5), pick(1, 3), pick(0, 3), pick(1, 2), groups);
        if (g.ho < 1 || g.wo < 1) {
            continue;  // the shape a conv2d call rejects
        }
        out.push_back({"random_" + std::to_string(out.size()), g, pick(1, 200), pick(1, kDepth)});
    }
    return out;
}

TEST(Img2colPanels, MatchesTheColumnMatrixEntryByEntry) {
    std::uint64_t seed = 1;
    for (const PanelCase& tc : cases()) {
        SCOPED_TRACE(tc.name + ": " + describe(tc.g));
        ASSERT_GT(tc.g.ho * tc.g.wo, 0);  // a case without columns would check nothing
        EXPECT_EQ(check_geometry(tc.g, tc.chunk, tc.depth, seed++), 0);
    }
}

}  // namespace
}  // namespace wtconv::test
