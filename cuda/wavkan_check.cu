// The Wav-KAN op's value checks on CUDA (WAVKAN.md 5): the first non-finite element of each tensor
// (and, for the scale, the first without a finite reciprocal), all tensors in one launch, each
// found on the device with one atomicMin per bad thread (a minimum: the same index whatever the
// order), and read back once at the end of the forward.
#include <cstdint>
#include <limits>
#include <vector>

#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

constexpr unsigned long long kNone = std::numeric_limits<unsigned long long>::max();
constexpr int kMaxTensors = 12;

template <class T>
struct CheckList {
    const T* data[kMaxTensors];
    std::int64_t numel[kMaxTensors];
    int reciprocal;
};

// blockIdx.y: the tensor; the blocks of x walk its elements.
template <class T>
__global__ void first_bad_kernel(CheckList<T> list, unsigned long long* __restrict__ first) {
    const int j = static_cast<int>(blockIdx.y);
    const T* v = list.data[j];
    const bool reciprocal = j == list.reciprocal;
    unsigned long long mine = kNone;
    WTCONV_GRID_STRIDE_LOOP(k, list.numel[j]) {
        const T e = v[k];
        const bool bad = !isfinite(e) || (reciprocal && !isfinite(T(1) / e));
        if (bad && static_cast<unsigned long long>(k) < mine) {
            mine = static_cast<unsigned long long>(k);
        }
    }
    if (mine != kNone) {
        atomicMin(first + j, mine);
    }
}

}  // namespace

Tensor wavkan_check_values_launch(Context& ctx,
                                  const std::vector<const Tensor*>& tensors,
                                  int reciprocal) {
    WTCONV_CHECK(!tensors.empty() && tensors.size() <= static_cast<std::size_t>(kMaxTensors),
                 "wavkan: 1 to ", kMaxTensors, " tensors to check, got ", tensors.size());
    const Device device = tensors.front()->device();
    const DeviceGuard guard(device.index);
    const cudaStream_t stream = ctx.cuda_stream();
    // int32 pairs hold the 64-bit results (Tensor has no 64-bit integer dtype)
    Tensor results =
        Tensor::empty(Shape{2 * static_cast<std::int64_t>(tensors.size())}, DType::kInt32, device);
    auto* first = static_cast<unsigned long long*>(results.raw_data());
    WTCONV_CUDA_CHECK(
        cudaMemsetAsync(first, 0xff, tensors.size() * sizeof(unsigned long long), stream));
    std::int64_t largest = 1;
    for (const Tensor* t : tensors) {
        largest = std::max(largest, t->numel());
    }
    with_wavkan_dtype(tensors.front()->dtype(), [&](auto tag) {
        using T = decltype(tag);
        CheckList<T> list{};
        for (std::size_t j = 0; j < tensors.size(); ++j) {
            list.data[j] = tensors[j]->data<T>();
            list.numel[j] = tensors[j]->numel();
        }
        list.reciprocal = reciprocal;
        const dim3 grid(elementwise_blocks(largest), static_cast<unsigned>(tensors.size()));
        first_bad_kernel<T><<<grid, kElementwiseThreads, 0, stream>>>(list, first);
        WTCONV_CUDA_CHECK_LAUNCH();
    });
    return results;
}

std::vector<std::int64_t> wavkan_check_values_read(Context& ctx, const Tensor& results) {
    const DeviceGuard guard(results.device().index);
    const cudaStream_t stream = ctx.cuda_stream();
    std::vector<unsigned long long> host(static_cast<std::size_t>(results.numel() / 2));
    WTCONV_CUDA_CHECK(cudaMemcpyAsync(host.data(), results.raw_data(),
                                      host.size() * sizeof(host[0]), cudaMemcpyDeviceToHost,
                                      stream));
    WTCONV_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::vector<std::int64_t> out(host.size());
    for (std::size_t j = 0; j < host.size(); ++j) {
        out[j] = host[j] == kNone ? -1 : static_cast<std::int64_t>(host[j]);
    }
    return out;
}

}  // namespace wtconv::cuda
