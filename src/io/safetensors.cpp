// Reading safetensors: an 8-byte little-endian header length, a JSON header giving each tensor's
// dtype, shape and byte range, then the raw little-endian tensor bytes. Writing is in
// safetensors_write.cpp.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wtconv/error.h>
#include <wtconv/io/safetensors.h>

#include "io/safetensors_format.h"

namespace wtconv::io {

namespace {

using detail::fail;
using detail::kMetadataKey;
using detail::supported_codes;
using nlohmann::json;

// The reference implementation refuses larger headers too: it stops a 9-byte file from making us
// allocate and parse gigabytes.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header needs 3 levels (header, entry, shape); the rest is room for unknown fields.
constexpr int kMaxDepth = 64;

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};

template <class... Parts>
[[noreturn]] void malformed(const std::string& file, const Parts&... parts) {
    fail(ErrorCode::kIo, file, parts...);
}

// A JSON value for a message: short, and never throwing on odd bytes.
std::string brief(const json& value) {
    constexpr std::size_t kMaxChars = 60;  // enough to recognise a value, short enough to read
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > kMaxChars) {
        text = text.substr(0, kMaxChars) + "...";
    }
    return text;
}

// A non-negative JSON integer; false for floats, negatives, strings and integers past 2^64.
bool as_unsigned(const json& value, std::uint64_t* out) {
    if (value.is_number_unsigned()) {
        *out = value.get<std::uint64_t>();
        return true;
    }
    // "-0" parses as a signed zero.
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
        *out = static_cast<std::uint64_t>(value.get<std::int64_t>());
        return true;
    }
    return false;
}

struct Entry {
    const std::string* name;
    DType dtype;
    Shape shape;
    std::uint64_t begin;  // byte range in the data buffer, [begin, end)
    std::uint64_t end;
};

const json& field(const std::string& file,
                  const std::string& name,
                  const json& entry,
                  const char* key,
                  const char* expected) {
    const auto it = entry.find(key);
    if (it == entry.end()) {
        malformed(file, "tensor '", name, "' has no ", key, ", expected ", expected, ", got ",
                  brief(entry));
    }
    return *it;
}

DType parse_dtype(const std::string& file, const std::string& name, const json& entry) {
    const json& value = field(file, name, entry, "dtype", "a string such as \"F32\"");
    if (!value.is_string()) {
        malformed(file, "tensor '", name, "' dtype is not a string, expected one of ",
                  supported_codes(), ", got ", brief(value));
    }
    const std::string& code = value.get_ref<const std::string&>();
    for (const detail::DTypeCode& c : detail::kDTypeCodes) {
        if (code == c.code) {
            return c.dtype;
        }
    }
    for (const char* other : detail::kOtherCodes) {
        if (code == other) {
            fail(ErrorCode::kNotSupported, file, "tensor '", name, "' dtype ", code,
                 " is not supported yet, expected one of ", supported_codes(), ", got ", code);
        }
    }
    malformed(file, "tensor '", name, "' dtype is unknown, expected one of ", supported_codes(),
              ", got ", brief(value));
}

Shape parse_shape(const std::string& file, const std::string& name, const json& entry) {
    const json& value = field(file, name, entry, "shape", "an array of sizes");
    if (!value.is_array()) {
        malformed(file, "tensor '", name,
                  "' shape is not an array, expected an array of sizes, got ", brief(value));
    }
    if (value.size() > static_cast<std::size_t>(Shape::kMaxRank)) {
        malformed(file, "tensor '", name, "' shape has too high a rank, expected at most ",
                  Shape::kMaxRank, " sizes, got ", value.size());
    }
    std::vector<std::int64_t> sizes;
    std::int64_t numel = 1;
    for (const json& s : value) {
        std::uint64_t size = 0;
        if (!as_unsigned(s, &size) ||
            size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            malformed(file, "tensor '", name,
                      "' shape has a bad size, expected non-negative integers, got ", brief(s),
                      " in ", brief(value));
        }
        const auto size64 = static_cast<std::int64_t>(size);
        // Same order as Shape::numel, so whatever passes here Tensor::empty accepts too.
        if (size64 != 0 && numel > std::numeric_limits<std::int64_t>::max() / size64) {
            malformed(file, "tensor '", name,
                      "' shape element count overflows, expected a product below 2^63, got ",
                      brief(value));
        }
        numel *= size64;
        sizes.push_back(size64);
    }
    return Shape(std::move(sizes));
}

Entry parse_entry(const std::string& file,
                  const std::string& name,
                  const json& entry,
                  std::uint64_t buffer_size) {
    if (!entry.is_object()) {
        malformed(file, "tensor '", name,
                  "' entry is not an object, expected {\"dtype\", \"shape\", \"data_offsets\"}, "
                  "got ",
                  brief(entry));
    }
    Entry e{&name, parse_dtype(file, name, entry), parse_shape(file, name, entry), 0, 0};

    const json& offsets = field(file, name, entry, "data_offsets", "[begin, end]");
    if (!offsets.is_array() || offsets.size() != 2 || !as_unsigned(offsets[0], &e.begin) ||
        !as_unsigned(offsets[1], &e.end)) {
        malformed(file, "tensor '", name,
                  "' data_offsets are bad, expected two non-negative integers [begin, end], got ",
                  brief(offsets));
    }
    if (e.begin > e.end) {
        malformed(file, "tensor '", name,
                  "' data_offsets are reversed, expected begin <= end, got ", brief(offsets));
    }
    if (e.end > buffer_size) {
        malformed(file, "tensor '", name,
                  "' data_offsets run past the end of the data, expected end <= ", buffer_size,
                  ", got ", brief(offsets));
    }
    // Compared by division, so numel * itemsize never overflows.
    const auto numel = static_cast<std::uint64_t>(e.shape.numel());
    const std::uint64_t item = dtype_size(e.dtype);
    const std::uint64_t span = e.end - e.begin;
    if (span % item != 0 || span / item != numel) {
        malformed(file, "tensor '", name, "' data_offsets span disagrees with the shape, expected ",
                  numel, " x ", item, " bytes for shape ", e.shape, ", got ", span, " bytes");
    }
    return e;
}

std::map<std::string, std::string> parse_metadata(const std::string& file, const json& value) {
    if (!value.is_object()) {
        malformed(file, kMetadataKey, " is not an object, expected a map of strings, got ",
                  brief(value));
    }
    std::map<std::string, std::string> metadata;
    for (const auto& item : value.items()) {
        if (!item.value().is_string()) {
            malformed(file, kMetadataKey, " value of '", item.key(),
                      "' is not a string, expected a string, got ", brief(item.value()));
        }
        metadata.emplace(item.key(), item.value().get<std::string>());
    }
    return metadata;
}

// Two tensors sharing bytes would alias once loaded (and one was likely written over the other).
// Empty ranges hold no bytes, so they may sit anywhere.
void check_disjoint(const std::string& file, std::vector<const Entry*> entries) {
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [](const Entry* e) { return e->begin == e->end; }),
                  entries.end());
    std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    const Entry* reach = nullptr;  // the range reaching furthest so far
    for (const Entry* e : entries) {
        if (reach != nullptr && e->begin < reach->end) {
            malformed(file, "tensors '", *reach->name, "' and '", *e->name,
                      "' overlap, expected disjoint byte ranges, got [", reach->begin, ", ",
                      reach->end, ") and [", e->begin, ", ", e->end, ")");
        }
        if (reach == nullptr || e->end > reach->end) {
            reach = e;
        }
    }
}

}  // namespace

SafetensorsFile parse_safetensors(const std::uint8_t* data,
                                  std::size_t size,
                                  const std::string& name) {
    if (size < 8) {
        malformed(name, "file is too short for the header length, expected at least 8 bytes, got ",
                  size);
    }
    std::uint64_t header_bytes = 0;
    for (int i = 7; i >= 0; --i) {
        header_bytes = (header_bytes << 8) | data[i];
    }
    if (header_bytes > kMaxHeaderBytes) {
        malformed(name, "header length is absurd, expected at most ", kMaxHeaderBytes,
                  " bytes, got ", header_bytes);
    }
    if (header_bytes > size - 8) {
        malformed(name, "header length runs past the end of the file, expected at most ", size - 8,
                  " bytes, got ", header_bytes);
    }
    const std::uint8_t* header_begin = data + 8;
    const std::uint8_t* buffer = header_begin + header_bytes;
    const std::uint64_t buffer_size = size - 8 - header_bytes;

    // Values nested deeper than kMaxDepth are dropped while parsing and the header refused: json's
    // dump and copy recurse once per level, so a header of 10^7 '[' would overflow the stack.
    bool too_deep = false;
    const auto limit_depth = [&too_deep](int depth, json::parse_event_t event, json&) {
        const bool opens =
            event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
        too_deep = too_deep || (opens && depth >= kMaxDepth);
        return !(opens && depth >= kMaxDepth);
    };
    json header;
    try {
        header = json::parse(header_begin, buffer, limit_depth);
    } catch (const json::exception& e) {
        malformed(name, "header is not valid JSON, expected a UTF-8 JSON object, got ", e.what());
    }
    if (too_deep) {
        malformed(name, "header nests too deeply, expected at most ", kMaxDepth,
                  " levels of arrays and objects, got more");
    }
    if (!header.is_object()) {
        malformed(name, "header is not a JSON object, expected {\"name\": {...}, ...}, got ",
                  brief(header));
    }

    // Everything is checked before the first tensor is allocated.
    SafetensorsFile out;
    std::vector<Entry> entries;
    entries.reserve(header.size());
    for (const auto& item : header.items()) {
        if (item.key() == kMetadataKey) {
            out.metadata = parse_metadata(name, item.value());
        } else {
            entries.push_back(parse_entry(name, item.key(), item.value(), buffer_size));
        }
    }
    std::vector<const Entry*> ranges;
    ranges.reserve(entries.size());
    for (const Entry& e : entries) {
        ranges.push_back(&e);
    }
    check_disjoint(name, std::move(ranges));

    for (const Entry& e : entries) {
        Tensor t = Tensor::empty(e.shape, e.dtype);
        if (t.nbytes() > 0) {
            std::memcpy(t.raw_data(), buffer + e.begin, t.nbytes());
        }
        out.tensors.emplace(*e.name, std::move(t));
    }
    return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
    const std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (file == nullptr) {
        const int err = errno;
        fail(ErrorCode::kIo, path, "cannot open the file, expected a readable file, got ",
             detail::errno_text(err));
    }
    // Read in chunks up to EOF rather than trusting a size taken beforehand; that size only saves
    // reallocations.
    constexpr std::size_t kChunk = std::size_t{1} << 20;
    std::vector<std::uint8_t> bytes;
    std::error_code ec;
    const std::uintmax_t expected = std::filesystem::file_size(path, ec);
    if (!ec && expected < bytes.max_size() - kChunk) {
        bytes.reserve(static_cast<std::size_t>(expected) + kChunk);  // room for the last read
    }
    std::size_t got = 0;
    do {
        bytes.resize(got + kChunk);
        got += std::fread(bytes.data() + got, 1, kChunk, file.get());
    } while (got == bytes.size());
    if (std::ferror(file.get()) != 0) {
        const int err = errno != 0 ? errno : EIO;
        fail(ErrorCode::kIo, path, "read failed, expected the whole file, got ",
             detail::errno_text(err), " after ", got, " bytes");
    }
    bytes.resize(got);
    return parse_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace wtconv::io
