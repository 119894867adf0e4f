// test_wavkan_reference: the double Wavelet-KAN reference (tests/reference/wavkan_ref.*) against
// every golden case of tests/golden/wavkan, against central finite differences of itself, and at
// the hazards of WAVKAN.md 3.2 and 5 (mexican hat overflow, meyer's kinks, shannon at u = 0).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/io/safetensors.h>

#include "reference/wavkan_ref.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

constexpr double kPi = 3.141592653589793238462643383279502884;

// golden/README.md: float64 results must agree with the golden files within 1e-12 relative norm.
constexpr double kGoldenTol = 1e-12;
// Central differences with h = 1e-6 max(1, |p|): truncation h^2 |L'''| / 6 ~ 1e-12 and rounding
// ~ 1e-16 |L| / h ~ 1e-10 per element, so 1e-6 relative L2 leaves a wide margin while any wrong
// term of the analytic gradient (an O(1) relative error) still fails.
constexpr double kFdStep = 1e-6;
constexpr double kFdTol = 1e-6;

const char* const kWavelets[] = {"mexican_hat", "morlet", "dog", "meyer", "shannon"};

// The worst relative error seen per tensor kind and the test that saw it, printed once all tests
// have run.
std::map<std::string, std::pair<double, std::string>>& worst_errors() {
    static std::map<std::string, std::pair<double, std::string>> worst;
    return worst;
}
void note_error(const std::string& kind, double err) {
    std::pair<double, std::string>& w = worst_errors()[kind];
    if (err >= w.first) {
        w = {err, testing::UnitTest::GetInstance()->current_test_info()->name()};
    }
}

class WorstErrorReport : public testing::Environment {
public:
    void TearDown() override {
        for (const auto& [kind, worst] : worst_errors()) {
            std::cout << "[ worst    ] " << kind << ": " << worst.first << " (" << worst.second
                      << ")\n";
        }
    }
};
testing::Environment* const kWorstErrorReport =
    testing::AddGlobalTestEnvironment(new WorstErrorReport);

double l2_norm(const std::vector<double>& v) {
    double s = 0.0;
    for (double e : v) {
        s += e * e;
    }
    return std::sqrt(s);
}

// Expects ||got - want|| / ||want|| < tol, or got == 0 exactly when want is all zeros; returns the
// error (||got|| in the all-zero case).
double expect_close(const ref::Array& got,
                    const ref::Array& want,
                    double tol,
                    const std::string& what) {
    EXPECT_EQ(got.shape, want.shape) << what;
    if (got.data.size() != want.data.size()) {
        ADD_FAILURE() << what << ": " << got.data.size() << " elements, want " << want.data.size();
        return 1.0;
    }
    std::vector<double> diff(got.data.size());
    for (size_t k = 0; k < diff.size(); ++k) {
        diff[k] = got.data[k] - want.data[k];
    }
    const double want_norm = l2_norm(want.data);
    if (want_norm == 0.0) {
        const double got_norm = l2_norm(got.data);
        EXPECT_EQ(got_norm, 0.0) << what << ": want is all zeros";
        return got_norm;
    }
    const double err = l2_norm(diff) / want_norm;
    EXPECT_LT(err, tol) << what;  // NaN fails too
    return err;
}

// ---------------------------------------------------------------------------------------------
// Golden cases.

std::vector<std::string> golden_wavkan_files() {
    const fs::path dir = fs::path(golden_dir()) / "wavkan";
    std::vector<std::string> files;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return files;
    }
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
        if (e.is_regular_file() && e.path().extension() == ".safetensors") {
            files.push_back(e.path().string());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

const std::string& meta(const io::SafetensorsFile& f, const std::string& key) {
    const auto it = f.metadata.find(key);
    if (it == f.metadata.end()) {
        throw std::runtime_error("golden: metadata key \"" + key + "\" is missing");
    }
    return it->second;
}

bool meta_bool(const io::SafetensorsFile& f, const std::string& key) {
    const std::string v = meta(f, key);
    if (v != "true" && v != "false") {
        throw std::runtime_error("golden: metadata " + key + " must be true or false, got " + v);
    }
    return v == "true";
}

ref::Array tensor(const io::SafetensorsFile& f, const std::string& name) {
    const auto it = f.tensors.find(name);
    if (it == f.tensors.end()) {
        throw std::runtime_error("golden: tensor \"" + name + "\" is missing");
    }
    return to_ref(it->second);
}

class WavKanRefGolden : public testing::TestWithParam<std::string> {};

TEST_P(WavKanRefGolden, MatchesGoldenFile) {
    const io::SafetensorsFile f = io::read_safetensors(GetParam());
    ASSERT_EQ(meta(f, "op"), "wavkan");

    ref::WavKanConfig c;
    c.wavelet = meta(f, "wavelet");
    c.base = meta_bool(f, "base");
    c.batchnorm = meta_bool(f, "batchnorm");
    ref::WavKanTensors p;
    p.scale = tensor(f, "scale");
    p.translation = tensor(f, "translation");
    p.wavelet_weights = tensor(f, "wavelet_weights");
    if (c.base) {
        p.base_weight = tensor(f, "base_weight");
    }
    if (c.batchnorm) {
        c.eps = std::stod(meta(f, "bn_eps"));
        c.momentum = std::stod(meta(f, "bn_momentum"));
        const std::string mode = meta(f, "bn_mode");
        ASSERT_TRUE(mode == "training" || mode == "eval") << "bn_mode " << mode;
        c.training = mode == "training";
        p.bn_weight = tensor(f, "bn_weight");
        p.bn_bias = tensor(f, "bn_bias");
        p.bn_running_mean = tensor(f, "bn_running_mean");
        p.bn_running_var = tensor(f, "bn_running_var");
    }
    const ref::Array x = tensor(f, "x");
    const ref::Array dy = tensor(f, "grad_y");
    const std::int64_t B = std::stoll(meta(f, "B"));
    const std::int64_t I = std::stoll(meta(f, "in_features"));
    const std::int64_t O = std::stoll(meta(f, "out_features"));
    ASSERT_EQ(x.shape, (std::vector<std::int64_t>{B, I}));
    ASSERT_EQ(p.scale.shape, (std::vector<std::int64_t>{O, I}));
    ASSERT_EQ(dy.shape, (std::vector<std::int64_t>{B, O}));

    const ref::WavKanForwardRef fwd = ref::wavkan_forward(x, p, c);
    const ref::WavKanGradsRef grads = ref::wavkan_backward(x, dy, p, c);

    // Every output the reference produces for this configuration, by its golden name.
    std::map<std::string, const ref::Array*> got{{"y", &fwd.y},
                                                 {"grad_x", &grads.dx},
                                                 {"grad_scale", &grads.dscale},
                                                 {"grad_translation", &grads.dtranslation},
                                                 {"grad_wavelet_weights", &grads.dwavelet_weights}};
    if (c.base) {
        got["grad_base_weight"] = &grads.dbase_weight;
    }
    if (c.batchnorm) {
        got["grad_bn_weight"] = &grads.dbn_weight;
        got["grad_bn_bias"] = &grads.dbn_bias;
        got["bn_running_mean_out"] = &fwd.running_mean_out;
        got["bn_running_var_out"] = &fwd.running_var_out;
    }
    // Every stored output must be one the reference produces, and the other way round.
    for (const auto& [name, t] : f.tensors) {
        const bool is_output = name == "y" || (name.rfind("grad_", 0) == 0 && name != "grad_y") ||
                               (name.size() > 4 && name.compare(name.size() - 4, 4, "_out") == 0);
        if (is_output && got.count(name) == 0) {
            ADD_FAILURE() << "golden output " << name << " has no reference counterpart";
        }
    }
    for (const auto& [name, a] : got) {
        if (f.tensors.count(name) == 0) {
            ADD_FAILURE() << "golden file lacks " << name;
            continue;
        }
        note_error("golden " + name, expect_close(*a, tensor(f, name), kGoldenTol, name));
    }
}

std::string file_case_name(const testing::TestParamInfo<std::string>& info) {
    std::string name = fs::path(info.param).stem().string();
    for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) {
            ch = '_';
        }
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Cases,
                         WavKanRefGolden,
                         testing::ValuesIn(golden_wavkan_files()),
                         file_case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(WavKanRefGolden);

// The folder holds 33 cases (WAVKAN.md 9); fewer than 30 means it was not found or is incomplete.
TEST(WavKanRefGoldenFolder, HoldsTheCases) {
    EXPECT_GE(golden_wavkan_files().size(), 30u)
        << "golden wavkan cases under " << golden_dir() << "/wavkan";
}

// ---------------------------------------------------------------------------------------------
// Finite differences.

enum class BnMode { kOff, kTraining, kEval };

struct FdCase {
    std::string wavelet;
    bool base = false;
    BnMode bn = BnMode::kOff;
    std::uint64_t seed = 0;
};

std::string fd_case_name(const testing::TestParamInfo<FdCase>& info) {
    const FdCase& tc = info.param;
    const char* bn = tc.bn == BnMode::kOff        ? "nobn"
                     : tc.bn == BnMode::kTraining ? "bntrain"
                                                  : "bneval";
    return tc.wavelet + (tc.base ? "_base_" : "_nobase_") + bn;
}

std::vector<FdCase> fd_cases() {
    std::vector<FdCase> cases;
    std::uint64_t seed = 1000;
    for (const char* w : kWavelets) {
        for (const bool base : {false, true}) {
            for (const BnMode bn : {BnMode::kOff, BnMode::kTraining, BnMode::kEval}) {
                cases.push_back(FdCase{w, base, bn, seed++});
            }
        }
    }
    return cases;
}

struct FdProblem {
    ref::Array x, dy;
    ref::WavKanTensors p;
    ref::WavKanConfig c;
};

// Distance of |u| from meyer's kinks and piece boundaries (0, 1/2, 1) over every edge: central
// differences straddling one of them would measure a one-sided mixture, not the derivative.
double kink_distance(const FdProblem& pr) {
    const std::int64_t B = pr.x.shape[0];
    const std::int64_t I = pr.x.shape[1];
    const std::int64_t O = pr.p.scale.shape[0];
    double dist = 1e300;
    for (std::int64_t b = 0; b < B; ++b) {
        for (std::int64_t o = 0; o < O; ++o) {
            for (std::int64_t i = 0; i < I; ++i) {
                const size_t e = static_cast<size_t>(o * I + i);
                const double u =
                    (pr.x.data[static_cast<size_t>(b * I + i)] - pr.p.translation.data[e]) /
                    pr.p.scale.data[e];
                for (const double k : {0.0, 0.5, 1.0}) {
                    dist = std::min(dist, std::fabs(std::fabs(u) - k));
                }
            }
        }
    }
    return dist;
}

FdProblem make_problem(const FdCase& tc) {
    std::mt19937_64 gen(tc.seed);
    const auto uniform = [&gen](double lo, double hi) {
        return std::uniform_real_distribution<double>(lo, hi)(gen);
    };
    const auto uniform_int = [&gen](int lo, int hi) {
        return static_cast<std::int64_t>(std::uniform_int_distribution<int>(lo, hi)(gen));
    };
    const auto fill = [&](ref::Array& a, double lo, double hi) {
        for (double& v : a.data) {
            v = uniform(lo, hi);
        }
    };
    const std::int64_t B = uniform_int(3, 4);
    const std::int64_t I = uniform_int(2, 5);
    const std::int64_t O = uniform_int(2, 4);
    FdProblem pr;
    pr.c.wavelet = tc.wavelet;
    pr.c.base = tc.base;
    pr.c.batchnorm = tc.bn != BnMode::kOff;
    pr.c.training = tc.bn == BnMode::kTraining;
    pr.p.scale = ref::Array({O, I});
    for (double& s : pr.p.scale.data) {  // +-[0.5, 2], as in the golden cases
        s = uniform(0.5, 2.0) * (uniform(0.0, 1.0) < 0.5 ? -1.0 : 1.0);
    }
    pr.p.wavelet_weights = ref::Array({O, I});
    fill(pr.p.wavelet_weights, -1.0, 1.0);
    if (tc.base) {
        pr.p.base_weight = ref::Array({O, I});
        fill(pr.p.base_weight, -1.0, 1.0);
    }
    if (pr.c.batchnorm) {
        pr.p.bn_weight = ref::Array({O});
        fill(pr.p.bn_weight, 0.5, 1.5);
        pr.p.bn_bias = ref::Array({O});
        fill(pr.p.bn_bias, -0.5, 0.5);
        pr.p.bn_running_mean = ref::Array({O});
        fill(pr.p.bn_running_mean, -0.5, 0.5);
        pr.p.bn_running_var = ref::Array({O});
        fill(pr.p.bn_running_var, 0.5, 1.5);
    }
    pr.dy = ref::Array({B, O});
    fill(pr.dy, -1.0, 1.0);
    pr.x = ref::Array({B, I});
    pr.p.translation = ref::Array({O, I});
    // |u| up to ~5 with about half of meyer's edges inside its support |u| < 1; redraw until every
    // |u| keeps 1e-3 from a kink, a thousand steps h away.
    for (int attempt = 0; attempt < 10000; ++attempt) {
        fill(pr.x, -1.5, 1.5);
        fill(pr.p.translation, -1.0, 1.0);
        if (kink_distance(pr) > 1e-3) {
            return pr;
        }
    }
    throw std::runtime_error("make_problem: no draw kept clear of the kinks");
}

double loss(const FdProblem& pr) {
    const ref::Array y = ref::wavkan_forward(pr.x, pr.p, pr.c).y;
    double l = 0.0;
    for (size_t k = 0; k < y.data.size(); ++k) {
        l += pr.dy.data[k] * y.data[k];
    }
    return l;
}

// Central differences of loss() in every element of *param (a member of pr).
ref::Array central_differences(FdProblem& pr, ref::Array* param) {
    ref::Array fd(param->shape);
    for (size_t k = 0; k < param->data.size(); ++k) {
        const double v = param->data[k];
        const double h = kFdStep * std::max(1.0, std::fabs(v));
        param->data[k] = v + h;
        const double up = loss(pr);
        param->data[k] = v - h;
        const double down = loss(pr);
        param->data[k] = v;
        fd.data[k] = (up - down) / (2.0 * h);
    }
    return fd;
}

class WavKanRefGradcheck : public testing::TestWithParam<FdCase> {};

TEST_P(WavKanRefGradcheck, MatchesCentralDifferences) {
    FdProblem pr = make_problem(GetParam());
    const ref::WavKanGradsRef g = ref::wavkan_backward(pr.x, pr.dy, pr.p, pr.c);
    std::vector<std::pair<std::string, std::pair<ref::Array*, const ref::Array*>>> checks{
        {"dx", {&pr.x, &g.dx}},
        {"dscale", {&pr.p.scale, &g.dscale}},
        {"dtranslation", {&pr.p.translation, &g.dtranslation}},
        {"dwavelet_weights", {&pr.p.wavelet_weights, &g.dwavelet_weights}}};
    if (pr.c.base) {
        checks.push_back({"dbase_weight", {&pr.p.base_weight, &g.dbase_weight}});
    } else {
        EXPECT_TRUE(g.dbase_weight.empty());
    }
    if (pr.c.batchnorm) {
        checks.push_back({"dbn_weight", {&pr.p.bn_weight, &g.dbn_weight}});
        checks.push_back({"dbn_bias", {&pr.p.bn_bias, &g.dbn_bias}});
    } else {
        EXPECT_TRUE(g.dbn_weight.empty());
        EXPECT_TRUE(g.dbn_bias.empty());
    }
    std::ostringstream shape;
    shape << "B " << pr.x.shape[0] << " I " << pr.x.shape[1] << " O " << pr.p.scale.shape[0];
    for (const auto& [name, pa] : checks) {
        const ref::Array fd = central_differences(pr, pa.first);
        const double err = expect_close(fd, *pa.second, kFdTol, name + " " + shape.str());
        note_error("finite differences " + name, err);
    }
}

INSTANTIATE_TEST_SUITE_P(AllWavelets,
                         WavKanRefGradcheck,
                         testing::ValuesIn(fd_cases()),
                         fd_case_name);

// ---------------------------------------------------------------------------------------------
// Hazards and special points.

// WAVKAN.md 5: u^2 overflows to inf for |u| > 1.3e154 while exp(-u^2/2) is already 0; the
// reference returns the limit 0, not inf * 0 = NaN, for psi and dpsi.
TEST(WavKanRefHazards, MexicanHatAtHugeUIsExactlyZero) {
    for (const double u : {1e200, -1e200, 2e154, 40.0, -40.0}) {
        const std::pair<double, double> r = ref::kan_psi("mexican_hat", u, 0, 1);
        EXPECT_EQ(r.first, 0.0) << "u = " << u;
        EXPECT_EQ(r.second, 0.0) << "u = " << u;
    }
    // Through the op: x = 1e200 against translation 0, scale 1, no batch norm.
    ref::WavKanConfig c;
    c.batchnorm = false;
    ref::WavKanTensors p;
    p.scale = ref::Array({1, 1});
    p.scale.data = {1.0};
    p.translation = ref::Array({1, 1});
    p.wavelet_weights = ref::Array({1, 1});
    p.wavelet_weights.data = {0.7};
    ref::Array x({1, 1});
    x.data = {1e200};
    ref::Array dy({1, 1});
    dy.data = {1.0};
    EXPECT_EQ(ref::wavkan_forward(x, p, c).y.data.at(0), 0.0);
    const ref::WavKanGradsRef g = ref::wavkan_backward(x, dy, p, c);
    EXPECT_EQ(g.dx.data.at(0), 0.0);
    EXPECT_EQ(g.dscale.data.at(0), 0.0);
    EXPECT_EQ(g.dtranslation.data.at(0), 0.0);
    EXPECT_EQ(g.dwavelet_weights.data.at(0), 0.0);
}

// WAVKAN.md 3.2: sgn(0) = 0 at meyer's kink, and the boundaries belong to the constant pieces.
TEST(WavKanRefHazards, MeyerKinkAndBoundaries) {
    for (const double zero : {0.0, -0.0}) {
        const std::pair<double, double> r = ref::kan_psi("meyer", zero, 0, 1);
        EXPECT_EQ(r.first, 0.0);
        EXPECT_EQ(r.second, 0.0) << "the derivative at u = 0 is 0, not +-pi";
    }
    for (const double u : {0.5, -0.5}) {
        const std::pair<double, double> r = ref::kan_psi("meyer", u, 0, 1);
        EXPECT_EQ(r.first, std::sin(kPi / 2.0) * 1.0) << "u = " << u;  // m(1/2) = 1
        EXPECT_NEAR(r.second, 0.0, 1e-15) << "u = " << u;              // pi cos(pi/2) = 2e-16
    }
    for (const double u : {1.0, -1.0}) {
        const std::pair<double, double> r = ref::kan_psi("meyer", u, 0, 1);
        EXPECT_EQ(r.first, 0.0) << "u = " << u;  // m(1) = 0
        EXPECT_EQ(r.second, 0.0) << "u = " << u;
    }
    // Continuity across the boundaries, from inside the cosine piece.
    EXPECT_NEAR(ref::kan_psi("meyer", 0.5 + 1e-9, 0, 1).first, 1.0, 1e-12);
    EXPECT_NEAR(ref::kan_psi("meyer", 1.0 - 1e-9, 0, 1).first, 0.0, 1e-12);
    EXPECT_NEAR(ref::kan_psi("meyer", 1.0 - 1e-9, 0, 1).second, 0.0, 1e-12);
}

// WAVKAN.md 3.2: shannon at u = 0 is (h[i], 0), h the symmetric Hamming window over i, h[0] = 1
// for I = 1; the small-|u| series keeps the derivative at -u/3.
TEST(WavKanRefHazards, ShannonAtZeroIsTheWindow) {
    for (const std::int64_t I : {1, 2, 3, 5, 6}) {
        for (std::int64_t i = 0; i < I; ++i) {
            const double h = I == 1 ? 1.0
                                    : 0.54 - 0.46 * std::cos(2.0 * kPi * static_cast<double>(i) /
                                                             static_cast<double>(I - 1));
            const std::pair<double, double> r = ref::kan_psi("shannon", 0.0, i, I);
            EXPECT_EQ(r.first, h) << "i " << i << " of " << I;
            EXPECT_EQ(r.second, 0.0) << "i " << i << " of " << I;
        }
    }
    EXPECT_EQ(ref::kan_psi("shannon", 0.0, 0, 1).first, 1.0);
    EXPECT_NEAR(ref::kan_psi("shannon", 0.0, 1, 2).first, 0.08, 1e-15);
    EXPECT_NEAR(ref::kan_psi("shannon", 0.0, 2, 5).first, 1.0, 1e-15);
    const double u = 1e-7;
    EXPECT_NEAR(ref::kan_psi("shannon", u, 0, 1).second, -u / 3.0, 1e-12 * u);
    EXPECT_NEAR(ref::kan_psi("shannon", -u, 0, 1).second, u / 3.0, 1e-12 * u);
}

TEST(WavKanRefHazards, UnknownWaveletThrows) {
    EXPECT_THROW(ref::kan_psi("haar", 0.3, 0, 1), std::invalid_argument);
    EXPECT_THROW(ref::kan_psi("Mexican_hat", 0.3, 0, 1), std::invalid_argument);
    ref::WavKanConfig c;
    c.wavelet = "gaussian";
    c.batchnorm = false;
    ref::WavKanTensors p;
    p.scale = ref::Array({1, 1});
    p.scale.data = {1.0};
    p.translation = ref::Array({1, 1});
    p.wavelet_weights = ref::Array({1, 1});
    const ref::Array x({1, 1});
    const ref::Array dy({1, 1});
    EXPECT_THROW(ref::wavkan_forward(x, p, c), std::invalid_argument);
    EXPECT_THROW(ref::wavkan_backward(x, dy, p, c), std::invalid_argument);
}

// WAVKAN.md 3.5: evaluation mode normalises with the running statistics and leaves them as they
// were (B = 1 is fine there); training mode needs B >= 2.
TEST(WavKanRefHazards, BatchNormModes) {
    ref::WavKanConfig c;
    c.wavelet = "dog";
    c.training = false;
    ref::WavKanTensors p;
    p.scale = ref::Array({1, 1});
    p.scale.data = {0.8};
    p.translation = ref::Array({1, 1});
    p.translation.data = {0.1};
    p.wavelet_weights = ref::Array({1, 1});
    p.wavelet_weights.data = {0.6};
    p.bn_weight = ref::Array({1});
    p.bn_weight.data = {1.3};
    p.bn_bias = ref::Array({1});
    p.bn_bias.data = {-0.2};
    p.bn_running_mean = ref::Array({1});
    p.bn_running_mean.data = {0.25};
    p.bn_running_var = ref::Array({1});
    p.bn_running_var.data = {0.9};
    ref::Array x({1, 1});
    x.data = {0.5};
    const ref::WavKanForwardRef r = ref::wavkan_forward(x, p, c);
    const double u = (0.5 - 0.1) / 0.8;
    const double z = 0.6 * (-u * std::exp(-0.5 * u * u));
    EXPECT_NEAR(r.y.data.at(0), 1.3 * (z - 0.25) / std::sqrt(0.9 + 1e-5) - 0.2, 1e-15);
    EXPECT_EQ(r.running_mean_out.data, p.bn_running_mean.data);
    EXPECT_EQ(r.running_var_out.data, p.bn_running_var.data);
    c.training = true;
    EXPECT_THROW(ref::wavkan_forward(x, p, c), std::invalid_argument);
}

}  // namespace
}  // namespace wtconv::test
