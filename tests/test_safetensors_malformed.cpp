// safetensors: one test per way a file can be malformed; each checks the error code and that the
// message names the file and the fault.
#include <cstdint>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include <wtconv/io/safetensors.h>

#include "support/safetensors_support.h"

namespace wtconv::io::test {
namespace {

class SafetensorsMalformed : public TempDirTest {};

const char* const kName = "case.safetensors";

testing::AssertionResult fails_with(const Bytes& bytes, ErrorCode code, const std::string& word) {
    return throws([&] { parse_safetensors(bytes.data(), bytes.size(), kName); }, code, kName, word);
}

// One tensor entry whose dtype, shape and offsets are given as JSON text, with data_bytes of data.
Bytes one(const std::string& dtype,
          const std::string& shape,
          const std::string& offsets,
          std::size_t data_bytes = 64) {
    return image(R"({"t":{"dtype":)" + dtype + R"(,"shape":)" + shape + R"(,"data_offsets":)" +
                     offsets + "}}",
                 data_bytes);
}

TEST_F(SafetensorsMalformed, FileShorterThanEightBytes) {
    EXPECT_TRUE(fails_with(Bytes{1, 0, 0}, kIo, "too short"));
    EXPECT_TRUE(fails_with(Bytes{}, kIo, "too short"));
}

TEST_F(SafetensorsMalformed, HeaderLengthPastTheEndOfTheFile) {
    EXPECT_TRUE(fails_with(image("{}", 0, 3), kIo, "header length runs past the end"));
}

TEST_F(SafetensorsMalformed, AbsurdHeaderLength) {
    EXPECT_TRUE(fails_with(image("{}", 0, 100'000'001), kIo, "header length is absurd"));
    EXPECT_TRUE(fails_with(image("{}", 0, ~std::uint64_t{0}), kIo, "header length is absurd"));
}

TEST_F(SafetensorsMalformed, HeaderNotJson) {
    EXPECT_TRUE(fails_with(image("{\"t\": "), kIo, "not valid JSON"));
    EXPECT_TRUE(fails_with(image(""), kIo, "not valid JSON"));
    EXPECT_TRUE(fails_with(image("{} trailing"), kIo, "not valid JSON"));
}

TEST_F(SafetensorsMalformed, HeaderNotUtf8) {
    EXPECT_TRUE(fails_with(image("{\"t\xff\xfe\":{}}"), kIo, "not valid JSON"));
}

// Refused while parsing: printing such a value for a message would recurse once per level.
TEST_F(SafetensorsMalformed, HeaderNestsTooDeeply) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_TRUE(fails_with(image(R"({"t":)" + deep + "}"), kIo, "nests too deeply"));
    EXPECT_TRUE(fails_with(image(deep), kIo, "nests too deeply"));
    // Unknown fields are ignored, nested or not.
    const Bytes extra =
        image(R"({"t":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":[[{}]]}})", 4);
    EXPECT_NO_THROW(parse_safetensors(extra.data(), extra.size(), kName));
}

TEST_F(SafetensorsMalformed, HeaderNotAnObject) {
    EXPECT_TRUE(fails_with(image("[1, 2]"), kIo, "not a JSON object"));
    EXPECT_TRUE(fails_with(image("\"F32\""), kIo, "not a JSON object"));
}

TEST_F(SafetensorsMalformed, EntryNotAnObject) {
    EXPECT_TRUE(fails_with(image(R"({"t": [0, 4]})"), kIo, "entry is not an object"));
}

TEST_F(SafetensorsMalformed, MissingFields) {
    EXPECT_TRUE(
        fails_with(image(R"({"t":{"shape":[1],"data_offsets":[0,4]}})", 4), kIo, "has no dtype"));
    EXPECT_TRUE(
        fails_with(image(R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", 4), kIo, "has no shape"));
    EXPECT_TRUE(
        fails_with(image(R"({"t":{"dtype":"F32","shape":[1]}})", 4), kIo, "has no data_offsets"));
}

TEST_F(SafetensorsMalformed, WronglyTypedFields) {
    EXPECT_TRUE(fails_with(one("32", "[1]", "[0,4]"), kIo, "dtype is not a string"));
    EXPECT_TRUE(fails_with(one("\"F32\"", "4", "[0,16]"), kIo, "shape is not an array"));
    EXPECT_TRUE(fails_with(one("\"F32\"", "[1]", "\"0,4\""), kIo, "data_offsets are bad"));
}

TEST_F(SafetensorsMalformed, UnknownDtype) {
    EXPECT_TRUE(fails_with(one("\"F33\"", "[1]", "[0,4]"), kIo, "dtype is unknown"));
    EXPECT_TRUE(fails_with(one("\"f32\"", "[1]", "[0,4]"), kIo, "dtype is unknown"));
}

// A valid file in a dtype wtconv lacks is a request this build cannot serve, not a corrupt file.
TEST_F(SafetensorsMalformed, KnownButUnsupportedDtype) {
    for (const char* code : {"I16", "U32", "I64", "BOOL", "F8_E4M3"}) {
        EXPECT_TRUE(fails_with(one(std::string("\"") + code + "\"", "[2]", "[0,2]"),
                               ErrorCode::kNotSupported, "not supported yet"))
            << code;
    }
}

TEST_F(SafetensorsMalformed, NegativeShapeEntry) {
    EXPECT_TRUE(fails_with(one("\"F32\"", "[2,-1]", "[0,0]"), kIo, "shape has a bad size"));
}

TEST_F(SafetensorsMalformed, NonIntegerShapeEntry) {
    for (const char* shape : {"[1.5]", "[1.0]", "[\"2\"]", "[true]", "[null]", "[[1]]",
                              "[9223372036854775808]", "[18446744073709551616]"}) {
        EXPECT_TRUE(fails_with(one("\"F32\"", shape, "[0,4]"), kIo, "shape has a bad size"))
            << shape;
    }
}

TEST_F(SafetensorsMalformed, RankAboveSix) {
    EXPECT_TRUE(fails_with(one("\"F32\"", "[1,1,1,1,1,1,1]", "[0,4]"), kIo, "rank"));
}

TEST_F(SafetensorsMalformed, ElementCountOverflow) {
    EXPECT_TRUE(fails_with(one("\"F32\"", "[4294967296,4294967296]", "[0,0]"), kIo, "overflows"));
    // Shape::numel refuses this too, though the last size makes the product zero.
    EXPECT_TRUE(fails_with(one("\"F64\"", "[4294967296,4294967296,0]", "[0,0]"), kIo, "overflows"));
}

TEST_F(SafetensorsMalformed, DataOffsetsNotTwoNonNegativeIntegers) {
    for (const char* offsets : {"[4]", "[0,4,8]", "[]", "[-4,0]", "[0,4.0]", "[0,\"4\"]", "{}",
                                "[0,18446744073709551616]"}) {
        EXPECT_TRUE(fails_with(one("\"F32\"", "[1]", offsets), kIo, "data_offsets are bad"))
            << offsets;
    }
}

TEST_F(SafetensorsMalformed, DataOffsetsReversed) {
    EXPECT_TRUE(fails_with(one("\"F32\"", "[1]", "[8,4]"), kIo, "reversed"));
}

TEST_F(SafetensorsMalformed, DataOffsetsPastTheBuffer) {
    EXPECT_TRUE(fails_with(one("\"F32\"", "[2]", "[0,8]", 7), kIo, "past the end of the data"));
    EXPECT_TRUE(fails_with(one("\"F32\"", "[1]", "[18446744073709551611,18446744073709551615]"),
                           kIo, "past the end of the data"));
}

TEST_F(SafetensorsMalformed, ByteCountDisagreesWithShape) {
    EXPECT_TRUE(fails_with(one("\"F32\"", "[2]", "[0,4]"), kIo, "disagrees with the shape"));
    EXPECT_TRUE(fails_with(one("\"F64\"", "[1]", "[0,4]"), kIo, "disagrees with the shape"));
    EXPECT_TRUE(fails_with(one("\"F32\"", "[0]", "[0,4]"), kIo, "disagrees with the shape"));
}

TEST_F(SafetensorsMalformed, OverlappingTensors) {
    // a holds [0, 8); b, of the given shape, holds offsets.
    const auto pair = [](const std::string& shape, const std::string& offsets) {
        return image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32",)"
                     R"("shape":)" +
                         shape + R"(,"data_offsets":)" + offsets + "}}",
                     16);
    };
    EXPECT_TRUE(fails_with(pair("[2]", "[4,12]"), kIo, "overlap"));
    EXPECT_TRUE(fails_with(pair("[1]", "[4,8]"), kIo, "overlap"));
    EXPECT_TRUE(fails_with(pair("[2]", "[0,8]"), kIo, "overlap"));
    const Bytes adjacent = pair("[2]", "[8,16]");
    EXPECT_NO_THROW(parse_safetensors(adjacent.data(), adjacent.size(), kName));
}

TEST_F(SafetensorsMalformed, MetadataNotAMapOfStrings) {
    EXPECT_TRUE(
        fails_with(image(R"({"__metadata__":["op"]})"), kIo, "__metadata__ is not an object"));
    EXPECT_TRUE(fails_with(image(R"({"__metadata__":{"op":"x","N":1}})"), kIo, "is not a string"));
    EXPECT_TRUE(fails_with(image(R"({"__metadata__":{"op":null}})"), kIo, "is not a string"));
}

TEST_F(SafetensorsMalformed, FilesNameThemselvesInMessages) {
    const fs::path path = dir_ / "short.safetensors";
    std::ofstream(path, std::ios::binary) << "abc";
    const std::string missing = (dir_ / "missing.safetensors").string();
    EXPECT_TRUE(throws([&] { read_safetensors(path.string()); }, kIo, path.string(), "too short"));
    EXPECT_TRUE(throws([&] { read_safetensors(missing); }, kIo, missing, "cannot open"));
    EXPECT_TRUE(
        throws([&] { read_safetensors(dir_.string()); }, kIo, dir_.string(), "read failed"));
}

}  // namespace
}  // namespace wtconv::io::test
