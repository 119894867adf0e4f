#pragma once
// DeviceGuard: makes a device current for a scope and restores the caller's on exit, so the
// library never changes the current device behind the caller's back.
#include "cuda/check.h"

namespace wtconv::cuda {

class DeviceGuard {
public:
    explicit DeviceGuard(int device) {
        WTCONV_CUDA_CHECK(cudaGetDevice(&previous_));
        if (device != previous_) {
            WTCONV_CUDA_CHECK(cudaSetDevice(device));
        }
    }
    ~DeviceGuard() { cudaSetDevice(previous_); }  // destructors never throw
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int previous_ = 0;
};

}  // namespace wtconv::cuda
