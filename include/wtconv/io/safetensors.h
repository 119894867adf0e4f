#pragma once
// Reading and writing safetensors files (https://github.com/huggingface/safetensors): named host
// tensors plus a string-to-string metadata map. The golden test cases use this format.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include <wtconv/tensor.h>

namespace wtconv::io {

struct SafetensorsFile {
    std::map<std::string, Tensor> tensors;        // host tensors, by name
    std::map<std::string, std::string> metadata;  // the header's "__metadata__" map
};

// Reads the whole file and parses it with parse_safetensors. Throws Error(kIo) naming the file
// when it cannot be read or is malformed, and Error(kNotSupported) for a dtype that safetensors
// knows but wtconv does not support yet (F16, BF16, I8, ...).
SafetensorsFile read_safetensors(const std::string& path);

// Parses a safetensors image held in memory; name stands for the file in error messages. Every
// malformed input throws Error (kIo, or kNotSupported as above): it never reads out of bounds.
SafetensorsFile parse_safetensors(const std::uint8_t* data,
                                  std::size_t size,
                                  const std::string& name);

// Writes tensors (sorted by name, packed contiguously; CUDA tensors are copied to the host first)
// and metadata (stored under "__metadata__" when non-empty). The bytes go to a temporary file
// beside path that is renamed into place only once complete, so a failed write leaves path as it
// was and no temporary behind. Throws Error(kBadArgument) for an undefined tensor, the reserved
// name "__metadata__" or a name or metadata string that is not UTF-8, before touching any file,
// and Error(kIo) naming the file when the file system fails. The rename makes the replacement
// atomic; durability across a power loss (fsync) is not attempted.
void write_safetensors(const std::string& path,
                       const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace wtconv::io
