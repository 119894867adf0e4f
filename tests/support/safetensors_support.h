#pragma once
// What the safetensors tests share: file images built byte by byte, a scratch directory per test,
// and a check that a call throws wtconv::Error with the expected code, file and fault.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/error.h>

namespace wtconv::io::test {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;
inline constexpr ErrorCode kIo = ErrorCode::kIo;  // the code of nearly every failure here

inline Bytes read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<std::string> list_dir(const fs::path& dir) {
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
        names.push_back(e.path().filename().string());
    }
    return names;
}

// A file image: the 8-byte little-endian length of header (or length_override), header, then
// data_bytes bytes of data.
inline Bytes image(const std::string& header,
                   std::size_t data_bytes = 0,
                   std::uint64_t length_override = 0) {
    const std::uint64_t length = length_override != 0 ? length_override : header.size();
    Bytes out;
    for (int i = 0; i < 8; ++i) {
        out.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
    }
    out.insert(out.end(), header.begin(), header.end());
    out.resize(out.size() + data_bytes, 0x5a);
    return out;
}

// A fresh directory under the system temp folder, removed with everything in it afterwards.
class TempDirTest : public testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() /
               ("wtconv_safetensors_" + std::string(info->name()) + "_" + std::to_string(rd()));
        ASSERT_TRUE(fs::create_directory(dir_)) << dir_;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    fs::path dir_;
};

// Passes when f throws Error(code) whose message starts "safetensors: <file>: " and holds word.
template <class F>
testing::AssertionResult throws(F&& f,
                                ErrorCode code,
                                const std::string& file,
                                const std::string& word) {
    try {
        f();
    } catch (const Error& e) {
        const std::string msg = e.what();
        if (e.code() != code) {
            return testing::AssertionFailure() << "code " << error_code_name(e.code()) << ", want "
                                               << error_code_name(code) << ": " << msg;
        }
        if (msg.rfind("safetensors: " + file + ": ", 0) != 0 ||
            msg.find(word) == std::string::npos) {
            return testing::AssertionFailure()
                   << "message lacks the file or '" << word << "': " << msg;
        }
        return testing::AssertionSuccess() << msg;
    } catch (const std::exception& e) {
        return testing::AssertionFailure() << "not a wtconv::Error: " << e.what();
    }
    return testing::AssertionFailure() << "no exception";
}

}  // namespace wtconv::io::test
