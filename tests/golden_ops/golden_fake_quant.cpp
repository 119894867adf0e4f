// Golden cases of fake_quant (COMPRESSION.md 7.4): y and grad_x on the CPU, in float32 and
// float64. The cases were computed by PyTorch in float32 arithmetic (compute_dtype = float32), so
// float32 must match them bit for bit. float64 computes t and y in float64 (3.3): its y is the
// same quantisation level k times s without the final rounding to float32, so it is compared with
// k * s, k read off the golden y, within 1e-12 (and rounds back to the golden y exactly).
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <wtconv/ops/fake_quant.h>

#include "golden_ops/golden_support.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, ',');) {
        parts.push_back(part);
    }
    return parts;
}

int meta_int(const io::SafetensorsFile& f, const char* key) {
    return std::stoi(golden_meta(f, key));
}

// The scales are float32 values written as the shortest decimal of that double (7.4).
std::vector<float> scales_of(const io::SafetensorsFile& f) {
    std::vector<float> out;
    for (const std::string& s : split(golden_meta(f, "scale"))) {
        const double v = std::stod(s);
        WTCONV_CHECK(static_cast<double>(static_cast<float>(v)) == v, "golden: scale ", s,
                     " is not a float32 value");
        out.push_back(static_cast<float>(v));
    }
    return out;
}

QuantParams params_of(const io::SafetensorsFile& f) {
    WTCONV_CHECK(golden_meta(f, "compute_dtype") == "float32", "golden: compute_dtype must be ",
                 "float32, got ", golden_meta(f, "compute_dtype"));
    std::vector<std::int32_t> zero_points;
    for (const std::string& z : split(golden_meta(f, "zero_point"))) {
        zero_points.push_back(std::stoi(z));
    }
    const std::string scheme = golden_meta(f, "qscheme");
    const int qmin = meta_int(f, "quant_min");
    const int qmax = meta_int(f, "quant_max");
    if (scheme == "per_tensor_affine") {
        WTCONV_CHECK(zero_points.size() == 1, "golden: one zero_point expected, got ",
                     zero_points.size());
        return QuantParams::per_tensor(scales_of(f).at(0), zero_points[0], qmin, qmax);
    }
    WTCONV_CHECK(scheme == "per_channel_affine", "golden: qscheme must be per_tensor_affine or ",
                 "per_channel_affine, got ", scheme);
    return QuantParams::per_channel(scales_of(f), zero_points, meta_int(f, "axis"), qmin, qmax);
}

// The scale of each element, by the coordinate along the channel axis.
std::vector<double> element_scales(const QuantParams& q, const Shape& shape) {
    std::vector<double> out(static_cast<std::size_t>(shape.numel()), q.scale.at(0));
    if (q.scheme == QScheme::kPerChannel) {
        const int axis = q.axis < 0 ? q.axis + shape.rank() : q.axis;
        std::int64_t inner = 1;
        for (int d = axis + 1; d < shape.rank(); ++d) {
            inner *= shape[d];
        }
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i] = q.scale.at(
                static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % shape[axis]));
        }
    }
    return out;
}

// Every element of got equals want rounded to float32, the sign of zero included (NaN never
// occurs in the cases).
void expect_float32_exact(const char* what,
                          const Tensor& got,
                          const std::vector<double>& want,
                          const std::string& path) {
    const std::vector<double> g = got.to_vector();
    ASSERT_EQ(g.size(), want.size()) << what << " of " << path;
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        const auto w = static_cast<float>(want[i]);
        ASSERT_EQ(static_cast<double>(w), want[i]) << "golden " << what << " holds a non-float32";
        if (static_cast<float>(g[i]) != w || std::signbit(g[i]) != std::signbit(w)) {
            if (mismatches++ == 0) {
                ADD_FAILURE() << what << " of " << path << " differs first at " << i << ": got "
                              << g[i] << ", want " << w;
            }
        }
    }
    EXPECT_EQ(mismatches, 0u) << what << " of " << path;
}

void run_case(const std::string& path, DType dtype) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    std::set<std::string> stored;
    for (const auto& entry : f.tensors) {
        stored.insert(entry.first);
    }
    ASSERT_EQ(stored, (std::set<std::string>{"x", "grad_y", "y", "grad_x"})) << path;
    const QuantParams q = params_of(f);
    const Tensor x = golden_tensor(f, "x").to(dtype);
    ContextOptions options;
    options.poison_outputs = true;
    Context ctx(Device::cpu(), options);
    FakeQuantSaved saved;
    const Tensor y = fake_quant_forward(ctx, x, q, &saved);
    const Tensor dx = fake_quant_backward(ctx, golden_tensor(f, "grad_y").to(dtype), saved);
    const std::vector<double> want_y = golden_tensor(f, "y").to_vector();
    const std::vector<double> want_dx = golden_tensor(f, "grad_x").to_vector();
    if (dtype == DType::kFloat32) {
        expect_float32_exact("y", y, want_y, path);
        expect_float32_exact("grad_x", dx, want_dx, path);
        return;
    }
    // float64: the level k = y / s of each element (|y - k s| <= ulp(k s) / 2 << s / 2).
    const std::vector<double> s = element_scales(q, x.shape());
    ref::Array levels_times_s(x.shape().sizes());
    for (std::size_t i = 0; i < want_y.size(); ++i) {
        const double k = std::nearbyint(want_y[i] / s[i]);
        levels_times_s.data[i] = k * s[i];
        ASSERT_EQ(static_cast<double>(static_cast<float>(k * s[i])), want_y[i])
            << "golden y[" << i << "] of " << path << " is not fl32(k * s)";
    }
    EXPECT_LT(rel_l2_error(y, levels_times_s), golden_tolerance(dtype)) << "y of " << path;
    // Against the golden y itself the gap is its float32 rounding: below 2^-24 relative.
    ref::Array golden_y(x.shape().sizes());
    golden_y.data = want_y;
    EXPECT_LT(rel_l2_error(y, golden_y), 6e-8) << "y of " << path;
    ref::Array golden_dx(x.shape().sizes());
    golden_dx.data = want_dx;
    EXPECT_LT(rel_l2_error(dx, golden_dx), golden_tolerance(dtype)) << "grad_x of " << path;
}

class GoldenFakeQuant : public testing::Test {
public:
    GoldenFakeQuant(std::string path, DType dtype) : path_(std::move(path)), dtype_(dtype) {}
    void TestBody() override { run_case(path_, dtype_); }

private:
    std::string path_;
    DType dtype_;
};

}  // namespace

bool register_golden_fake_quant(const std::string& op, const std::vector<std::string>& paths) {
    const std::string suite = "Golden_" + op;
    for (const std::string& path : paths) {
        const std::string stem = fs::path(path).stem().string();
        for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
            const std::string name = stem + "_" + dtype_name(dtype) + "_cpu";
            testing::RegisterTest(
                suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                [=]() -> testing::Test* { return new GoldenFakeQuant(path, dtype); });
        }
    }
    return true;
}

}  // namespace wtconv::test
