// The float32 polynomial wavelets of src/common/kan_wavelets.h (meyer_poly_f32, shannon_poly_f32:
// what float32 meyer and shannon run on the CUDA device) and their sine / cosine polynomials, run
// on the host against the double formulas of the same header (meyer<double>, shannon<double>, which
// call libm), on dense grids and at the special values. Prints the worst errors found.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "common/kan_wavelets.h"

namespace wtconv::detail {
namespace {

constexpr double kPi = 3.141592653589793238462643383279502884;
constexpr float kInf = std::numeric_limits<float>::infinity();

// The largest error seen, with where it was: err = |got - want| / max(|want|, floor).
struct Worst {
    double err = 0.0;
    double at = 0.0;
    double got = 0.0;
    double want = 0.0;

    void add(double g, double w, double floor, double u) {
        const double e = g == w ? 0.0 : std::fabs(g - w) / std::max(std::fabs(w), floor);
        if (!(e <= err)) {  // NaN counts as the worst
            err = std::isnan(e) ? std::numeric_limits<double>::infinity() : e;
            at = u, got = g, want = w;
        }
    }
    void print(const char* what) const {
        std::printf("  %-44s worst %.3g at u = %.9g (got %.9g, want %.9g)\n", what, err, at, got,
                    want);
    }
};

// n points spread evenly over [lo, hi], both ends included, rounded to float.
void add_uniform(std::vector<float>* us, double lo, double hi, int n) {
    for (int k = 0; k < n; ++k) {
        us->push_back(static_cast<float>(lo + (hi - lo) * k / (n - 1)));
    }
}

// x and its `count` float neighbours on each side.
void add_neighbours(std::vector<float>* us, float x, int count) {
    float up = x, down = x;
    us->push_back(x);
    for (int k = 0; k < count; ++k) {
        up = std::nextafter(up, kInf);
        down = std::nextafter(down, -kInf);
        us->push_back(up);
        us->push_back(down);
    }
}

// n points with |u| spread evenly in log between lo and hi, both signs.
void add_log(std::vector<float>* us, double lo, double hi, int n) {
    for (int k = 0; k < n; ++k) {
        const float u =
            static_cast<float>(lo * std::pow(hi / lo, static_cast<double>(k) / (n - 1)));
        us->push_back(u);
        us->push_back(-u);
    }
}

// ---- The polynomials: relative error against libm in double over their ranges -------------------

template <class F, class G>
double worst_relative(F poly, G exact, double lo, double hi, int n, const char* what) {
    Worst w;
    for (int k = 0; k < n; ++k) {
        const float x = static_cast<float>(lo + (hi - lo) * k / (n - 1));
        const double want = exact(static_cast<double>(x));
        if (want != 0.0) {
            w.add(poly(x), want, 0.0, x);
        }
    }
    w.print(what);
    return w.err;
}

// The approximation errors are 3e-8 to 6e-9 (kan_wavelets.h); float evaluation adds its roundings:
// 1.8e-7 (3 units of 2^-24) is the bound; the measured worst are 0.7e-7 to 1.5e-7.
constexpr double kPolyTol = 1.8e-7;

TEST(KanPolyF32, SineAndCosinePolynomialsWithinThreeUlp) {
    constexpr int n = 1000001;
    EXPECT_LE(worst_relative([](float r) { return sinpi_poly(r); },
                             [](double r) { return std::sin(kPi * r); }, -0.5, 0.5, n,
                             "sinpi_poly, |r| <= 1/2"),
              kPolyTol);
    EXPECT_LE(worst_relative([](float r) { return sinpi_quarter_poly(r); },
                             [](double r) { return std::sin(kPi * r); }, -0.25, 0.25, n,
                             "sinpi_quarter_poly, |r| <= 1/4"),
              kPolyTol);
    EXPECT_LE(worst_relative([](float r) { return cospi_quarter_poly(r); },
                             [](double r) { return std::cos(kPi * r); }, -0.25, 0.25, n,
                             "cospi_quarter_poly, |r| <= 1/4"),
              kPolyTol);
    // shannon's reduction overshoots pi/4 by at most 0.042 (kan_wavelets.h)
    EXPECT_LE(worst_relative([](float x) { return sin_quarter_poly(x); },
                             [](double x) { return std::sin(x); }, -kPi / 4 - 0.045,
                             kPi / 4 + 0.045, n, "sin_quarter_poly, |x| <= pi/4 + 0.045"),
              kPolyTol);
    EXPECT_LE(worst_relative([](float x) { return cos_quarter_poly(x); },
                             [](double x) { return std::cos(x); }, -kPi / 4 - 0.045,
                             kPi / 4 + 0.045, n, "cos_quarter_poly, |x| <= pi/4 + 0.045"),
              kPolyTol);
    // exact where the wavelets rely on it
    EXPECT_EQ(cospi_quarter_poly(0.0f), 1.0f);
    EXPECT_EQ(sinpi_poly(0.0f), 0.0f);
    EXPECT_EQ(sinpi_quarter_poly(0.0f), 0.0f);
    EXPECT_EQ(sin_quarter_poly(0.0f), 0.0f);
    EXPECT_EQ(cos_quarter_poly(0.0f), 1.0f);
}

TEST(KanPolyF32, ReciprocalIsCorrectlyRoundedOnTheHost) {
    EXPECT_EQ(rcp_f32(kInf), 0.0f);
    EXPECT_EQ(rcp_f32(4.0f), 0.25f);
    EXPECT_EQ(rcp_f32(3.0f), 1.0f / 3.0f);
}

// ---- meyer ------------------------------------------------------------------------------------

// The grid: 2 million points over [-1.5, 1.5], every float within 2000 of 0, +-1/4, +-1/2, +-3/4
// (where the angle's halves meet) and +-1, all floats of [1 - 2^-10, 1), a million points of the
// tail [0.9, 1), and tiny |u|.
std::vector<float> meyer_grid() {
    std::vector<float> us;
    add_uniform(&us, -1.5, 1.5, 2000001);
    for (const float x : {0.0f, 0.25f, 0.5f, 0.75f, 1.0f}) {
        add_neighbours(&us, x, 2000);
        add_neighbours(&us, -x, 2000);
    }
    for (float u = 1.0f - 0x1p-10f; u < 1.0f; u = std::nextafter(u, 2.0f)) {
        us.push_back(u);
        us.push_back(-u);
    }
    add_uniform(&us, 0.9, 1.0, 1000001);
    add_log(&us, 1e-38, 1e-3, 2000);
    return us;
}

// Errors relative to max(|value|, 1e-3 of the function's largest |value|: 1 for psi, 5.04 for
// dpsi): the tail of the bump keeps its relative digits, and near dpsi's zero at |u| = 1/2 the
// error is absolute. 1e-6 is the target; the measured worst is 3-4e-7 (a few roundings of
// half_nu's polynomial, the sines and the products; the sinpi/cospi path before: the same).
constexpr double kMeyerTol = 1e-6;

TEST(KanPolyF32, MeyerMatchesTheDoubleFormula) {
    const std::vector<float> us = meyer_grid();
    double dpsi_scale = 0.0;
    for (const float u : us) {
        dpsi_scale = std::max(dpsi_scale, std::fabs(meyer<double, true>(u).dpsi));
    }
    ASSERT_GT(dpsi_scale, 5.0);  // where the bump falls (pi at u = 0)
    Worst psi, dpsi, tail_psi, tail_dpsi;
    int mismatched = 0;
    for (const float u : us) {
        const PsiPair<double> want = meyer<double, true>(u);
        const PsiPair<float> got = meyer_poly_f32<true>(u);
        const PsiPair<float> got_psi = meyer_poly_f32<false>(u);
        psi.add(got.psi, want.psi, 1e-3, u);
        dpsi.add(got.dpsi, want.dpsi, 1e-3 * dpsi_scale, u);
        if (std::fabs(u) >= 0.9f) {  // relative alone, however small the value
            tail_psi.add(got.psi, want.psi, 0.0, u);
            tail_dpsi.add(got.dpsi, want.dpsi, 0.0, u);
        }
        // psi alone is the same arithmetic; psi even and dpsi odd to the bit (they work on |u|)
        const PsiPair<float> mirror = meyer_poly_f32<true>(-u);
        if (got_psi.psi != got.psi || got_psi.dpsi != 0.0f || mirror.psi != got.psi ||
            mirror.dpsi != -got.dpsi) {
            ++mismatched;
        }
    }
    std::printf("meyer_poly_f32 against meyer<double>, %zu points of [-1.5, 1.5]:\n", us.size());
    psi.print("psi, relative to max(|psi|, 1e-3)");
    std::printf("  (dpsi's largest |value| %.4f)\n", dpsi_scale);
    dpsi.print("dpsi, relative to max(|dpsi|, 1e-3 largest)");
    tail_psi.print("psi, 0.9 <= |u| < 1, relative");
    tail_dpsi.print("dpsi, 0.9 <= |u| < 1, relative");
    EXPECT_LE(psi.err, kMeyerTol);
    EXPECT_LE(dpsi.err, kMeyerTol);
    // In the tail, below 1e-3 of the peak too: the far trick keeps every value's own digits.
    EXPECT_LE(tail_psi.err, kMeyerTol);
    EXPECT_LE(tail_dpsi.err, kMeyerTol);
    EXPECT_EQ(mismatched, 0) << "psi-only, evenness or oddness differs";
}

TEST(KanPolyF32, MeyerSpecialValues) {
    // sgn(0) = 0: psi and dpsi are 0 at u = +-0 (the one-sided slopes are +-pi)
    for (const float u : {0.0f, -0.0f}) {
        EXPECT_EQ(meyer_poly_f32<true>(u).psi, 0.0f);
        EXPECT_EQ(meyer_poly_f32<true>(u).dpsi, 0.0f);
    }
    // v >= 1 (u = +-inf too): exactly 0, with or without the gradient
    const float max = std::numeric_limits<float>::max();
    for (const float v : {1.0f, std::nextafter(1.0f, 2.0f), 1.5f, 2.0f, 1e30f, max, kInf}) {
        for (const float u : {v, -v}) {
            EXPECT_EQ(meyer_poly_f32<true>(u).psi, 0.0f) << u;
            EXPECT_EQ(meyer_poly_f32<true>(u).dpsi, 0.0f) << u;
            EXPECT_EQ(meyer_poly_f32<false>(u).psi, 0.0f) << u;
        }
    }
    // the flat part's top: sin(pi / 2) m(1/2) = 1 and the slope 0
    EXPECT_NEAR(meyer_poly_f32<true>(0.5f).psi, 1.0, 1e-7);
    EXPECT_NEAR(meyer_poly_f32<true>(0.5f).dpsi, 0.0, 1e-6);
}

// ---- shannon ----------------------------------------------------------------------------------

// The grid: 2 million points over [-1000, 1000], |u| from 1e-30 to 10 in log, every float within
// 2000 of the series' switch (0.5) and psi's (2^-12), float(k pi) for k = 1 .. 318 with 64 float
// neighbours and offsets 1e-7 .. 0.1 either side (sin's zeros), denormals.
std::vector<float> shannon_grid() {
    std::vector<float> us;
    add_uniform(&us, -1000.0, 1000.0, 2000001);
    add_log(&us, 1e-30, 10.0, 100000);
    for (const float x : {0.5f, 0x1p-12f}) {
        add_neighbours(&us, x, 2000);
        add_neighbours(&us, -x, 2000);
    }
    for (int k = 1; k <= 318; ++k) {
        const double zero = k * kPi;
        add_neighbours(&us, static_cast<float>(zero), 64);
        add_neighbours(&us, static_cast<float>(-zero), 64);
        for (double off = 1e-7; off < 0.2; off *= 1.5) {
            for (const double u : {zero + off, zero - off, -zero + off, -zero - off}) {
                us.push_back(static_cast<float>(u));
            }
        }
    }
    for (const float u : {0x1p-149f, 1e-40f, std::numeric_limits<float>::min()}) {
        us.push_back(u);
        us.push_back(-u);
    }
    return us;
}

// The envelope of sinc and of its derivative: window min(1, 1 / |u|) (|dpsi| <= 0.44 window, and
// below window (1 + 1 / |u|) / |u|). Three bounds:
// - against max(|value|, envelope), i.e. absolute against the envelope: 1e-6 for both (a few ulp
//   of the terms; the measured worst is about 3e-7);
// - psi against max(|psi|, 1e-3 envelope): 1e-6, relative digits down to 1e-3 of the envelope,
//   near sin's zeros too (r = a - n pi/2 keeps them; measured about 2.3e-7);
// - dpsi against max(|dpsi|, 1e-3 envelope): 1.5e-5. Where dpsi crosses 0 at moderate |u| (tan u
//   = u: 4.49, 7.73, ...) u cos u - sin u cancels from terms near 1, whose own half-ulp roundings
//   (3e-8) are 3e-8 / u^2 of it, 7e-6 of the 1e-3 floor at u = 4.49: any float evaluation of the
//   closed form does no better (measured 8.5e-6 there). Just above the series' switch (0.5) the
//   cancellation costs about 1.5e-6 of the value.
constexpr double kShannonEnvelopeTol = 1e-6;
constexpr double kShannonPsiTol = 1e-6;
constexpr double kShannonDpsiTol = 1.5e-5;

struct ShannonWorst {
    Worst psi_env, dpsi_env, psi, dpsi;

    void add(float u, float window) {
        const PsiPair<double> want = shannon<double, true>(u, window);
        const PsiPair<float> got = shannon_poly_f32<true>(u, window);
        const double envelope = window * std::min(1.0, 1.0 / std::fabs(static_cast<double>(u)));
        psi_env.add(got.psi, want.psi, envelope, u);
        dpsi_env.add(got.dpsi, want.dpsi, envelope, u);
        psi.add(got.psi, want.psi, 1e-3 * envelope, u);
        dpsi.add(got.dpsi, want.dpsi, 1e-3 * envelope, u);
    }
    void print() const {
        psi_env.print("psi, rel. to max(|psi|, envelope)");
        dpsi_env.print("dpsi, rel. to max(|dpsi|, envelope)");
        psi.print("psi, rel. to max(|psi|, 1e-3 envelope)");
        dpsi.print("dpsi, rel. to max(|dpsi|, 1e-3 envelope)");
    }
};

TEST(KanPolyF32, ShannonMatchesTheDoubleFormula) {
    const std::vector<float> us = shannon_grid();
    for (const float window : {1.0f, 0.08f}) {  // the middle and the ends of the Hamming window
        ShannonWorst worst;
        int mismatched = 0;
        for (const float u : us) {
            worst.add(u, window);
            // psi alone is the same arithmetic; psi even and dpsi odd to the bit (they work on |u|)
            const PsiPair<float> got = shannon_poly_f32<true>(u, window);
            const PsiPair<float> got_psi = shannon_poly_f32<false>(u, window);
            const PsiPair<float> mirror = shannon_poly_f32<true>(-u, window);
            if (got_psi.psi != got.psi || got_psi.dpsi != 0.0f || mirror.psi != got.psi ||
                mirror.dpsi != -got.dpsi) {
                ++mismatched;
            }
        }
        std::printf("shannon_poly_f32 against shannon<double>, window %.2f, %zu points:\n", window,
                    us.size());
        worst.print();
        EXPECT_LE(worst.psi_env.err, kShannonEnvelopeTol) << "window " << window;
        EXPECT_LE(worst.dpsi_env.err, kShannonEnvelopeTol) << "window " << window;
        EXPECT_LE(worst.psi.err, kShannonPsiTol) << "window " << window;
        EXPECT_LE(worst.dpsi.err, kShannonDpsiTol) << "window " << window;
        EXPECT_EQ(mismatched, 0) << "psi-only, evenness or oddness differs";
    }
}

// Past |u| = 1000 up to the reduction's end 2^20 the phase stays within n 1.8e-15 <= 1.2e-9
// (kan_wavelets.h), which is up to 1.2e-6 of the 1e-3 floor near sin's zeros at 2^20: psi's
// relative bound is 1.5e-6 here, the others as above; 400 000 points spread in log.
TEST(KanPolyF32, ShannonStaysAccurateUpToTheReductionLimit) {
    std::vector<float> us;
    add_log(&us, 1e3, kShannonReduceMax, 200000);
    ShannonWorst worst;
    for (const float u : us) {
        worst.add(u, 1.0f);
    }
    std::printf("shannon_poly_f32, 1e3 <= |u| <= 2^20, %zu points:\n", us.size());
    worst.print();
    EXPECT_LE(worst.psi_env.err, kShannonEnvelopeTol);
    EXPECT_LE(worst.dpsi_env.err, kShannonEnvelopeTol);
    EXPECT_LE(worst.psi.err, 1.5e-6);
    EXPECT_LE(worst.dpsi.err, kShannonDpsiTol);
}

TEST(KanPolyF32, ShannonSpecialValues) {
    constexpr float window = 0.54f;
    // (window, 0) at u = +-0
    for (const float u : {0.0f, -0.0f}) {
        EXPECT_EQ(shannon_poly_f32<true>(u, window).psi, window);
        EXPECT_EQ(shannon_poly_f32<true>(u, window).dpsi, 0.0f);
        EXPECT_EQ(shannon_poly_f32<false>(u, window).psi, window);
    }
    // 0 at u = +-inf (x - t over a tiny scale), not inf * 0
    for (const float u : {kInf, -kInf}) {
        EXPECT_EQ(shannon_poly_f32<true>(u, window).psi, 0.0f);
        EXPECT_EQ(shannon_poly_f32<true>(u, window).dpsi, 0.0f);
        EXPECT_EQ(shannon_poly_f32<false>(u, window).psi, 0.0f);
    }
    // denormal u: sinc rounds to 1 (no 1 / u overflow), the derivative -u / 3 from the series
    for (const float u : {0x1p-149f, -1e-40f}) {
        EXPECT_EQ(shannon_poly_f32<true>(u, window).psi, window);
        EXPECT_FLOAT_EQ(shannon_poly_f32<true>(u, window).dpsi, window * (-u / 3.0f));
    }
    // Past the reduction (2^20) to float's largest: finite, within the envelope window / |u|
    // (psi) and window (|u| + 1) / u^2 (dpsi), shrinking to 0.
    for (double u = 0x1p20; u < 3.4e38; u *= 1.37) {
        for (const float x : {static_cast<float>(u), -static_cast<float>(u)}) {
            const PsiPair<float> got = shannon_poly_f32<true>(x, window);
            const double a = std::fabs(static_cast<double>(x));
            ASSERT_TRUE(std::isfinite(got.psi) && std::isfinite(got.dpsi)) << x;
            EXPECT_LE(std::fabs(got.psi), window / a * (1 + 1e-6)) << x;
            EXPECT_LE(std::fabs(got.dpsi), window * (a + 1.0) / (a * a) * (1 + 1e-6)) << x;
        }
    }
    const float max = std::numeric_limits<float>::max();
    EXPECT_TRUE(std::isfinite(shannon_poly_f32<true>(max, window).dpsi));
    // NaN stays NaN
    const float nan = std::numeric_limits<float>::quiet_NaN();
    EXPECT_TRUE(std::isnan(shannon_poly_f32<true>(nan, window).psi));
    EXPECT_TRUE(std::isnan(shannon_poly_f32<true>(nan, window).dpsi));
}

}  // namespace
}  // namespace wtconv::detail
