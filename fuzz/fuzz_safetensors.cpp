// libFuzzer target for parse_safetensors. wtconv::Error is the expected answer to a malformed
// file; any other exception, a crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <wtconv/error.h>
#include <wtconv/io/safetensors.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const wtconv::io::SafetensorsFile file =
            wtconv::io::parse_safetensors(data, size, "fuzz.safetensors");
        // What a caller relies on: every tensor is a host tensor whose bytes came from the input.
        for (const auto& [name, tensor] : file.tensors) {
            if (!tensor.defined() || !tensor.device().is_cpu() || tensor.nbytes() > size) {
                std::abort();
            }
        }
    } catch (const wtconv::Error&) {
    }
    return 0;
}
