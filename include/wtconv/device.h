#pragma once
// Where a tensor lives: the host, or one CUDA device by index.
#include <cstdint>
#include <ostream>
#include <string>

namespace wtconv {

enum class DeviceType : std::uint8_t { kCpu, kCuda };

struct Device {
    DeviceType type = DeviceType::kCpu;
    int index = 0;  // CUDA device ordinal; always 0 for the CPU

    static Device cpu() { return Device{DeviceType::kCpu, 0}; }
    static Device cuda(int index = 0) { return Device{DeviceType::kCuda, index}; }
    bool is_cpu() const { return type == DeviceType::kCpu; }
    bool is_cuda() const { return type == DeviceType::kCuda; }
    std::string str() const;  // "cpu", "cuda:0"
};

inline bool operator==(const Device& a, const Device& b) {
    return a.type == b.type && a.index == b.index;
}
inline bool operator!=(const Device& a, const Device& b) {
    return !(a == b);
}
std::ostream& operator<<(std::ostream& out, const Device& device);

// True when the library was built with CUDA support (nvcc found and WTCONV_CUDA not OFF).
bool cuda_built();
// Number of CUDA devices usable now: 0 without CUDA support, without a GPU or without a driver.
int cuda_device_count();
// Waits until all work queued on device (on every stream) is done, e.g. before reading a clock;
// returns at once for the CPU. Throws Error(kBadArgument) for a CUDA device that is not there.
void synchronize(Device device);

}  // namespace wtconv
