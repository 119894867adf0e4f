// Golden cases of wtconv2d and wtconv1d: forward and every gradient, in float64 and float32, on
// every algorithm of every device that is promised to run the case (wtconv_promised: CUDA direct
// every case, CUDA fused the float32 db1 WTConv2d cases with K 3, 5, 7 and up to 3 levels) or says
// it supports it. CUDA cases skip without a GPU; a registered case that cannot run fails.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include <wtconv/ops/wtconv1d.h>
#include <wtconv/ops/wtconv2d.h>

#include "golden_ops/golden_support.h"
#include "support/test_support.h"
#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

WTConvParams params_of(const io::SafetensorsFile& f) {
    WTConvParams p;
    p.kernel_size = std::stoi(golden_meta(f, "kernel_size"));
    p.levels = std::stoi(golden_meta(f, "levels"));
    p.stride = std::stoi(golden_meta(f, "stride"));
    p.bias = golden_meta(f, "bias") == "true";
    p.wavelet = golden_meta(f, "wavelet");
    return p;
}
void run_wtconv_case(const std::string& path, DType dtype, Device device, WTConvAlgo algo) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    const bool two_d = golden_meta(f, "op") == "wtconv2d";
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
        const Tensor t = golden_tensor(f, name).to(dtype);
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
        EXPECT_LT(rel_l2_error(got, to_ref(golden_tensor(f, name))), tol) << what << " of " << path;
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

}  // namespace

bool register_golden_wtconv(const std::string& op, const std::vector<std::string>& paths) {
    const int spatial = op == "wtconv2d" ? 2 : 1;
    for (const std::string& path : paths) {
        const WTConvParams params = params_of(io::read_safetensors(path));
        const std::string stem = fs::path(path).stem().string();
        // Registered where promised, not only where wtconv*_supports() says so, so that a
        // combination the library drops fails here instead of disappearing; beyond the promise,
        // wherever the library says it runs. CUDA cases skip at run time without a GPU.
        for (const Device device : {Device::cpu(), Device::cuda(0)}) {
            for (const WTConvAlgo algo : algos_on(device)) {
                for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
                    const bool supported = spatial == 2
                                               ? wtconv2d_supports(algo, device, dtype, params)
                                               : wtconv1d_supports(algo, device, dtype, params);
                    if (!wtconv_promised(algo, device, dtype, spatial, params) && !supported) {
                        continue;
                    }
                    const std::string name = stem + "_" + dtype_name(dtype) + "_" +
                                             device.str().substr(0, 4) + "_" +
                                             wtconv_algo_name(algo);
                    const std::string suite = "Golden_" + op;
                    testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__,
                                          __LINE__, [=]() -> testing::Test* {
                                              return new GoldenCase(path, dtype, device, algo);
                                          });
                }
            }
        }
    }
    return true;
}

}  // namespace wtconv::test
