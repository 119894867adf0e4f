// Golden cases of conv2d (COMPRESSION.md 7.2): y, grad_x, grad_weight and grad_bias in float64
// and float32 on every device and algorithm the library runs conv2d on (CUDA skips without a GPU).
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include <wtconv/ops/conv2d.h>

#include "golden_ops/golden_support.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

int meta_int(const io::SafetensorsFile& f, const char* key) {
    return std::stoi(golden_meta(f, key));
}

Conv2dParams params_of(const io::SafetensorsFile& f) {
    Conv2dParams p;
    p.stride_h = meta_int(f, "stride_h");
    p.stride_w = meta_int(f, "stride_w");
    p.pad_h = meta_int(f, "pad_h");
    p.pad_w = meta_int(f, "pad_w");
    p.dilation_h = meta_int(f, "dilation_h");
    p.dilation_w = meta_int(f, "dilation_w");
    p.groups = meta_int(f, "groups");
    p.bias = golden_meta(f, "bias") == "true";
    return p;
}

void run_case(const std::string& path, DType dtype, Device device, Conv2dAlgo algo) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    Conv2dParams p = params_of(f);
    p.algo = algo;
    std::set<std::string> expected{"x", "weight", "grad_y", "y", "grad_x", "grad_weight"};
    if (p.bias) {
        expected.insert({"bias", "grad_bias"});
    }
    std::set<std::string> stored;
    for (const auto& entry : f.tensors) {
        stored.insert(entry.first);
    }
    ASSERT_EQ(stored, expected) << path;
    const auto get = [&](const std::string& name) {
        const Tensor t = golden_tensor(f, name).to(dtype);
        return device.is_cpu() ? t : t.to(device);
    };
    // The metadata must describe the stored tensors: a misread case would test nothing.
    const Tensor x = get("x");
    ASSERT_EQ(x.shape(),
              (Shape{meta_int(f, "N"), meta_int(f, "C"), meta_int(f, "H"), meta_int(f, "W")}))
        << path;
    Conv2dWeights w;
    w.weight = get("weight");
    ASSERT_EQ(w.weight.size(0), meta_int(f, "out_channels")) << path;
    ASSERT_EQ(w.weight.size(2), meta_int(f, "kernel_h")) << path;
    ASSERT_EQ(w.weight.size(3), meta_int(f, "kernel_w")) << path;
    if (p.bias) {
        w.bias = get("bias");
    }
    ContextOptions options;
    options.poison_outputs = true;
    Context ctx(device, options);
    Conv2dSaved saved;
    const Tensor y = conv2d_forward(ctx, x, w, p, &saved);
    const Conv2dGrads g = conv2d_backward(ctx, get("grad_y"), w, p, saved);
    const double tol = golden_tolerance(dtype);
    const auto check = [&](const char* what, const Tensor& got) {
        EXPECT_LT(rel_l2_error(got, to_ref(golden_tensor(f, what))), tol) << what << " of " << path;
    };
    check("y", y);
    check("grad_x", g.dx);
    check("grad_weight", g.dweights.weight);
    if (p.bias) {
        check("grad_bias", g.dweights.bias);
    }
}

class GoldenConv2d : public testing::Test {
public:
    GoldenConv2d(std::string path, DType dtype, Device device, Conv2dAlgo algo)
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
    Conv2dAlgo algo_;
};

}  // namespace

bool register_golden_conv2d(const std::string& op, const std::vector<std::string>& paths) {
    const Conv2dAlgo algos[] = {Conv2dAlgo::kImg2col, Conv2dAlgo::kImplicitGemm};
    for (const std::string& path : paths) {
        const std::string stem = fs::path(path).stem().string();
        for (const Device device : {Device::cpu(), Device::cuda(0)}) {
            for (const Conv2dAlgo algo : algos) {
                for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
                    if (!conv2d_supports(algo, device, dtype)) {
                        continue;
                    }
                    const std::string name = stem + "_" + dtype_name(dtype) + "_" +
                                             device.str().substr(0, 4) + "_" +
                                             conv2d_algo_name(algo);
                    const std::string suite = "Golden_" + op;
                    testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__,
                                          __LINE__, [=]() -> testing::Test* {
                                              return new GoldenConv2d(path, dtype, device, algo);
                                          });
                }
            }
        }
    }
    return true;
}

}  // namespace wtconv::test
