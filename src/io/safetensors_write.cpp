// Writing safetensors: the header built and checked in memory first, then the bytes written to a
// temporary beside the destination and renamed into place.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include <wtconv/error.h>
#include <wtconv/io/safetensors.h>

#include "io/safetensors_format.h"

namespace wtconv::io {

namespace {

using detail::errno_text;
using detail::fail;
using detail::kMetadataKey;

// The temporary beside the destination; removed unless commit() has renamed it into place.
class TempFile {
public:
    explicit TempFile(const std::string& dest) : dest_(dest) {
        // Another process may write the same destination at once; "x" never reuses a name.
        for (int attempt = 0; attempt < 16 && file_ == nullptr; ++attempt) {
            path_ = dest + ".tmp-" + random_suffix();
            file_ = std::fopen(path_.c_str(), "wbx");
            if (file_ == nullptr && errno != EEXIST) {
                break;
            }
        }
        if (file_ == nullptr) {
            const int err = errno;
            fail(ErrorCode::kIo, dest_, "cannot create the temporary ", path_,
                 ", expected a writable directory, got ", errno_text(err));
        }
    }
    ~TempFile() {
        if (file_ != nullptr) {
            std::fclose(file_);
        }
        if (!committed_) {
            std::remove(path_.c_str());
        }
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    void write(const void* bytes, std::size_t n) {
        if (n > 0 && std::fwrite(bytes, 1, n, file_) != n) {
            const int err = errno;
            fail(ErrorCode::kIo, dest_, "write to ", path_, " failed, expected ", n,
                 " bytes written, got ", errno_text(err));
        }
    }

    void commit() {
        std::FILE* file = file_;
        file_ = nullptr;
        // A full disk may only show at the flush or the close, so both are checked.
        int err = 0;
        if (std::fflush(file) != 0 || std::ferror(file) != 0) {
            err = errno != 0 ? errno : EIO;
        }
        if (std::fclose(file) != 0 && err == 0) {
            err = errno != 0 ? errno : EIO;
        }
        if (err != 0) {
            fail(ErrorCode::kIo, dest_, "flushing and closing ", path_,
                 " failed, expected the data on disk, got ", errno_text(err));
        }
        if (std::rename(path_.c_str(), dest_.c_str()) != 0) {
            err = errno;
            fail(ErrorCode::kIo, dest_, "renaming ", path_,
                 " into place failed, expected a replaceable file, got ", errno_text(err));
        }
        committed_ = true;
    }

private:
    static std::string random_suffix() {
        // C++17 has no getpid(): mix the clock with random_device, which may be unavailable.
        std::uint64_t x =
            static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        try {
            std::random_device rd;
            x ^= (std::uint64_t{rd()} << 32) ^ rd();
        } catch (const std::exception&) {
        }
        char text[17];
        std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(x));
        return text;
    }

    std::string dest_;
    std::string path_;
    std::FILE* file_ = nullptr;
    bool committed_ = false;
};

}  // namespace

void write_safetensors(const std::string& path,
                       const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    // Arguments are checked and the header built before any file is created. ordered_json keeps
    // the metadata first and the tensors in name order, as the reference writer does.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        header[kMetadataKey] = metadata;
    }
    std::vector<Tensor> host;
    host.reserve(tensors.size());
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (name == kMetadataKey) {
            fail(ErrorCode::kBadArgument, path, "tensor name ", kMetadataKey,
                 " is reserved, expected another name, got ", kMetadataKey);
        }
        if (!t.defined()) {
            fail(ErrorCode::kBadArgument, path, "tensor '", name,
                 "' is undefined, expected a defined tensor, got Tensor()");
        }
        const char* code = detail::code_of(t.dtype());
        if (code == nullptr) {
            fail(ErrorCode::kNotSupported, path, "tensor '", name, "' dtype ",
                 dtype_name(t.dtype()), " has no safetensors code yet, expected one of ",
                 detail::supported_codes(), ", got ", dtype_name(t.dtype()));
        }
        host.push_back(t.device().is_cpu() ? t : t.to(Device::cpu()));
        const std::uint64_t end = offset + t.nbytes();
        header[name] = {{"dtype", code},
                        {"shape", t.shape().sizes()},
                        {"data_offsets", nlohmann::ordered_json::array({offset, end})}};
        offset = end;
    }
    std::string text;
    try {
        text = header.dump();  // throws on a string that is not UTF-8
    } catch (const nlohmann::ordered_json::exception& e) {
        fail(ErrorCode::kBadArgument, path,
             "tensor names and metadata are not all UTF-8, expected UTF-8 strings, got ", e.what());
    }
    // Padded with spaces to a multiple of 8, as the reference writer does, so the data starts
    // 8-byte aligned in a file mapped into memory.
    text.append((8 - text.size() % 8) % 8, ' ');
    std::uint8_t length[8];
    for (int i = 0; i < 8; ++i) {
        length[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(text.size()) >> (8 * i));
    }

    TempFile out(path);
    out.write(length, sizeof length);
    out.write(text.data(), text.size());
    for (const Tensor& t : host) {
        out.write(t.raw_data(), t.nbytes());
    }
    out.commit();
}

}  // namespace wtconv::io
