// safetensors: round trips of every rank and dtype, a golden file, the writer's exact layout, and
// writes that fail without touching the destination or leaving temporaries. Malformed files are
// in test_safetensors_malformed.cpp.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/io/safetensors.h>

#include "support/safetensors_support.h"

#ifndef WTCONV_DEFAULT_GOLDEN_DIR
#error "define WTCONV_DEFAULT_GOLDEN_DIR as the golden folder, a string literal"
#endif

namespace wtconv::io::test {
namespace {

std::string golden_dir() {
    const char* env = std::getenv("WTCONV_GOLDEN_DIR");
    return env != nullptr && *env != '\0' ? std::string(env)
                                          : std::string(WTCONV_DEFAULT_GOLDEN_DIR);
}

class SafetensorsRoundTrip : public TempDirTest {};
class SafetensorsAtomicWrite : public TempDirTest {};

// Distinct values per tensor, with the bit patterns a lossy copy would change.
template <class T>
Tensor patterned(const Shape& shape, int seed) {
    std::vector<T> values(static_cast<std::size_t>(shape.numel()));
    const T special[] = {T(-0.0), std::numeric_limits<T>::infinity(),
                         std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::denorm_min()};
    for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = i < 4 ? special[i] : static_cast<T>(seed) + static_cast<T>(i) / T(7);
    }
    return Tensor::from_vector(values, shape);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    return a.dtype() == b.dtype() && a.shape() == b.shape() && a.device() == b.device() &&
           std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

TEST_F(SafetensorsRoundTrip, EveryRankAndDtypeWithZeroSizesAndMetadataComesBackBitExact) {
    // Every rank, each once with sizes 1..3 and once with a zero size in the middle.
    std::map<std::string, Tensor> tensors;
    for (int rank = 0; rank <= Shape::kMaxRank; ++rank) {
        std::vector<std::int64_t> sizes;
        for (int d = 0; d < rank; ++d) {
            sizes.push_back(1 + (d + rank) % 3);
        }
        const std::string r = std::to_string(rank);
        tensors["f32_" + r] = patterned<float>(Shape(sizes), rank);
        tensors["f64_" + r] = patterned<double>(Shape(sizes), rank);
        tensors["f16_" + r] = patterned<double>(Shape(sizes), rank).to(DType::kFloat16);
        tensors["bf16_" + r] = patterned<double>(Shape(sizes), rank).to(DType::kBFloat16);
        // Integers saturate: the patterned values (NaN, +-Inf, 1e300, ...) reach both ends.
        tensors["i8_" + r] = patterned<double>(Shape(sizes), rank).to(DType::kInt8);
        tensors["u8_" + r] = patterned<double>(Shape(sizes), rank).to(DType::kUInt8);
        tensors["i32_" + r] = patterned<double>(Shape(sizes), rank).to(DType::kInt32);
        if (rank > 0) {
            sizes[static_cast<std::size_t>(rank / 2)] = 0;
            tensors["f32_zero_" + r] = patterned<float>(Shape(sizes), rank);
            tensors["f64_zero_" + r] = patterned<double>(Shape(sizes), rank);
        }
    }
    const std::map<std::string, std::string> metadata = {
        {"op", "wtconv2d"}, {"empty", ""}, {"unicode", "\xce\xbb=1"}};
    const std::string path = (dir_ / "all.safetensors").string();
    write_safetensors(path, tensors, metadata);

    const SafetensorsFile got = read_safetensors(path);
    EXPECT_EQ(got.metadata, metadata);
    ASSERT_EQ(got.tensors.size(), tensors.size());
    for (const auto& [name, want] : tensors) {
        ASSERT_EQ(got.tensors.count(name), 1u) << name;
        EXPECT_TRUE(same_bytes(got.tensors.at(name), want)) << name << " " << want.shape();
    }
}

TEST_F(SafetensorsRoundTrip, WriterPacksByNamePadsWithSpacesAndOmitsEmptyMetadata) {
    const std::string path = (dir_ / "layout.safetensors").string();
    write_safetensors(path, {{"b", patterned<double>({1}, 1)}, {"a", patterned<float>({2}, 2)}});
    const std::string want = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})";
    const std::string padded = want + std::string((8 - want.size() % 8) % 8, ' ');
    const Bytes got = read_bytes(path);
    ASSERT_EQ(got.size(), 8 + padded.size() + 16);
    EXPECT_EQ(Bytes(got.begin(), got.end() - 16), image(padded));

    write_safetensors(path, {{"a", patterned<float>({2}, 2)}}, {{"k", "v"}});
    const Bytes with_metadata = read_bytes(path);
    const std::string header(with_metadata.begin() + 8, with_metadata.end() - 8);
    EXPECT_EQ(header.rfind(R"({"__metadata__":{"k":"v"},"a":)", 0), 0u) << header;
    EXPECT_EQ(header.size() % 8, 0u);
}

TEST_F(SafetensorsRoundTrip, ReaderAcceptsGapsTrailingBytesAndEmptyRangesAnywhere) {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
        R"("e":{"dtype":"F64","shape":[0,3],"data_offsets":[6,6]},"__metadata__":{}})"
        "   ";
    const Bytes bytes = image(header, 12);
    const SafetensorsFile got = parse_safetensors(bytes.data(), bytes.size(), "gaps");
    ASSERT_EQ(got.tensors.size(), 2u);
    EXPECT_EQ(got.tensors.at("e").shape(), Shape({0, 3}));
    EXPECT_TRUE(got.metadata.empty());
}

TEST_F(SafetensorsRoundTrip, CudaTensorsAreWrittenFromTheHost) {
    if (cuda_device_count() == 0) {
        GTEST_SKIP() << "no CUDA device";
    }
    const Tensor host = patterned<float>({3, 4}, 3);
    const std::string path = (dir_ / "cuda.safetensors").string();
    write_safetensors(path, {{"x", host.to(Device::cuda())}});
    EXPECT_TRUE(same_bytes(read_safetensors(path).tensors.at("x"), host));
}

TEST_F(SafetensorsRoundTrip, GoldenWtconv2dCaseHasItsMetadataAndShapes) {
    const std::string path = golden_dir() + "/wtconv2d/p01_db1_n1c1_8x8_k3_lv1_s1_bias.safetensors";
    const SafetensorsFile f = read_safetensors(path);
    EXPECT_EQ(f.metadata.at("op"), "wtconv2d");
    EXPECT_EQ(f.metadata.at("case"), "p01_db1_n1c1_8x8_k3_lv1_s1_bias");
    EXPECT_EQ(f.metadata.at("kernel_size"), "3");
    std::string shapes;  // every tensor's name and shape, in name order
    for (const auto& [name, t] : f.tensors) {
        EXPECT_EQ(t.dtype(), DType::kFloat64) << name;
        shapes += name + t.shape().str() + " ";
    }
    EXPECT_EQ(shapes,
              "base_bias(1,) base_scale(1,) base_weight(1, 1, 3, 3) grad_base_bias(1,) "
              "grad_base_scale(1,) grad_base_weight(1, 1, 3, 3) grad_wavelet_scale_0(4,) "
              "grad_wavelet_weight_0(4, 1, 3, 3) grad_x(1, 1, 8, 8) grad_y(1, 1, 8, 8) "
              "wavelet_scale_0(4,) wavelet_weight_0(4, 1, 3, 3) x(1, 1, 8, 8) y(1, 1, 8, 8) ");

    // Our writer's version of the same file reads back identically.
    const std::string copy = (dir_ / "copy.safetensors").string();
    write_safetensors(copy, f.tensors, f.metadata);
    const SafetensorsFile again = read_safetensors(copy);
    EXPECT_EQ(again.metadata, f.metadata);
    for (const auto& [name, t] : f.tensors) {
        EXPECT_TRUE(same_bytes(again.tensors.at(name), t)) << name;
    }
}

// ---- malformed input: each names the file and the fault ---------------------------------------

// ---- atomic writes ----------------------------------------------------------------------------

TEST_F(SafetensorsAtomicWrite, MissingDirectoryThrowsIoAndCreatesNothing) {
    const std::string path = (dir_ / "no_such_dir" / "w.safetensors").string();
    const std::map<std::string, Tensor> tensors = {{"x", patterned<float>({2}, 1)}};
    EXPECT_TRUE(throws([&] { write_safetensors(path, tensors); }, kIo, path, "cannot create"));
    EXPECT_TRUE(list_dir(dir_).empty());
}

TEST_F(SafetensorsAtomicWrite, OverwriteReplacesTheFileAndLeavesNoTemporary) {
    const std::string path = (dir_ / "w.safetensors").string();
    write_safetensors(path, {{"x", patterned<float>({2}, 1)}});
    write_safetensors(path, {{"y", patterned<double>({3}, 2)}}, {{"k", "v"}});
    const SafetensorsFile got = read_safetensors(path);
    EXPECT_EQ(got.tensors.count("x"), 0u);
    EXPECT_TRUE(same_bytes(got.tensors.at("y"), patterned<double>({3}, 2)));
    EXPECT_EQ(list_dir(dir_), std::vector<std::string>{"w.safetensors"});
}

// The rename onto a non-empty directory fails after the temporary is fully written: the one
// late failure a test can cause without privileges (root ignores read-only directories).
TEST_F(SafetensorsAtomicWrite, FailedRenameKeepsTheDestinationAndRemovesTheTemporary) {
    const fs::path dest = dir_ / "d.safetensors";
    fs::create_directory(dest);
    std::ofstream(dest / "keep") << "keep";
    const std::map<std::string, Tensor> tensors = {{"x", patterned<float>({4}, 1)}};
    EXPECT_TRUE(
        throws([&] { write_safetensors(dest.string(), tensors); }, kIo, dest.string(), "renaming"));
    EXPECT_EQ(list_dir(dir_), std::vector<std::string>{"d.safetensors"});
    EXPECT_EQ(list_dir(dest), std::vector<std::string>{"keep"});
}

TEST_F(SafetensorsAtomicWrite, BadArgumentsLeaveTheExistingFileUntouched) {
    const fs::path path = dir_ / "w.safetensors";
    write_safetensors(path.string(), {{"x", patterned<float>({2}, 1)}});
    const Bytes before = read_bytes(path);
    const std::map<std::string, Tensor> bad[] = {{{"a", patterned<float>({1}, 1)}, {"b", Tensor()}},
                                                 {{"__metadata__", patterned<float>({1}, 1)}},
                                                 {{"bad\xff", patterned<float>({1}, 1)}}};
    for (const auto& tensors : bad) {
        EXPECT_TRUE(throws([&] { write_safetensors(path.string(), tensors); },
                           ErrorCode::kBadArgument, path.string(), "expected"));
    }
    const std::map<std::string, std::string> metadata = {{"k", "\xc3"}};
    EXPECT_TRUE(throws([&] { write_safetensors(path.string(), {}, metadata); },
                       ErrorCode::kBadArgument, path.string(), "UTF-8"));
    EXPECT_EQ(read_bytes(path), before);
    EXPECT_EQ(list_dir(dir_), std::vector<std::string>{"w.safetensors"});
}

}  // namespace
}  // namespace wtconv::io::test
