// Golden cases of wavkan (WAVKAN.md 9): y, every parameter and input gradient, and the running
// statistics after one training forward, on the CPU and CUDA, fused and unfused, in float64 and
// float32, within the tolerance golden/README.md sets.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include <wtconv/device.h>
#include <wtconv/ops/wavkan.h>

#include "golden_ops/golden_support.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

bool meta_bool(const io::SafetensorsFile& f, const char* key) {
    const std::string v = golden_meta(f, key);
    WTCONV_CHECK(v == "true" || v == "false", "golden: ", key, " must be true or false, got ", v);
    return v == "true";
}

void expect_close(const char* what,
                  const Tensor& got,
                  const io::SafetensorsFile& f,
                  const std::string& name,
                  DType dtype,
                  const std::string& path) {
    ASSERT_TRUE(got.defined()) << what << " of " << path;
    const Tensor& want = golden_tensor(f, name);
    ASSERT_EQ(got.shape(), want.shape()) << what << " of " << path;
    const double err = rel_l2_error(got.to(Device::cpu()), to_ref(want));
    EXPECT_LT(err, golden_tolerance(dtype)) << what << " of " << path;
}

void run_case(const std::string& path, DType dtype, Device device, WavKanAlgo algo) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    WavKanParams p;
    p.wavelet = kan_wavelet_from_name(golden_meta(f, "wavelet"));
    p.base = meta_bool(f, "base");
    p.batchnorm = meta_bool(f, "batchnorm");
    p.algo = algo;
    std::set<std::string> expected{
        "x",      "scale",  "translation", "wavelet_weights",  "y",
        "grad_y", "grad_x", "grad_scale",  "grad_translation", "grad_wavelet_weights"};
    if (p.base) {
        expected.insert({"base_weight", "grad_base_weight"});
    }
    if (p.batchnorm) {
        expected.insert({"bn_weight", "bn_bias", "grad_bn_weight", "grad_bn_bias",
                         "bn_running_mean", "bn_running_var", "bn_running_mean_out",
                         "bn_running_var_out"});
        p.bn_eps = std::stod(golden_meta(f, "bn_eps"));
        p.bn_momentum = std::stod(golden_meta(f, "bn_momentum"));
        ASSERT_EQ(golden_meta(f, "bn_mode"), "training") << path;
    }
    std::set<std::string> stored;
    for (const auto& entry : f.tensors) {
        stored.insert(entry.first);
    }
    ASSERT_EQ(stored, expected) << path;
    const auto in = [&](const char* name) { return golden_tensor(f, name).to(dtype).to(device); };
    const Tensor x = in("x");
    ASSERT_EQ(x.size(0), std::stoll(golden_meta(f, "B"))) << path;
    ASSERT_EQ(x.size(1), std::stoll(golden_meta(f, "in_features"))) << path;
    WavKanWeights w;
    w.scale = in("scale");
    w.translation = in("translation");
    w.wavelet_weights = in("wavelet_weights");
    ASSERT_EQ(w.scale.size(0), std::stoll(golden_meta(f, "out_features"))) << path;
    WavKanRunningStats running;
    if (p.base) {
        w.base_weight = in("base_weight");
    }
    if (p.batchnorm) {
        w.bn_weight = in("bn_weight");
        w.bn_bias = in("bn_bias");
        running.mean = in("bn_running_mean");
        running.var = in("bn_running_var");
    }
    ContextOptions options;
    options.poison_outputs = true;
    Context ctx(device, options);
    WavKanSaved saved;
    const Tensor y = wavkan_forward(ctx, x, w, p, p.batchnorm ? &running : nullptr, &saved);
    const WavKanGrads g = wavkan_backward(ctx, in("grad_y"), w, p, saved);
    expect_close("y", y, f, "y", dtype, path);
    expect_close("grad_x", g.dx, f, "grad_x", dtype, path);
    expect_close("grad_scale", g.dweights.scale, f, "grad_scale", dtype, path);
    expect_close("grad_translation", g.dweights.translation, f, "grad_translation", dtype, path);
    expect_close("grad_wavelet_weights", g.dweights.wavelet_weights, f, "grad_wavelet_weights",
                 dtype, path);
    if (p.base) {
        expect_close("grad_base_weight", g.dweights.base_weight, f, "grad_base_weight", dtype,
                     path);
    }
    if (p.batchnorm) {
        expect_close("grad_bn_weight", g.dweights.bn_weight, f, "grad_bn_weight", dtype, path);
        expect_close("grad_bn_bias", g.dweights.bn_bias, f, "grad_bn_bias", dtype, path);
        expect_close("bn_running_mean_out", running.mean, f, "bn_running_mean_out", dtype, path);
        expect_close("bn_running_var_out", running.var, f, "bn_running_var_out", dtype, path);
    }
}

class GoldenWavKan : public testing::Test {
public:
    GoldenWavKan(std::string path, DType dtype, Device device, WavKanAlgo algo)
        : path_(std::move(path)), dtype_(dtype), device_(device), algo_(algo) {}
    void TestBody() override {
        if (device_.is_cuda() && !cuda_present()) {
            GTEST_SKIP() << "no CUDA device: " << path_ << " runs on cuda:0 only";
        }
        run_case(path_, dtype_, device_, algo_);
    }

private:
    std::string path_;
    DType dtype_;
    Device device_;
    WavKanAlgo algo_;
};

}  // namespace

bool register_golden_wavkan(const std::string& op, const std::vector<std::string>& paths) {
    const std::string suite = "Golden_" + op;
    std::vector<Device> devices{Device::cpu()};
    if (cuda_built()) {
        devices.push_back(Device::cuda(0));
    }
    for (const std::string& path : paths) {
        const std::string stem = fs::path(path).stem().string();
        for (const Device device : devices) {
            for (const WavKanAlgo algo : {WavKanAlgo::kFused, WavKanAlgo::kUnfused}) {
                for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
                    const std::string name = stem + "_" + dtype_name(dtype) + "_" +
                                             device.str().substr(0, 4) + "_" +
                                             wavkan_algo_name(algo);
                    testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__,
                                          __LINE__, [=]() -> testing::Test* {
                                              return new GoldenWavKan(path, dtype, device, algo);
                                          });
                }
            }
        }
    }
    return true;
}

}  // namespace wtconv::test
