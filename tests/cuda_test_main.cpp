// main() of the CUDA test binaries: runs the tests, then hands the pool's cache back and resets
// the device, so that compute-sanitizer's leak check sees only memory a tensor still holds.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <wtconv/cuda_memory.h>
#include <wtconv/device.h>

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    const int status = RUN_ALL_TESTS();
    if (wtconv::cuda_device_count() > 0) {
        wtconv::cuda_empty_cache();
        cudaDeviceReset();
    }
    return status;
}
