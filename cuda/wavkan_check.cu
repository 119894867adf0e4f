// The Wav-KAN op's value checks on CUDA (WAVKAN.md 5): the first non-finite element of each tensor
// (and, for the scale, the first without a finite reciprocal), all tensors in one launch, each
// found on the device with one atomicMin per bad thread (a minimum: the same index whatever the
// order), copied to the host right behind the search and read once at the end of the forward.
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
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
        const WavKanCompute<T> e = widen(v[k]);  // the kernels' reciprocal: in the compute type
        const bool bad = !isfinite(e) || (reciprocal && !isfinite(WavKanCompute<T>(1) / e));
        if (bad && static_cast<unsigned long long>(k) < mine) {
            mine = static_cast<unsigned long long>(k);
        }
    }
    if (mine != kNone) {
        atomicMin(first + j, mine);
    }
}

// Where a thread's checks on a device land on the host: pinned memory the stream copies the
// results into right behind the search, and an event after that copy. The read waits on the event
// alone, not on the stream: the forward's kernels queued behind the copy keep the GPU busy while
// the host reads the results and returns, so a network's layers still queue ahead of the GPU (a
// stream synchronisation per layer left it idle while the next layer was launched). A thread's
// launch and read pair up within one forward call, so one slot per thread and device serves.
class CheckStage {
public:
    explicit CheckStage(int device) : device_(device) {
        const DeviceGuard guard(device);
        WTCONV_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&host_),
                                        kMaxTensors * sizeof(unsigned long long),
                                        cudaHostAllocDefault));
        const cudaError_t made = cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming);
        if (made != cudaSuccess) {
            cudaFreeHost(host_);
            WTCONV_CUDA_CHECK(made);
        }
    }
    CheckStage(const CheckStage&) = delete;
    CheckStage& operator=(const CheckStage&) = delete;
    ~CheckStage() {
        // At thread or process exit; the runtime may be gone already at process exit, and the
        // driver reclaims everything then: nothing to report.
        const DeviceGuard guard(device_);
        cudaEventDestroy(copied_);
        cudaFreeHost(host_);
    }
    unsigned long long* host() const { return host_; }
    cudaEvent_t copied() const { return copied_; }

    static CheckStage& of(int device) {
        thread_local std::map<int, std::unique_ptr<CheckStage>> stages;
        std::unique_ptr<CheckStage>& s = stages[device];
        if (!s) {
            s = std::make_unique<CheckStage>(device);
        }
        return *s;
    }

private:
    int device_;
    unsigned long long* host_ = nullptr;
    cudaEvent_t copied_ = nullptr;
};

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
            list.data[j] = storage<T>(*tensors[j]);
            list.numel[j] = tensors[j]->numel();
        }
        list.reciprocal = reciprocal;
        const dim3 grid(elementwise_blocks(largest), static_cast<unsigned>(tensors.size()));
        first_bad_kernel<T><<<grid, kElementwiseThreads, 0, stream>>>(list, first);
        WTCONV_CUDA_CHECK_LAUNCH();
    });
    const CheckStage& stage = CheckStage::of(device.index);
    WTCONV_CUDA_CHECK(cudaMemcpyAsync(stage.host(), first,
                                      tensors.size() * sizeof(unsigned long long),
                                      cudaMemcpyDeviceToHost, stream));
    WTCONV_CUDA_CHECK(cudaEventRecord(stage.copied(), stream));
    return results;
}

std::vector<std::int64_t> wavkan_check_values_read(Context& ctx, const Tensor& results) {
    (void)ctx;  // the stream runs on: only the copy of the results is waited for
    const DeviceGuard guard(results.device().index);
    const CheckStage& stage = CheckStage::of(results.device().index);
    WTCONV_CUDA_CHECK(cudaEventSynchronize(stage.copied()));
    std::vector<std::int64_t> out(static_cast<std::size_t>(results.numel() / 2));
    for (std::size_t j = 0; j < out.size(); ++j) {
        const unsigned long long first = stage.host()[j];
        out[j] = first == kNone ? -1 : static_cast<std::int64_t>(first);
    }
    return out;
}

}  // namespace wtconv::cuda
