// Stand-ins for cuda/memory.cu in a build without CUDA: no devices, and every request for device
// memory says so instead of failing later.
#include <wtconv/error.h>

#include "core/memory.h"

namespace wtconv::cuda {

namespace {
[[noreturn]] void not_built() {
    throw Error(ErrorCode::kNotSupported,
                "tensor: device must be cpu in this build (wtconv was built without CUDA), got a "
                "CUDA tensor request");
}
}  // namespace

int device_count() noexcept {
    return 0;
}
void* device_malloc(int, std::size_t) {
    not_built();
}
void device_free(int, void*) noexcept {}
void memcpy_host_to_device(int, void*, const void*, std::size_t) {
    not_built();
}
void memcpy_device_to_host(int, void*, const void*, std::size_t) {
    not_built();
}
void memcpy_device_to_device(int, void*, int, const void*, std::size_t) {
    not_built();
}
void fill_pattern(int, void*, std::size_t, std::size_t, const void*) {
    not_built();
}

}  // namespace wtconv::cuda
