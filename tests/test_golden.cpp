// wtconv_golden_test: every golden case under $WTCONV_GOLDEN_DIR (default tests/golden), found at
// run time and grouped by its "op" metadata, handed to that op's registrar (tests/golden_ops/),
// which registers one test per dtype, device and algorithm the library runs it on. An op the
// library does not implement yet is reported as skipped by name; CUDA cases skip without a GPU.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include <wtconv/io/safetensors.h>

#include "golden_ops/golden_support.h"
#include "support/test_support.h"

namespace wtconv::test {

const std::string& golden_meta(const io::SafetensorsFile& f, const std::string& key) {
    const auto it = f.metadata.find(key);
    WTCONV_CHECK(it != f.metadata.end(), "golden: metadata key \"", key, "\" is missing");
    return it->second;
}

const Tensor& golden_tensor(const io::SafetensorsFile& f, const std::string& name) {
    const auto it = f.tensors.find(name);
    WTCONV_CHECK(it != f.tensors.end(), "golden: tensor \"", name, "\" is missing");
    return it->second;
}

bool golden_has(const io::SafetensorsFile& f, const std::string& name) {
    return f.tensors.count(name) != 0;
}

namespace {

namespace fs = std::filesystem;

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

// The op names of golden/README.md and the file that registers each.
const std::map<std::string, GoldenRegistrar>& registrars() {
    static const std::map<std::string, GoldenRegistrar> table{
        {"wtconv2d", register_golden_wtconv}, {"wtconv1d", register_golden_wtconv},
        {"conv2d", register_golden_conv2d},   {"fakequant", register_golden_fake_quant},
        {"dwt2d", register_golden_dwt},       {"prune", register_golden_prune},
        {"wavkan", register_golden_wavkan},
    };
    return table;
}

void register_cases() {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(golden_dir())) {
        if (e.is_regular_file() && e.path().extension() == ".safetensors") {
            files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::map<std::string, std::vector<std::string>> by_op;
    for (const fs::path& file : files) {
        const io::SafetensorsFile f = io::read_safetensors(file.string());
        const auto op = f.metadata.find("op");
        by_op[op == f.metadata.end() ? std::string("unnamed") : op->second].push_back(
            file.string());
    }
    for (const auto& [op, paths] : by_op) {
        const auto registrar = registrars().find(op);
        if (registrar != registrars().end() && registrar->second(op, paths)) {
            continue;
        }
        testing::RegisterTest("GoldenNotImplemented", op.c_str(), nullptr, nullptr, __FILE__,
                              __LINE__, [op = op, n = paths.size()]() -> testing::Test* {
                                  return new GoldenOpNotImplemented(op, n);
                              });
    }
}

}  // namespace
}  // namespace wtconv::test

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    wtconv::test::register_cases();
    return RUN_ALL_TESTS();
}
