// test_dwt: wavedec2 / waverec2 against the double reference (every wavelet in every mode, sizes
// 1..20, levels 0..max + 2, batched, 1-3 threads), perfect reconstruction, orthogonality of the
// periodized orthogonal transforms, helper functions, and bad input with its message.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include <wtconv/io/safetensors.h>
#include <wtconv/ops/dwt.h>
#include <wtconv/wavelets.h>

#include "reference/dwt_ref.h"
#include "support/test_support.h"
#include "support/wtconv_cases.h"

namespace wtconv::test {
namespace {

constexpr DwtMode kModes[] = {DwtMode::kZero,        DwtMode::kConstant, DwtMode::kSymmetric,
                              DwtMode::kReflect,     DwtMode::kPeriodic, DwtMode::kAntisymmetric,
                              DwtMode::kAntireflect, DwtMode::kSmooth,   DwtMode::kPeriodization};

struct DwtCase {
    std::string wavelet = "db1";
    DwtMode mode = DwtMode::kSymmetric;
    std::vector<std::int64_t> lead;  // batch dims before (H, W)
    std::int64_t h = 1, w = 1;
    int level = 1;
    DType dtype = DType::kFloat64;
    int threads = 1;
    std::uint64_t seed = 1;

    Shape shape() const {
        std::vector<std::int64_t> s = lead;
        s.push_back(h);
        s.push_back(w);
        return Shape(s);
    }
};

std::string describe(const DwtCase& tc) {
    std::ostringstream out;
    out << "WTCONV_TEST_SEED=" << test_seed() << " dwt " << tc.wavelet << " "
        << dwt_mode_name(tc.mode) << " x" << tc.shape() << " L" << tc.level << " "
        << dtype_name(tc.dtype) << " threads " << tc.threads << " seed " << tc.seed;
    return out.str();
}
int filter_len(const std::string& wavelet) {
    return static_cast<int>(wavelet_filter_bank(wavelet).dec_lo.size());
}

// True when every level keeps both axes >= 2, which reflect and antireflect need.
bool mirrors_fit(const DwtCase& tc) {
    if (tc.mode != DwtMode::kReflect && tc.mode != DwtMode::kAntireflect) {
        return true;
    }
    std::int64_t h = tc.h, w = tc.w;
    for (int j = 0; j < tc.level; ++j) {
        if (h < 2 || w < 2) {
            return false;
        }
        h = dwt_coeff_len(h, filter_len(tc.wavelet), tc.mode);
        w = dwt_coeff_len(w, filter_len(tc.wavelet), tc.mode);
    }
    return true;
}

// Every wavelet in every mode once, with a seeded random shape, level 0..max + 2, batch dims and
// thread count; then edge shapes (1x1, 1xW, Hx1, 2x2) for a few wavelets.
std::vector<DwtCase> all_cases() {
    Rng rng(test_seed() ^ 0xd3a7u);
    std::vector<DwtCase> cases;
    int k = 0;
    for (const std::string& wavelet : wavelet_names()) {
        for (const DwtMode mode : kModes) {
            DwtCase tc;
            tc.wavelet = wavelet;
            tc.mode = mode;
            tc.dtype = (k % 3 == 2) ? DType::kFloat32 : DType::kFloat64;
            tc.threads = 1 + k % 3;
            tc.seed = rng.next();
            const int batch = rng.uniform_int(0, 2);
            for (int b = 0; b < batch; ++b) {
                tc.lead.push_back(rng.uniform_int(1, 3));
            }
            do {
                tc.h = rng.uniform_int(1, 20);
                tc.w = rng.uniform_int(1, 20);
                const int max = dwt_max_level(std::min(tc.h, tc.w), filter_len(wavelet));
                tc.level = rng.uniform_int(0, max + 2);
            } while (!mirrors_fit(tc));
            cases.push_back(tc);
            ++k;
        }
    }
    for (const char* wavelet : {"haar", "db2", "sym5", "coif2", "bior3.5", "rbio6.8", "dmey"}) {
        for (const DwtMode mode : kModes) {
            for (const auto& [h, w] : {std::pair{1, 1}, {1, 7}, {6, 1}, {2, 2}, {3, 2}}) {
                DwtCase tc;
                tc.wavelet = wavelet;
                tc.mode = mode;
                tc.h = h;
                tc.w = w;
                tc.level = 3;
                tc.seed = rng.next();
                if (mirrors_fit(tc)) {
                    cases.push_back(tc);
                }
            }
        }
    }
    return cases;
}

// One gtest entry per wavelet, every mode and shape inside: ctest launches a process per entry,
// and ~110 per suite keep the suite quick on two cores where ~1200 would not.
struct WaveletCases {
    std::string wavelet;
    std::vector<DwtCase> cases;
};
void PrintTo(const WaveletCases& wc, std::ostream* os) {
    *os << wc.wavelet << " (" << wc.cases.size() << " cases)";
}
std::string wavelet_name(const testing::TestParamInfo<WaveletCases>& info) {
    std::string name = info.param.wavelet;
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
}
// Perfect reconstruction holds to the accuracy of the tabulated filters (5.5: ~3e-12 for bior4.4,
// long db/sym/coif filters similar). reconstructing leaves dmey out: its filters are an FIR
// approximation of Meyer's wavelet that does not reconstruct (errors of 1e-3..0.3 on short
// signals, pywt alike); DwtForward still checks it against the reference.
std::vector<WaveletCases> by_wavelet(bool reconstructing) {
    std::vector<WaveletCases> out;
    for (const DwtCase& tc : all_cases()) {
        if (reconstructing && tc.wavelet == "dmey") {
            continue;
        }
        const auto it = std::find_if(
            out.begin(), out.end(), [&](const WaveletCases& w) { return w.wavelet == tc.wavelet; });
        if (it == out.end()) {
            out.push_back(WaveletCases{tc.wavelet, {tc}});
        } else {
            it->cases.push_back(tc);
        }
    }
    return out;
}

// Plane p of the last two dims of a host tensor as a 2-D reference array.
ref::Array plane(const Tensor& t, std::int64_t p) {
    const std::int64_t h = t.size(-2), w = t.size(-1);
    const std::vector<double> v = t.to_vector();
    ref::Array a({h, w});
    std::copy(v.begin() + p * h * w, v.begin() + (p + 1) * h * w, a.data.begin());
    return a;
}

// ||got - want|| <= tol * ||want|| + floor * scale. tol: float64 sums in another order (a few
// ulps); float32 rounds each level's output once, ~6e-8 relative. floor: subbands that are zero up
// to rounding (details along a length-1 axis) and coefficients grown by antireflect/smooth
// extrapolation carry rounding of the largest array (scale), not of their own size.
void expect_close(const ref::Array& got,
                  const ref::Array& want,
                  DType dtype,
                  double scale,
                  const std::string& what) {
    ASSERT_EQ(got.shape, want.shape) << what;
    double diff = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < want.data.size(); ++i) {
        diff += (got.data[i] - want.data[i]) * (got.data[i] - want.data[i]);
        norm += want.data[i] * want.data[i];
    }
    const bool f32 = dtype == DType::kFloat32;
    const double bound = (f32 ? 1e-5 : 1e-12) * std::sqrt(norm) + (f32 ? 1e-6 : 1e-14) * scale;
    EXPECT_LE(std::sqrt(diff), bound) << what;
}

double norm(const ref::Array& a) {
    double s = 0.0;
    for (const double v : a.data) {
        s += v * v;
    }
    return std::sqrt(s);
}

void check_against_reference(const DwtCase& tc) {
    Rng rng(tc.seed);
    const Tensor x = random_normal(rng, tc.shape(), tc.dtype);
    Context ctx(Device::cpu(), ContextOptions{tc.threads, /*poison_outputs=*/true, nullptr});
    const Dwt2Coeffs c = wavedec2(ctx, x, tc.wavelet, tc.mode, tc.level);
    const Tensor rec = waverec2(ctx, c, tc.wavelet, tc.mode);
    ASSERT_EQ(c.details.size(), static_cast<std::size_t>(tc.level)) << describe(tc);
    EXPECT_EQ(c.approx.dtype(), tc.dtype);
    EXPECT_EQ(rec.dtype(), tc.dtype);

    const ref::FilterBank fb = reference_filter_bank(tc.wavelet);
    const std::string mode = dwt_mode_name(tc.mode);
    const std::int64_t planes = x.numel() / (tc.h * tc.w);
    for (std::int64_t p = 0; p < planes; ++p) {
        const ref::Dwt2 want = ref::wavedec2(plane(x, p), fb, mode, tc.level);
        const ref::Array want_rec = ref::waverec2(want, fb, mode);
        double scale = std::max(norm(plane(x, p)), norm(want.approx));
        for (const ref::DwtLevel& d : want.details) {
            for (const ref::Array& b : d.bands) {
                scale = std::max(scale, norm(b));
            }
        }
        const std::string where = describe(tc) + " plane " + std::to_string(p);
        expect_close(plane(c.approx, p), want.approx, tc.dtype, scale, "cA " + where);
        for (int j = 0; j < tc.level; ++j) {
            const auto& got = c.details[static_cast<std::size_t>(j)];
            const auto& ref_d = want.details[static_cast<std::size_t>(j)];
            const std::string lj = " level j=" + std::to_string(j + 1) + " ";
            expect_close(plane(got.h, p), ref_d.bands[0], tc.dtype, scale, "cH" + lj + where);
            expect_close(plane(got.v, p), ref_d.bands[1], tc.dtype, scale, "cV" + lj + where);
            expect_close(plane(got.d, p), ref_d.bands[2], tc.dtype, scale, "cD" + lj + where);
        }
        expect_close(plane(rec, p), want_rec, tc.dtype, scale, "x_rec " + where);
    }
}

void check_thread_count(const DwtCase& tc) {
    Rng rng(tc.seed);
    const Tensor x = random_normal(rng, tc.shape(), tc.dtype);
    Context one(Device::cpu(), ContextOptions{1, false, nullptr});
    Context three(Device::cpu(), ContextOptions{3, false, nullptr});
    const Dwt2Coeffs a = wavedec2(one, x, tc.wavelet, tc.mode, tc.level);
    const Dwt2Coeffs b = wavedec2(three, x, tc.wavelet, tc.mode, tc.level);
    EXPECT_EQ(host_bytes(a.approx), host_bytes(b.approx)) << describe(tc);
    EXPECT_EQ(host_bytes(waverec2(one, a, tc.wavelet, tc.mode)),
              host_bytes(waverec2(three, b, tc.wavelet, tc.mode)))
        << describe(tc);
}

class DwtForward : public testing::TestWithParam<WaveletCases> {};

TEST_P(DwtForward, Wavedec2AndWaverec2MatchReferenceInEveryMode) {
    for (const DwtCase& tc : GetParam().cases) {
        SCOPED_TRACE(describe(tc));
        check_against_reference(tc);
    }
}

TEST_P(DwtForward, ThreadCountDoesNotChangeBits) {
    for (const DwtCase& tc : GetParam().cases) {
        SCOPED_TRACE(describe(tc));
        check_thread_count(tc);
    }
}

INSTANTIATE_TEST_SUITE_P(EveryWavelet,
                         DwtForward,
                         testing::ValuesIn(by_wavelet(false)),
                         wavelet_name);

void check_reconstruction(DwtCase tc) {
    tc.dtype = DType::kFloat64;
    Rng rng(tc.seed);
    const Tensor x = random_normal(rng, tc.shape(), tc.dtype);
    const Tensor rec = waverec2(wavedec2(x, tc.wavelet, tc.mode, tc.level), tc.wavelet, tc.mode);
    const std::int64_t rh = rec.size(-2), rw = rec.size(-1);
    if (tc.level > 0) {  // uncropped: odd axes come back one longer (5.6)
        EXPECT_EQ(rh, tc.h + tc.h % 2) << describe(tc);
        EXPECT_EQ(rw, tc.w + tc.w % 2) << describe(tc);
    }
    const std::vector<double> xv = x.to_vector();
    const std::vector<double> rv = rec.to_vector();
    std::vector<double> cropped;
    for (std::int64_t p = 0; p < x.numel() / (tc.h * tc.w); ++p) {
        for (std::int64_t r = 0; r < tc.h; ++r) {
            for (std::int64_t c = 0; c < tc.w; ++c) {
                cropped.push_back(rv[static_cast<std::size_t>((p * rh + r) * rw + c)]);
            }
        }
    }
    EXPECT_LT(rel_l2_error(cropped, xv), 1e-10) << describe(tc);
}

class DwtReconstruction : public testing::TestWithParam<WaveletCases> {};

TEST_P(DwtReconstruction, Waverec2OfWavedec2CroppedIsXInEveryMode) {
    for (const DwtCase& tc : GetParam().cases) {
        SCOPED_TRACE(describe(tc));
        check_reconstruction(tc);
    }
}

INSTANTIATE_TEST_SUITE_P(EveryWavelet,
                         DwtReconstruction,
                         testing::ValuesIn(by_wavelet(true)),
                         wavelet_name);

// Periodization with an orthogonal wavelet on sizes that halve evenly at every level: the
// analysis is an orthogonal matrix, so it keeps norms (Parseval) and waverec2 is its transpose:
// <wavedec2(x), c> = <x, waverec2(c)> for any coefficients c.
TEST(DwtReconstruction, PeriodizedOrthogonalAnalysisIsOrthogonal) {
    Rng rng(test_seed() ^ 0x0a7u);
    for (const char* wavelet : {"haar", "db2", "db5", "sym4", "sym8", "coif1", "coif3", "db10"}) {
        for (int level = 0; level <= 3; ++level) {
            const std::int64_t h = (std::int64_t{1} << level) * rng.uniform_int(1, 4);
            const std::int64_t w = (std::int64_t{1} << level) * rng.uniform_int(1, 4);
            const Tensor x = random_normal(rng, Shape{2, h, w}, DType::kFloat64);
            const Dwt2Coeffs cx = wavedec2(x, wavelet, DwtMode::kPeriodization, level);
            Dwt2Coeffs c;  // random coefficients of the same shapes
            c.approx = random_normal(rng, cx.approx.shape(), DType::kFloat64);
            double norm_c = 0.0, dot_c = 0.0;
            const auto add = [&](const Tensor& got, const Tensor& other) {
                const std::vector<double> a = got.to_vector(), b = other.to_vector();
                for (std::size_t i = 0; i < a.size(); ++i) {
                    norm_c += a[i] * a[i];
                    dot_c += a[i] * b[i];
                }
            };
            add(cx.approx, c.approx);
            for (const DwtDetails& d : cx.details) {
                c.details.push_back(DwtDetails{random_normal(rng, d.h.shape(), DType::kFloat64),
                                               random_normal(rng, d.v.shape(), DType::kFloat64),
                                               random_normal(rng, d.d.shape(), DType::kFloat64)});
                add(d.h, c.details.back().h);
                add(d.v, c.details.back().v);
                add(d.d, c.details.back().d);
            }
            const std::vector<double> xv = x.to_vector();
            const std::vector<double> yv =
                waverec2(c, wavelet, DwtMode::kPeriodization).to_vector();
            double norm_x = 0.0, dot_x = 0.0;
            for (std::size_t i = 0; i < xv.size(); ++i) {
                norm_x += xv[i] * xv[i];
                dot_x += xv[i] * yv[i];
            }
            const std::string where = std::string(wavelet) + " L" + std::to_string(level) + " " +
                                      std::to_string(h) + "x" + std::to_string(w);
            // Orthonormality of the tabulated filters holds to ~1e-12.
            EXPECT_NEAR(norm_c, norm_x, 1e-10 * norm_x) << "Parseval " << where;
            EXPECT_NEAR(dot_c, dot_x, 1e-10 * std::sqrt(norm_x * norm_c)) << "adjoint " << where;
        }
    }
}

// waverec2 alone against the reference on random (not pywt-made) coefficients, approximations one
// longer than the details included (the row/column waverec2 drops).
TEST(DwtReconstruction, Waverec2OfRandomCoefficientsMatchesReference) {
    Rng rng(test_seed() ^ 0x7ecu);
    for (const char* wavelet : {"haar", "db3", "sym2", "coif1", "bior2.4", "rbio3.1"}) {
        for (const DwtMode mode : kModes) {
            const int half = filter_len(wavelet) / 2;
            const std::int64_t h = half + rng.uniform_int(0, 5), w = half + rng.uniform_int(0, 5);
            Dwt2Coeffs c;
            c.approx = random_normal(
                rng, Shape{h + rng.uniform_int(0, 1), w + rng.uniform_int(0, 1)}, DType::kFloat64);
            c.details.push_back(DwtDetails{random_normal(rng, Shape{h, w}, DType::kFloat64),
                                           random_normal(rng, Shape{h, w}, DType::kFloat64),
                                           random_normal(rng, Shape{h, w}, DType::kFloat64)});
            ref::Dwt2 rc;
            rc.approx = to_ref(c.approx);
            rc.details.push_back(ref::DwtLevel{
                {to_ref(c.details[0].h), to_ref(c.details[0].v), to_ref(c.details[0].d)}});
            const ref::FilterBank fb = reference_filter_bank(wavelet);
            const ref::Array want = ref::waverec2(rc, fb, dwt_mode_name(mode));
            const Tensor got = waverec2(c, wavelet, mode);
            ASSERT_EQ(got.shape().sizes(), want.shape) << wavelet << " " << dwt_mode_name(mode);
            EXPECT_LT(rel_l2_error(got, want), 1e-13) << wavelet << " " << dwt_mode_name(mode);
        }
    }
}

// The reference itself against pywt: every golden dwt2d case (the library meets the same files in
// wtconv_golden_test), so that a misreading of the spec shared by both would still show.
TEST(DwtReference, MatchesEveryGoldenCase) {
    int cases = 0;
    for (const auto& e : std::filesystem::directory_iterator(golden_dir() + "/dwt2d")) {
        const io::SafetensorsFile f = io::read_safetensors(e.path().string());
        const std::string mode = f.metadata.at("mode");
        const int level = std::stoi(f.metadata.at("level"));
        const ref::FilterBank fb = reference_filter_bank(f.metadata.at("wavelet"));
        const ref::Dwt2 c = ref::wavedec2(to_ref(f.tensors.at("x")), fb, mode, level);
        const std::string where = e.path().filename().string();
        // Golden cases agree with a spec transcription to <= 1e-15 (COMPRESSION.md 5.6).
        EXPECT_LT(rel_l2_error(f.tensors.at("cA"), c.approx), 1e-13) << where;
        for (int j = 1; j <= level; ++j) {
            const ref::DwtLevel& d = c.details[static_cast<std::size_t>(j - 1)];
            const std::string s = std::to_string(j);
            EXPECT_LT(rel_l2_error(f.tensors.at("cH_" + s), d.bands[0]), 1e-13) << where;
            EXPECT_LT(rel_l2_error(f.tensors.at("cV_" + s), d.bands[1]), 1e-13) << where;
            EXPECT_LT(rel_l2_error(f.tensors.at("cD_" + s), d.bands[2]), 1e-13) << where;
        }
        EXPECT_LT(rel_l2_error(f.tensors.at("x_rec"), ref::waverec2(c, fb, mode)), 1e-13) << where;
        ++cases;
    }
    EXPECT_EQ(cases, 60);
}

TEST(DwtHelpers, MaxLevelCoeffLenAndModeNamesAgreeWithTheSpec) {
    for (int f = 2; f <= 62; f += 2) {
        for (std::int64_t n = 0; n <= 300; ++n) {
            EXPECT_EQ(dwt_max_level(n, f), ref::dwt_max_level(n, f)) << n << " " << f;
        }
    }
    EXPECT_EQ(dwt_max_level(32, "db1"), 5);
    EXPECT_EQ(dwt_max_level(3, "bior4.4"), 0);  // 4.2: every 3x3 kernel stays at level 0
    EXPECT_EQ(dwt_max_level(7, "bior4.4"), 0);
    EXPECT_EQ(dwt_max_level(3, "haar"), 1);
    EXPECT_EQ(dwt_coeff_len(5, 2, DwtMode::kPeriodization), 3);
    EXPECT_EQ(dwt_coeff_len(5, 4, DwtMode::kSymmetric), 4);
    EXPECT_EQ(dwt_coeff_len(1, 10, DwtMode::kZero), 5);
    for (const DwtMode mode : kModes) {
        EXPECT_EQ(dwt_mode_from_name(dwt_mode_name(mode)), mode);
    }
}

// Every rejected input names the argument and what it must be.
TEST(DwtBadInput, RejectsWhatPywtRejectsOrNeverFinishes) {
    const Tensor x = Tensor::zeros(Shape{4, 5}, DType::kFloat64);
    const ErrorCode bad = ErrorCode::kBadArgument;
    expect_error([&] { wavedec2(x, "morl", DwtMode::kZero, 1); }, bad, "wavelet must be");
    expect_error([&] { wavedec2(x, "nope", DwtMode::kZero, 1); }, bad, "\"nope\"");
    expect_error([&] { dwt_mode_from_name("per"); }, bad, "mode must be one of");
    expect_error([&] { wavedec2(x, "db1", DwtMode::kZero, -1); }, bad,
                 "level must be >= 0, got -1");
    expect_error(
        [&] { wavedec2(Tensor::zeros(Shape{5}, DType::kFloat64), "db1", DwtMode::kZero, 1); }, bad,
        "x must be (..., H, W) with rank >= 2");
    expect_error(
        [&] {
            wavedec2(Tensor::zeros(Shape{0, 3}, DType::kFloat64), "db1", DwtMode::kZero, 1);
        },
        bad, "H >= 1 and W >= 1");
    expect_error(
        [&] {
            wavedec2(Tensor::zeros(Shape{3, 3}, DType::kInt32), "db1", DwtMode::kZero, 1);
        },
        bad, "x must be float32 or float64, got int32");
    expect_error([&] { wavedec2(Tensor(), "db1", DwtMode::kZero, 1); }, bad, "x must be a tensor");
    // Reflect and antireflect on a length-1 axis, at the first level or a deeper one.
    for (const DwtMode mode : {DwtMode::kReflect, DwtMode::kAntireflect}) {
        expect_error_all(
            [&] {
                wavedec2(Tensor::zeros(Shape{1, 4}, DType::kFloat32), "db1", mode, 1);
            },
            bad, {"H >= 2 and W >= 2", dwt_mode_name(mode), "level 1"});
        expect_error_all(
            [&] {
                wavedec2(Tensor::zeros(Shape{4, 4}, DType::kFloat32), "db1", mode, 3);
            },
            bad, {"1x1 at level 3"});
        EXPECT_NO_THROW(wavedec2(Tensor::zeros(Shape{4, 4}, DType::kFloat32), "db1", mode, 2));
        EXPECT_NO_THROW(wavedec2(Tensor::zeros(Shape{1, 4}, DType::kFloat32), "db1", mode, 0));
    }
    expect_error([&] { dwt_max_level(-1, 2); }, bad, "n must be >= 0");
    expect_error([&] { dwt_max_level(4, 1); }, bad, "filter_len must be >= 2");
    expect_error([&] { dwt_max_level(4, "gaus1"); }, bad, "wavelet must be");
    if (cuda_present()) {
        expect_error([&] { wavedec2(x.to(Device::cuda(0)), "db1", DwtMode::kZero, 1); },
                     ErrorCode::kNotSupported, "x must be a CPU tensor");
    }
}

TEST(DwtBadInput, SynthesisRejectsCoefficientsThatDoNotFit) {
    const ErrorCode bad = ErrorCode::kBadArgument;
    const auto z = [](std::int64_t h, std::int64_t w, DType t = DType::kFloat64) {
        return Tensor::zeros(Shape{h, w}, t);
    };
    const DwtDetails d{z(3, 3), z(3, 3), z(3, 3)};
    expect_error([&] { idwt2(z(4, 3), d, "db1", DwtMode::kZero); }, bad,
                 "approx must have the details' shape (3, 3), got (4, 3)");
    expect_error(
        [&] {
            idwt2(z(3, 3), DwtDetails{z(3, 3), z(3, 2), z(3, 3)}, "db1", DwtMode::kZero);
        },
        bad, "details h, v, d must share one shape");
    expect_error(
        [&] {
            idwt2(z(3, 3), DwtDetails{z(3, 3), z(3, 3), z(3, 3, DType::kFloat32)}, "db1",
                  DwtMode::kZero);
        },
        bad, "details must have approx's dtype float64");
    expect_error(
        [&] {
            idwt2(z(3, 3), DwtDetails{z(3, 3), Tensor(), z(3, 3)}, "db1", DwtMode::kZero);
        },
        bad, "details.v must be a tensor");
    expect_error([&] { idwt2(z(3, 3), d, "db4", DwtMode::kSymmetric); }, bad,
                 "at least F / 2 = 4 long");
    EXPECT_NO_THROW(idwt2(z(3, 3), d, "db4", DwtMode::kPeriodization));  // no length rule there
    Dwt2Coeffs c{z(5, 3), {d}};  // two rows more than the details: not pywt's one
    expect_error([&] { waverec2(c, "db1", DwtMode::kZero); }, bad, "or one more row or column");
    c.approx = z(4, 4);
    EXPECT_EQ(waverec2(c, "db1", DwtMode::kZero).shape(), (Shape{6, 6}));
    c.details.push_back(d);  // the second level must match the first's output, (6, 6)
    expect_error([&] { waverec2(c, "db1", DwtMode::kZero); }, bad, "got (6, 6)");
}

}  // namespace
}  // namespace wtconv::test
