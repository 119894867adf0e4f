// Golden cases of dwt2d (COMPRESSION.md 7.1): wavedec2 of x against every stored coefficient
// array, and waverec2 (of our coefficients and of the stored ones) against x_rec, in float64 and
// float32 on the CPU (the only dwt backend). A case the library cannot run fails.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include <wtconv/ops/dwt.h>

#include "golden_ops/golden_support.h"
#include "support/test_support.h"

namespace wtconv::test {
namespace {

namespace fs = std::filesystem;

void run_dwt_case(const std::string& path, DType dtype) {
    const io::SafetensorsFile f = io::read_safetensors(path);
    const std::string wavelet = golden_meta(f, "wavelet");
    const DwtMode mode = dwt_mode_from_name(golden_meta(f, "mode"));
    const int level = std::stoi(golden_meta(f, "level"));
    const std::int64_t h = std::stoll(golden_meta(f, "H"));
    const std::int64_t w = std::stoll(golden_meta(f, "W"));

    // Every stored tensor must be one this op expects: an unknown one means a case we misread.
    std::set<std::string> expected{"x", "cA", "x_rec"};
    for (int j = 1; j <= level; ++j) {
        for (const char* band : {"cH_", "cV_", "cD_"}) {
            expected.insert(band + std::to_string(j));
        }
    }
    std::set<std::string> stored;
    for (const auto& [name, t] : f.tensors) {
        stored.insert(name);
    }
    ASSERT_EQ(stored, expected) << path;
    ASSERT_EQ(golden_tensor(f, "x").shape(), (Shape{h, w})) << path;

    const double tol = golden_tolerance(dtype);
    const auto check = [&](const std::string& what, const Tensor& got, const std::string& name) {
        const Tensor want = golden_tensor(f, name);
        ASSERT_EQ(got.shape(), want.shape()) << what << " of " << path;
        EXPECT_EQ(got.dtype(), dtype) << what << " of " << path;
        EXPECT_LT(rel_l2_error(got, to_ref(want)), tol) << what << " of " << path;
    };
    const auto get = [&](const std::string& name) { return golden_tensor(f, name).to(dtype); };

    ContextOptions options;
    options.poison_outputs = true;  // an element the kernel forgets stays NaN and fails below
    Context ctx(Device::cpu(), options);
    const Dwt2Coeffs c = wavedec2(ctx, get("x"), wavelet, mode, level);
    ASSERT_EQ(c.details.size(), static_cast<std::size_t>(level)) << path;
    check("cA", c.approx, "cA");
    for (int j = 1; j <= level; ++j) {  // j = 1 is the coarsest, details[0]
        const DwtDetails& d = c.details[static_cast<std::size_t>(j - 1)];
        const std::string s = std::to_string(j);
        check("cH_" + s, d.h, "cH_" + s);
        check("cV_" + s, d.v, "cV_" + s);
        check("cD_" + s, d.d, "cD_" + s);
    }
    check("waverec2(wavedec2(x))", waverec2(ctx, c, wavelet, mode), "x_rec");

    // Synthesis alone, from the stored coefficients.
    Dwt2Coeffs stored_c;
    stored_c.approx = get("cA");
    for (int j = 1; j <= level; ++j) {
        const std::string s = std::to_string(j);
        stored_c.details.push_back(DwtDetails{get("cH_" + s), get("cV_" + s), get("cD_" + s)});
    }
    check("waverec2(stored coefficients)", waverec2(ctx, stored_c, wavelet, mode), "x_rec");
}

class GoldenDwtCase : public testing::Test {
public:
    GoldenDwtCase(std::string path, DType dtype) : path_(std::move(path)), dtype_(dtype) {}
    void TestBody() override { run_dwt_case(path_, dtype_); }

private:
    std::string path_;
    DType dtype_;
};

}  // namespace

bool register_golden_dwt(const std::string& op, const std::vector<std::string>& paths) {
    for (const std::string& path : paths) {
        const std::string stem = fs::path(path).stem().string();
        for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
            const std::string name = stem + "_" + dtype_name(dtype) + "_cpu";
            const std::string suite = "Golden_" + op;
            testing::RegisterTest(
                suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                [=]() -> testing::Test* { return new GoldenDwtCase(path, dtype); });
        }
    }
    return true;
}

}  // namespace wtconv::test
