// The CPU backend's wavelet transforms (cpu/wavelet_transform.h, cpu/haar_transform.h) on their
// own: analysis and synthesis with the same filters are adjoint (the DWT/IDWT-adjoint pairs the
// backward relies on), and synthesis(analysis(x)) = x for orthogonal and biorthogonal wavelets,
// everywhere for Haar and away from the zero-padded borders for the longer filters.
#include <array>
#include <cmath>

#include <gtest/gtest.h>

#include "cpu/wtconv2d_plane.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

// An h x w plane stored with a zero row and column after it (what the Haar path reads as its
// pad-to-even), four band planes, and the transforms' scratch.
struct Plane {
    int h, w, h2, w2;
    std::vector<double> src, out, tmp;
    std::vector<double> band[4];
    Plane(int height, int width, int pad)
        : h(height),
          w(width),
          h2((height + 1) / 2),
          w2((width + 1) / 2),
          src(static_cast<std::size_t>(height + 1) * (width + 1), 0.0),
          out(static_cast<std::size_t>(height) * 2 * w2, 0.0),
          tmp(cpu::transform_tmp_elems(height + 2, width + 2, pad)) {
        for (std::vector<double>& b : band) {
            b.assign(static_cast<std::size_t>(h2) * w2, 0.0);
        }
    }
    double& x(int r, int c) { return src[static_cast<std::size_t>(r) * (w + 1) + c]; }
    double y(int r, int c) const { return out[static_cast<std::size_t>(r) * 2 * w2 + c]; }
    cpu::Bands<double> bands() {
        return cpu::Bands<double>{{band[0].data(), band[1].data(), band[2].data(), band[3].data()},
                                  w2};
    }
    void analyze(const cpu::SeparableTaps<double>& taps) {
        const cpu::LevelTransform<double> t{taps, tmp.data()};
        t.analyze(src.data(), w + 1, h, w, bands());
    }
    void synthesize(const cpu::SeparableTaps<double>& taps) {
        const cpu::LevelTransform<double> t{taps, tmp.data()};
        t.synthesize(bands(), h2, w2, h, w, out.data(), 2 * w2);
    }
};

cpu::WaveletBanks<double> banks_of(const std::string& name) {
    const detail::WaveletTaps* w = detail::find_wavelet(name);
    EXPECT_NE(w, nullptr) << name;
    return cpu::make_banks<double>(*w);
}

const char* const kWavelets[] = {"db1",     "db2",     "sym3", "coif1",
                                 "bior2.2", "rbio1.3", "db4",  "dmey"};
const int kSizes[][2] = {{1, 1}, {2, 3}, {7, 5}, {16, 16}, {9, 12}, {1, 8}, {13, 1}};

// <A x, z> = <x, A* z> for random x and z, with A = analysis by a filter set, A* = synthesis by
// the same set; 1e-13 relative to |x||z| covers double rounding over at most 62^2 taps.
TEST(WaveletTransformAdjoint, AnalysisAndSynthesisWithTheSameFiltersAreAdjoint) {
    Rng rng(17);
    for (const char* name : kWavelets) {
        const cpu::WaveletBanks<double> b = banks_of(name);
        for (const cpu::SeparableTaps<double>* taps : {&b.analysis, &b.synthesis}) {
            for (const auto& size : kSizes) {
                Plane p(size[0], size[1], taps->pad);
                double xx = 0.0;
                for (int r = 0; r < p.h; ++r) {
                    for (int c = 0; c < p.w; ++c) {
                        p.x(r, c) = rng.normal();
                        xx += p.x(r, c) * p.x(r, c);
                    }
                }
                p.analyze(*taps);
                std::vector<double> ax[4];
                double lhs = 0.0;
                double zz = 0.0;
                for (int k = 0; k < 4; ++k) {
                    ax[k] = p.band[k];
                    for (double& z : p.band[k]) {
                        z = rng.normal();
                    }
                    for (std::size_t i = 0; i < ax[k].size(); ++i) {
                        lhs += ax[k][i] * p.band[k][i];
                        zz += p.band[k][i] * p.band[k][i];
                    }
                }
                p.synthesize(*taps);
                double rhs = 0.0;
                for (int r = 0; r < p.h; ++r) {
                    for (int c = 0; c < p.w; ++c) {
                        rhs += p.x(r, c) * p.y(r, c);
                    }
                }
                EXPECT_LT(std::abs(lhs - rhs), 1e-13 * std::sqrt(xx * zz))
                    << name << (taps == &b.analysis ? " analysis" : " synthesis") << " filters, "
                    << p.h << "x" << p.w;
            }
        }
    }
}

// IDWT(DWT(x)) = x. Haar (and rbio1.3, by accident of its filters) everywhere; the others
// within the interior, where the zero padding of the borders does not reach. 1e-10: pywt stores
// the symlets to about 12 digits, so sym3 reconstructs to ~2.5e-11, the others to ~1e-15.
TEST(WaveletTransformReconstruction, SynthesisUndoesAnalysis) {
    Rng rng(23);
    const char* const names[] = {"db1",   "haar", "db2",     "sym3",
                                 "coif1", "db4",  "bior2.2", "rbio1.3"};
    for (const char* name : names) {
        const cpu::WaveletBanks<double> b = banks_of(name);
        const int f = b.analysis.length;
        const bool everywhere = f == 2 || std::string(name) == "rbio1.3";
        for (const auto& size : {std::array<int, 2>{32, 32}, std::array<int, 2>{29, 35}}) {
            Plane p(size[0], size[1], b.analysis.pad);
            for (int r = 0; r < p.h; ++r) {
                for (int c = 0; c < p.w; ++c) {
                    p.x(r, c) = rng.normal();
                }
            }
            p.analyze(b.analysis);
            p.synthesize(b.synthesis);
            const int margin = everywhere ? 0 : f;
            double worst = 0.0;
            int checked = 0;
            for (int r = margin; r < p.h - margin; ++r) {
                for (int c = margin; c < p.w - margin; ++c) {
                    worst = std::max(worst, std::abs(p.y(r, c) - p.x(r, c)));
                    ++checked;
                }
            }
            EXPECT_GT(checked, 0);
            EXPECT_LT(worst, 1e-10) << name << " " << p.h << "x" << p.w << " margin " << margin;
        }
    }
}

}  // namespace
}  // namespace wtconv::test
