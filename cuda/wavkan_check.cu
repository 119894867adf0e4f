// The Wav-KAN op's value checks on CUDA (WAVKAN.md 5): the first non-finite element of each tensor
// (and, for the scale, the first without a finite reciprocal), all tensors in one launch, each
// found on the device with one atomicMax per bad thread into a generation-tagged slot (the same
// smallest index whatever the order), written to mapped host memory by the search's last block and
// read once at the end of the forward. One launch per call: no memset, no copy.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

constexpr unsigned long long kNone = std::numeric_limits<unsigned long long>::max();
constexpr int kMaxTensors = 12;
// A slot holds (generation << kIndexBits) | (kIndexMask - index): atomicMax keeps the newest call's
// smallest bad index, and an older call's value loses to any of the newer call's, so the slots
// need no reset between calls (no memset queued per call).
constexpr int kIndexBits = 40;
constexpr unsigned long long kIndexMask = (1ull << kIndexBits) - 1;
constexpr unsigned long long kLastGeneration = (1ull << (64 - kIndexBits)) - 1;
constexpr unsigned kMaxBlocksPerTensor = 128;  // a grid-stride search: enough to fill the GPU
constexpr int kLoads = 8;                      // loads in flight a thread

template <class T>
struct CheckList {
    const T* data[kMaxTensors];
    std::int64_t numel[kMaxTensors];
    // tensor j's blocks are [first_block[j], first_block[j + 1]): as many as its size needs (a
    // rectangle of the largest tensor's count had blocks with nothing to do for the small ones)
    unsigned first_block[kMaxTensors + 1];
    int count;
    int reciprocal;
    int nonnegative;  // -1: none
};

// Per call: where the results go (the call's device tensor, which batch norm reads, and the
// thread's mapped host memory), and the thread's persistent slots and block counter.
struct CheckTargets {
    unsigned long long* slots;
    unsigned* blocks_done;
    unsigned long long generation;
    unsigned long long* results;       // device, count entries: index or kNone
    unsigned long long* host_results;  // mapped pinned memory, the same
};

// Block x belongs to the tensor whose range in list.first_block holds it; a tensor's blocks walk
// its elements. The last block to finish (a ticket
// from atomicInc, which wraps the counter back to 0 for the next call) turns the slots into the
// results and stores them on the device and, through mapped memory, on the host: the event after
// this kernel is all the host waits for.
template <class T>
__global__ void first_bad_kernel(CheckList<T> list, CheckTargets to) {
    int j = 0;
    while (blockIdx.x >= list.first_block[j + 1]) {
        ++j;
    }
    const unsigned block = blockIdx.x - list.first_block[j];
    const T* v = list.data[j];
    const bool reciprocal = j == list.reciprocal, nonnegative = j == list.nonnegative;
    unsigned long long mine = kNone;
    // A grid-stride loop that loads kLoads elements before it tests them: one at a time, each
    // load's latency added up (9 us for the 512-wide layer's 3.7 MB).
    const std::int64_t n = list.numel[j];
    const std::int64_t stride =
        static_cast<std::int64_t>(list.first_block[j + 1] - list.first_block[j]) * blockDim.x;
    for (std::int64_t k0 = static_cast<std::int64_t>(block) * blockDim.x + threadIdx.x; k0 < n;
         k0 += kLoads * stride) {
        WavKanCompute<T> e[kLoads];
#pragma unroll
        for (int u = 0; u < kLoads; ++u) {
            const std::int64_t k = k0 + u * stride;
            e[u] = k < n ? widen(v[k]) : WavKanCompute<T>(1);
        }
#pragma unroll
        for (int u = 0; u < kLoads; ++u) {
            const std::int64_t k = k0 + u * stride;
            // the kernels' reciprocal: in the compute type
            const bool bad = !isfinite(e[u]) ||
                             (reciprocal && !isfinite(WavKanCompute<T>(1) / e[u])) ||
                             (nonnegative && e[u] < WavKanCompute<T>(0));
            if (bad && static_cast<unsigned long long>(k) < mine) {
                mine = static_cast<unsigned long long>(k);
            }
        }
    }
    if (mine != kNone) {
        atomicMax(to.slots + j, (to.generation << kIndexBits) | (kIndexMask - mine));
    }
    __shared__ bool last;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();  // this block's slot updates before its ticket
        const unsigned blocks = gridDim.x;
        last = atomicInc(to.blocks_done, blocks - 1) == blocks - 1;
    }
    __syncthreads();
    if (last && static_cast<int>(threadIdx.x) < list.count) {
        __threadfence();
        const unsigned long long slot = atomicOr(to.slots + threadIdx.x, 0ull);  // a coherent read
        const unsigned long long first =
            slot >> kIndexBits == to.generation ? kIndexMask - (slot & kIndexMask) : kNone;
        to.results[threadIdx.x] = first;
        to.host_results[threadIdx.x] = first;
    }
}

// A thread's persistent state on a device: the slots and block counter (device memory, zeroed
// once), the mapped pinned memory the results land in, and an event after the search. The read
// waits on the event alone, not on the stream: the forward's kernels queued behind the search keep
// the GPU busy while the host reads the results and returns, so a network's layers still queue
// ahead of the GPU (a stream synchronisation per layer left it idle while the next layer was
// launched). A thread's launch and read pair up within one forward call, and a launch starts only
// after the previous call's search has finished, so one state per thread and device serves.
class CheckStage {
public:
    explicit CheckStage(int device) : device_(device) {
        const DeviceGuard guard(device);
        try {
            WTCONV_CUDA_CHECK(
                cudaMalloc(&slots_, kMaxTensors * sizeof(unsigned long long) + sizeof(unsigned)));
            // on the legacy stream, which the searches on a non-blocking stream do not follow:
            // waited for here, once a thread
            WTCONV_CUDA_CHECK(
                cudaMemset(slots_, 0, kMaxTensors * sizeof(unsigned long long) + sizeof(unsigned)));
            WTCONV_CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy));
            WTCONV_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&host_),
                                            kMaxTensors * sizeof(unsigned long long),
                                            cudaHostAllocMapped));
            WTCONV_CUDA_CHECK(
                cudaHostGetDevicePointer(reinterpret_cast<void**>(&host_on_device_), host_, 0));
            WTCONV_CUDA_CHECK(cudaEventCreateWithFlags(&searched_, cudaEventDisableTiming));
        } catch (...) {
            release();
            throw;
        }
    }
    CheckStage(const CheckStage&) = delete;
    CheckStage& operator=(const CheckStage&) = delete;
    // Errors are not reported: the device may be in an error state by then.
    ~CheckStage() { release(); }

    // The targets of the next search: a new generation (the slots zeroed again, on stream, once
    // in 2^24 calls when the generations run out).
    CheckTargets next(unsigned long long* results, cudaStream_t stream) {
        // The previous search of this state must be over before this one starts (they share the
        // slots' and the counter's life): it is, unless that call threw between its launch and
        // its read, or ran on another stream; the stream waits for it on the device, not the host.
        WTCONV_CUDA_CHECK(cudaStreamWaitEvent(stream, searched_, 0));
        if (generation_ == kLastGeneration) {
            WTCONV_CUDA_CHECK(cudaMemsetAsync(slots_, 0, kMaxTensors * sizeof(*slots_), stream));
            generation_ = 0;
        }
        ++generation_;
        return CheckTargets{slots_, blocks_done(), generation_, results, host_on_device_};
    }
    cudaEvent_t searched() const { return searched_; }
    const volatile unsigned long long* host() const { return host_; }

    static CheckStage& of(int device);

private:
    unsigned* blocks_done() const { return reinterpret_cast<unsigned*>(slots_ + kMaxTensors); }
    void release() {
        const DeviceGuard guard(device_);
        if (searched_ != nullptr) {
            cudaEventDestroy(searched_);
        }
        if (host_ != nullptr) {
            cudaFreeHost(host_);
        }
        if (slots_ != nullptr) {
            cudaFree(slots_);
        }
    }

    int device_;
    unsigned long long* slots_ = nullptr;
    unsigned long long* host_ = nullptr;
    unsigned long long* host_on_device_ = nullptr;
    cudaEvent_t searched_ = nullptr;
    unsigned long long generation_ = 0;
};

// Every thread's stages, by thread and device: released by cuda_empty_cache (before a
// cudaDeviceReset would leave their handles dangling) and at the thread's exit. The registry
// itself is never destroyed: at process exit the runtime may be gone before a static destructor
// would run.
struct Registry {
    std::mutex mutex;
    std::map<std::pair<std::thread::id, int>, std::unique_ptr<CheckStage>> stages;
};

Registry& registry() {
    static Registry* r = new Registry;
    return *r;
}

// Removes the thread's stages when it ends (cudaEventDestroy and the frees wait for no search: an
// event's destruction is deferred until it completes, and cudaFree synchronises the device).
struct ThreadExit {
    ~ThreadExit() {
        Registry& r = registry();
        const std::lock_guard<std::mutex> lock(r.mutex);
        for (auto it = r.stages.begin(); it != r.stages.end();) {
            it = it->first.first == std::this_thread::get_id() ? r.stages.erase(it) : std::next(it);
        }
    }
};

CheckStage& CheckStage::of(int device) {
    thread_local ThreadExit at_exit;
    (void)at_exit;
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    std::unique_ptr<CheckStage>& s = r.stages[{std::this_thread::get_id(), device}];
    if (!s) {
        s = std::make_unique<CheckStage>(device);
    }
    return *s;
}

}  // namespace

void release_wavkan_check_stages(int device) {
    Registry& r = registry();
    const std::lock_guard<std::mutex> lock(r.mutex);
    for (auto it = r.stages.begin(); it != r.stages.end();) {
        it = it->first.second == device ? r.stages.erase(it) : std::next(it);
    }
}

Tensor wavkan_check_values_launch(Context& ctx,
                                  const std::vector<const Tensor*>& tensors,
                                  int reciprocal,
                                  int nonnegative) {
    WTCONV_CHECK(!tensors.empty() && tensors.size() <= static_cast<std::size_t>(kMaxTensors),
                 "wavkan: 1 to ", kMaxTensors, " tensors to check, got ", tensors.size());
    const Device device = tensors.front()->device();
    const DeviceGuard guard(device.index);
    const cudaStream_t stream = ctx.cuda_stream();
    std::int64_t largest = 1;
    for (const Tensor* t : tensors) {
        largest = std::max(largest, t->numel());
    }
    WTCONV_CHECK_CODE(static_cast<unsigned long long>(largest) < kIndexMask,
                      ErrorCode::kNotSupported, "wavkan: CUDA checks tensors below 2^", kIndexBits,
                      " elements, got one of ", largest);
    // int32 pairs hold the 64-bit results (Tensor has no 64-bit integer dtype); the search writes
    // every one
    Tensor results =
        Tensor::empty(Shape{2 * static_cast<std::int64_t>(tensors.size())}, DType::kInt32, device);
    CheckStage& stage = CheckStage::of(device.index);
    const CheckTargets to =
        stage.next(static_cast<unsigned long long*>(results.raw_data()), stream);
    with_wavkan_dtype(tensors.front()->dtype(), [&](auto tag) {
        using T = decltype(tag);
        CheckList<T> list{};
        for (std::size_t j = 0; j < tensors.size(); ++j) {
            list.data[j] = storage<T>(*tensors[j]);
            list.numel[j] = tensors[j]->numel();
        }
        list.count = static_cast<int>(tensors.size());
        list.reciprocal = reciprocal;
        list.nonnegative = nonnegative;
        list.first_block[0] = 0;
        for (std::size_t j = 0; j < tensors.size(); ++j) {
            const std::int64_t per_block = std::int64_t{kLoads} * kElementwiseThreads;
            const std::int64_t blocks = std::clamp<std::int64_t>(
                (list.numel[j] + per_block - 1) / per_block, 1, kMaxBlocksPerTensor);
            list.first_block[j + 1] = list.first_block[j] + static_cast<unsigned>(blocks);
        }
        const dim3 grid(list.first_block[tensors.size()]);
        first_bad_kernel<T><<<grid, kElementwiseThreads, 0, stream>>>(list, to);
        WTCONV_CUDA_CHECK_LAUNCH();
    });
    WTCONV_CUDA_CHECK(cudaEventRecord(stage.searched(), stream));
    return results;
}

std::vector<std::int64_t> wavkan_check_values_read(Context& ctx, const Tensor& results) {
    (void)ctx;  // the stream runs on: only the search is waited for
    const DeviceGuard guard(results.device().index);
    const CheckStage& stage = CheckStage::of(results.device().index);
    WTCONV_CUDA_CHECK(cudaEventSynchronize(stage.searched()));
    std::vector<std::int64_t> out(static_cast<std::size_t>(results.numel() / 2));
    for (std::size_t j = 0; j < out.size(); ++j) {
        const unsigned long long first = stage.host()[j];
        out[j] = first == kNone ? -1 : static_cast<std::int64_t>(first);
    }
    return out;
}

}  // namespace wtconv::cuda
