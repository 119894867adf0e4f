// wtconv_golden_test: every golden case under $WTCONV_GOLDEN_DIR (default tests/golden), forward
// and every gradient, in float64 (1e-12) and float32 (1e-5), on every algorithm of every device
// that is promised to run it (wtconv_promised: CUDA direct every case, CUDA fused the float32 db1
// WTConv2d cases with K 3, 5, 7 and up to 3 levels) or says it supports it. Cases are found at run
// time and grouped by their "op" metadata; an op the library does not implement yet is reported as
// skipped by name, CUDA cases skip without a GPU, and a registered case that cannot run fails.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <gtest/gtest.h>

#include <wtconv/io/safetensors.h>
#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>

#include "support/test_support.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

// The golden README's bounds: float64 runs agree with the float64 originals to rounding; float32
// runs with exact filters reproduce every case within 9e-7, so 1e-5 keeps a tenfold margin.
double golden_tolerance(DType dtype) {
    return dtype == DType::kFloat32 ? 1e-5 : 1e-12;
}

const std::string& meta(const io::SafetensorsFile& f, const std::string& key) {
    const auto it = f.metadata.find(key);
    WTCONV_CHECK(it != f.metadata.end(), "golden: metadata key \"", key, "\" is missing");
    return it->second;
}

const Tensor& tensor(const io::SafetensorsFile& f, const std::string& name) {
    const auto it = f.tensors.find(name);
    WTCONV_CHECK(it != f.tensors.end(), "golden: tensor \"", name, "\" is missing");
    return it->second;
}

WTConvParams params_of(const io::SafetensorsFile& f) {
    WTConvParams p;
    p.kernel_size = std::stoi(meta(f, "kernel_size"));
    p.levels = std::stoi(meta(f, "levels"));
    p.stride = std::stoi(meta(f, "stride"));
    p.bias = meta(f, "bias") == "true";
    p.wavelet = meta(f, "wavelet");
    return p;
}

void run_wtconv_case(const std::string& path, DType dtype, Device device, WTConvAlgo algo) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    const bool two_d = meta(f, "op") == "wtconv2d";
    WTConvParams p = params_of(f);
    p.algo = algo;

    // Every stored tensor must be one this op expects: an unknown one means a case we misread.
    std::set<std::string> expected{
        "x",           "y",          "grad_y",           "grad_x",
        "base_weight", "base_scale", "grad_base_weight", "grad_base_scale"};
    if (p.bias) {
        expected.insert({"base_bias", "grad_base_bias"});
    }
    for (int i = 0; i < p.levels; ++i) {
        for (const char* stem :
             {"wavelet_weight_", "wavelet_scale_", "grad_wavelet_weight_", "grad_wavelet_scale_"}) {
            expected.insert(stem + std::to_string(i));
        }
    }
    std::set<std::string> stored;
    for (const auto& [name, t] : f.tensors) {
        stored.insert(name);
    }
    ASSERT_EQ(stored, expected) << path;

    const auto get = [&](const std::string& name) {
        const Tensor t = tensor(f, name).to(dtype);
        return device.is_cpu() ? t : t.to(device);
    };
    WTConvWeights w;
    w.base_weight = get("base_weight");
    if (p.bias) {
        w.base_bias = get("base_bias");
    }
    w.base_scale = get("base_scale");
    for (int i = 0; i < p.levels; ++i) {
        w.wavelet_weight.push_back(get("wavelet_weight_" + std::to_string(i)));
        w.wavelet_scale.push_back(get("wavelet_scale_" + std::to_string(i)));
    }
    ContextOptions options;
    options.poison_outputs = true;
    Context ctx(device, options);
    WTConvSaved saved;
    const Tensor x = get("x");
    const Tensor y =
        two_d ? wtconv2d_forward(ctx, x, w, p, &saved) : wtconv1d_forward(ctx, x, w, p, &saved);
    const WTConvGrads g = two_d ? wtconv2d_backward(ctx, get("grad_y"), w, p, saved)
                                : wtconv1d_backward(ctx, get("grad_y"), w, p, saved);

    const double tol = golden_tolerance(dtype);
    const auto check = [&](const char* what, const Tensor& got, const std::string& name) {
        EXPECT_LT(rel_l2_error(got, to_ref(tensor(f, name))), tol) << what << " of " << path;
    };
    check("y", y, "y");
    check("grad_x", g.dx, "grad_x");
    check("grad_base_weight", g.dweights.base_weight, "grad_base_weight");
    check("grad_base_scale", g.dweights.base_scale, "grad_base_scale");
    if (p.bias) {
        check("grad_base_bias", g.dweights.base_bias, "grad_base_bias");
    }
    for (int i = 0; i < p.levels; ++i) {
        const std::string level = std::to_string(i);
        check("grad_wavelet_weight", g.dweights.wavelet_weight[i], "grad_wavelet_weight_" + level);
        check("grad_wavelet_scale", g.dweights.wavelet_scale[i], "grad_wavelet_scale_" + level);
    }
}

class GoldenCase : public testing::Test {
public:
    GoldenCase(std::string path, DType dtype, Device device, WTConvAlgo algo)
        : path_(std::move(path)), dtype_(dtype), device_(device), algo_(algo) {}
    void TestBody() override {
        if (device_.is_cuda() && !cuda_present()) {
            GTEST_SKIP() << "no CUDA device (cuda_device_count() == 0): " << path_ << " in "
                         << dtype_name(dtype_) << " by " << wtconv_algo_name(algo_)
                         << " runs on cuda:0 only";
        }
        run_wtconv_case(path_, dtype_, device_, algo_);
    }

private:
    std::string path_;
    DType dtype_;
    Device device_;
    WTConvAlgo algo_;
};

class GoldenOpNotImplemented : public testing::Test {
public:
    GoldenOpNotImplemented(std::string op, std::size_t count) : op_(std::move(op)), count_(count) {}
    void TestBody() override {
        GTEST_SKIP() << "op \"" << op_ << "\" is not implemented yet: " << count_
                     << " golden cases not run";
    }

private:
    std::string op_;
    std::size_t count_;
};

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// The project's copy must stay identical to ../shared/golden, the source of truth.
TEST(GoldenCopy, MatchesSharedGolden) {
    const fs::path shared(WTCONV_SHARED_GOLDEN_DIR);
    if (!fs::exists(shared)) {
        GTEST_SKIP() << shared << " is absent: nothing to compare the copy with";
    }
    const fs::path mine(golden_dir());
    std::set<std::string> a;
    std::set<std::string> b;
    for (const auto& e : fs::recursive_directory_iterator(shared)) {
        if (e.is_regular_file()) {
            a.insert(fs::relative(e.path(), shared).string());
        }
    }
    for (const auto& e : fs::recursive_directory_iterator(mine)) {
        if (e.is_regular_file()) {
            b.insert(fs::relative(e.path(), mine).string());
        }
    }
    ASSERT_EQ(a, b) << "file lists of " << shared << " and " << mine << " differ";
    for (const std::string& rel : a) {
        EXPECT_TRUE(read_bytes(shared / rel) == read_bytes(mine / rel)) << rel << " differs";
    }
}

void register_cases() {
    struct GoldenFile {
        std::string path;
        WTConvParams params;
    };
    std::map<std::string, std::vector<GoldenFile>> by_op;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(golden_dir())) {
        if (e.is_regular_file() && e.path().extension() == ".safetensors") {
            files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
        const io::SafetensorsFile f = io::read_safetensors(file.string());
        const auto op = f.metadata.find("op");
        const std::string name = op == f.metadata.end() ? std::string() : op->second;
        const bool wtconv = name == "wtconv2d" || name == "wtconv1d";
        by_op[name].push_back({file.string(), wtconv ? params_of(f) : WTConvParams{}});
    }
    for (const auto& [op, cases] : by_op) {
        if (op != "wtconv2d" && op != "wtconv1d") {
            const std::string name = op.empty() ? std::string("unnamed") : op;
            testing::RegisterTest("GoldenNotImplemented", name.c_str(), nullptr, nullptr, __FILE__,
                                  __LINE__, [op = name, n = cases.size()]() -> testing::Test* {
                                      return new GoldenOpNotImplemented(op, n);
                                  });
            continue;
        }
        for (const GoldenFile& gf : cases) {
            const std::string path = gf.path;
            const std::string stem = fs::path(path).stem().string();
            // Registered where promised, not only where wtconv*_supports() says so, so that a
            // combination the library drops fails here instead of disappearing; beyond the promise,
            // wherever the library says it runs. CUDA cases skip at run time without a GPU.
            const int spatial = op == "wtconv2d" ? 2 : 1;
            for (const Device device : {Device::cpu(), Device::cuda(0)}) {
                for (const WTConvAlgo algo : algos_on(device)) {
                    for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
                        const bool supported =
                            spatial == 2 ? wtconv2d_supports(algo, device, dtype, gf.params)
                                         : wtconv1d_supports(algo, device, dtype, gf.params);
                        if (!wtconv_promised(algo, device, dtype, spatial, gf.params) &&
                            !supported) {
                            continue;
                        }
                        const std::string name = stem + "_" + dtype_name(dtype) + "_" +
                                                 device.str().substr(0, 4) + "_" +
                                                 wtconv_algo_name(algo);
                        const std::string suite = "Golden_" + op;
                        testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr,
                                              __FILE__, __LINE__, [=]() -> testing::Test* {
                                                  return new GoldenCase(path, dtype, device, algo);
                                              });
                    }
                }
            }
        }
    }
}

}  // namespace
}  // namespace wtconv::test

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    wtconv::test::register_cases();
    return RUN_ALL_TESTS();
}
