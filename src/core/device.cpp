// Device names and the CUDA device count.
#include <wtconv/device.h>

#include "core/memory.h"

namespace wtconv {

std::string Device::str() const {
    return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& out, const Device& device) {
    return out << device.str();
}

bool cuda_built() {
#ifdef WTCONV_WITH_CUDA
    return true;
#else
    return false;
#endif
}

int cuda_device_count() {
    return cuda::device_count();
}

void synchronize(Device device) {
    if (device.is_cuda()) {
        cuda::device_synchronize(device.index);
    }
}

}  // namespace wtconv
