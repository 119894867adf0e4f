#pragma once
// What the golden test's per-op files share: reading a case's metadata and tensors, the tolerance
// golden/README.md sets, and the registrar each op file provides.
#include <string>
#include <vector>

#include <wtconv/io/safetensors.h>

namespace wtconv::test {

// golden/README.md: below 1e-5 relative L2 in float32, below 1e-12 in float64.
inline double golden_tolerance(DType dtype) {
    return dtype == DType::kFloat32 ? 1e-5 : 1e-12;
}

// The case's metadata value or tensor; a missing one fails the case (throws Error).
const std::string& golden_meta(const io::SafetensorsFile& f, const std::string& key);
const Tensor& golden_tensor(const io::SafetensorsFile& f, const std::string& name);
bool golden_has(const io::SafetensorsFile& f, const std::string& name);

// Registers one gtest per (case, dtype, device, algorithm) the library runs for the cases of one
// op (paths sorted). Returns false when the library does not implement the op yet: its cases are
// then reported as skipped, by name.
using GoldenRegistrar = bool (*)(const std::string& op, const std::vector<std::string>& paths);

bool register_golden_wtconv(const std::string& op, const std::vector<std::string>& paths);
bool register_golden_conv2d(const std::string& op, const std::vector<std::string>& paths);
bool register_golden_fake_quant(const std::string& op, const std::vector<std::string>& paths);
bool register_golden_dwt(const std::string& op, const std::vector<std::string>& paths);
bool register_golden_prune(const std::string& op, const std::vector<std::string>& paths);
bool register_golden_wavkan(const std::string& op, const std::vector<std::string>& paths);

}  // namespace wtconv::test
