// Device memory for tensor storage (the only place that allocates it), its statistics, and the
// element-wise kernels Tensor needs (fill, add_). Every call first selects the tensor's device and
// restores the caller's afterwards, so tensors on different GPUs can be mixed in one thread.
//
// Ops allocate their outputs on every call, and cudaMalloc/cudaFree cost tens of microseconds to
// milliseconds and synchronise the device. So memory comes stream-ordered from each device's
// default pool, on the legacy default stream (during an op, on the op's stream: OpStreamScope),
// and the pool's release threshold is raised so that freed memory stays cached for the next
// allocation instead of going back at each synchronisation.
#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <wtconv/cuda_memory.h>

#include "core/memory.h"
#include "cuda/blas.h"
#include "cuda/check.h"
#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

static_assert(sizeof(__half) == sizeof(Half) && alignof(__half) == alignof(Half),
              "Half must be layout-compatible with __half");
static_assert(sizeof(__nv_bfloat16) == sizeof(BFloat16) &&
                  alignof(__nv_bfloat16) == alignof(BFloat16),
              "BFloat16 must be layout-compatible with __nv_bfloat16");

// One device's pool and what tensors hold of it. Counters are atomics: tensors are created and
// destroyed from any thread.
struct DeviceMemory {
    std::once_flag configured;
    cudaMemPool_t pool = nullptr;  // stays null where the device has no stream-ordered allocator
    std::atomic<std::size_t> allocated{0};
    std::atomic<std::size_t> peak{0};
};

struct DeviceTable {
    int count;
    DeviceMemory* devices;
};

// Process-wide, as the driver's pools are. Never freed: a tensor destroyed during static
// destruction still finds its device's counters.
const DeviceTable& device_table() {
    static const DeviceTable table = [] {
        const int count = device_count();
        return DeviceTable{count, new DeviceMemory[static_cast<std::size_t>(count)]};
    }();
    return table;
}

void check_index(const char* op, const char* name, int device) {
    const int count = device_table().count;
    WTCONV_CHECK(device >= 0 && device < count, op, ": ", name, " must be in [0, ", count,
                 "), got ", device);
}

// The device's entry, its pool configured on first use. device must have been checked.
DeviceMemory& device_memory(int device) {
    DeviceMemory& m = device_table().devices[device];
    std::call_once(m.configured, [&m, device] {
        int supported = 0;
        WTCONV_CUDA_CHECK(
            cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device));
        if (supported == 0) {
            return;  // plain cudaMalloc/cudaFree, uncached
        }
        cudaMemPool_t pool = nullptr;
        WTCONV_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
        std::uint64_t keep_all = std::numeric_limits<std::uint64_t>::max();
        WTCONV_CUDA_CHECK(
            cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
        m.pool = pool;
    });
    return m;
}

// The calling thread's OpStreamScope: its device (-1: none) and stream.
struct OpStream {
    int device = -1;
    cudaStream_t stream = nullptr;
};
thread_local OpStream t_op_stream;

// Where device's memory work goes for this thread: explicit, else the scope's, else legacy.
cudaStream_t stream_for(int device, CUstream_st* stream = nullptr) {
    if (stream != nullptr) {
        return stream;
    }
    return t_op_stream.device == device && t_op_stream.stream != nullptr ? t_op_stream.stream
                                                                         : cudaStreamLegacy;
}

// From the pool itself rather than the device's current pool, which another library may have
// replaced: the statistics and cuda_empty_cache describe this pool.
cudaError_t allocate_raw(const DeviceMemory& m, int device, void** ptr, std::size_t bytes) {
    const cudaError_t status = m.pool != nullptr
                                   ? cudaMallocFromPoolAsync(ptr, bytes, m.pool, stream_for(device))
                                   : cudaMalloc(ptr, bytes);
    if (status != cudaSuccess) {
        cudaGetLastError();  // so the next launch check does not report this failure again
    }
    return status;
}

[[noreturn]] void throw_allocation_error(const DeviceMemory& m,
                                         int device,
                                         std::size_t bytes,
                                         cudaError_t status) {
    // A request beyond the whole device may come back as an invalid value rather than as out of
    // memory; either way the caller asked for more than there is.
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    const bool too_big =
        cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess && bytes > total_bytes;
    cudaGetLastError();
    const ErrorCode code = status == cudaErrorMemoryAllocation || too_big ? ErrorCode::kOutOfMemory
                                                                          : ErrorCode::kCudaError;
    throw Error(code, ::wtconv::detail::concat(
                          "cuda: ", m.pool != nullptr ? "cudaMallocFromPoolAsync" : "cudaMalloc",
                          " of ", bytes, " bytes on cuda:", device,
                          " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
                          "); ", total_bytes, " bytes on the device, ", free_bytes, " free"));
}

void note_allocated(DeviceMemory& m, std::size_t bytes) {
    const std::size_t now = m.allocated.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    std::size_t peak = m.peak.load(std::memory_order_relaxed);
    while (now > peak && !m.peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}

// Tensors of any size reach these kernels, hence the 64-bit grid-stride loops; they are bound by
// memory, not by the index arithmetic.
template <class T>
__global__ void fill_kernel(T* __restrict__ dst, std::int64_t n, T value) {
    WTCONV_GRID_STRIDE_LOOP(i, n) {
        dst[i] = value;
    }
}

__device__ inline float widen(__half v) {
    return __half2float(v);
}
__device__ inline float widen(__nv_bfloat16 v) {
    return __bfloat162float(v);
}
__device__ inline float widen(float v) {
    return v;
}
__device__ inline double widen(double v) {
    return v;
}
__device__ inline void store(float v, __half* p) {
    *p = __float2half_rn(v);
}
__device__ inline void store(float v, __nv_bfloat16* p) {
    *p = __float2bfloat16_rn(v);
}
__device__ inline void store(float v, float* p) {
    *p = v;
}
__device__ inline void store(double v, double* p) {
    *p = v;
}

// No __restrict__: dst and src may be the same tensor (x.add_(x)).
template <class T, bool kMultiply>
__global__ void combine_kernel(T* dst, const T* src, std::int64_t n) {
    WTCONV_GRID_STRIDE_LOOP(i, n) {
        store(kMultiply ? widen(dst[i]) * widen(src[i]) : widen(dst[i]) + widen(src[i]), dst + i);
    }
}

template <class T>
void launch_combine(void* dst, const void* src, std::int64_t n, Combine op, cudaStream_t stream) {
    const auto kernel =
        op == Combine::kMultiply ? combine_kernel<T, true> : combine_kernel<T, false>;
    kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(
        static_cast<T*>(dst), static_cast<const T*>(src), n);
    WTCONV_CUDA_CHECK_LAUNCH();
}

}  // namespace

int device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // no driver or no GPU: clear the sticky error and report none
        return 0;
    }
    return count;
}

// Only a non-blocking stream needs it: the legacy stream's work already follows the work queued
// on blocking streams before it, so their ops keep the legacy stream, and the pool keeps handing
// their memory back without dependencies between streams.
OpStreamScope::OpStreamScope(Device device, CUstream_st* stream) noexcept
    : previous_device_(t_op_stream.device), previous_stream_(t_op_stream.stream) {
    bool own = false;
    if (device.is_cuda() && stream != nullptr) {
        unsigned flags = 0;
        if (cudaStreamGetFlags(stream, &flags) == cudaSuccess) {
            own = (flags & cudaStreamNonBlocking) != 0;
        } else {
            cudaGetLastError();  // a bad handle: reported by the op's first launch on it
        }
    }
    t_op_stream = own ? OpStream{device.index, stream} : OpStream{};
}

OpStreamScope::~OpStreamScope() {
    t_op_stream = OpStream{previous_device_, previous_stream_};
}

void* device_malloc(int device, std::size_t bytes) {
    check_index("tensor", "CUDA device index", device);
    DeviceMemory& m = device_memory(device);
    DeviceGuard guard(device);
    void* ptr = nullptr;
    cudaError_t status = allocate_raw(m, device, &ptr, bytes);
    if (status == cudaErrorMemoryAllocation && m.pool != nullptr) {
        // The pool may hold cached blocks too small or too scattered for this request, or memory
        // still owed by frees in flight: wait for those, return everything unused, and retry once.
        WTCONV_CUDA_CHECK(cudaDeviceSynchronize());
        WTCONV_CUDA_CHECK(cudaMemPoolTrimTo(m.pool, 0));
        status = allocate_raw(m, device, &ptr, bytes);
    }
    if (status != cudaSuccess) {
        throw_allocation_error(m, device, bytes, status);
    }
    note_allocated(m, bytes);
    return ptr;
}

void device_synchronize(int device) {
    check_index("synchronize", "device", device);
    const DeviceGuard guard(device);
    WTCONV_CUDA_CHECK(cudaDeviceSynchronize());
}

void device_free(int device, void* ptr, std::size_t bytes) noexcept {
    if (ptr == nullptr) {
        return;
    }
    int previous = 0;
    const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != device &&
                          cudaSetDevice(device) == cudaSuccess;
    DeviceMemory& m = device_table().devices[device];  // configured when ptr was allocated
    // Failure here cannot be reported (destructors never throw); it happens only when the runtime
    // is already shutting down at exit, or after a sticky error has lost the context.
    const cudaError_t status =
        m.pool != nullptr ? cudaFreeAsync(ptr, stream_for(device)) : cudaFree(ptr);
    if (status != cudaSuccess) {
        cudaGetLastError();
    }
    m.allocated.fetch_sub(bytes, std::memory_order_relaxed);
    if (switched) {
        cudaSetDevice(previous);
    }
}

// cudaMemcpy runs on the legacy default stream, after the work already queued there (kernels,
// fills, and the frees that let the pool reuse memory), so copies see every earlier write. Within
// an OpStreamScope the copy goes on its stream instead, and the host waits for that stream.
void copy_waiting(int device, void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
    DeviceGuard guard(device);
    const cudaStream_t s = stream_for(device);
    if (s == cudaStreamLegacy) {
        WTCONV_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
        return;
    }
    WTCONV_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, s));
    WTCONV_CUDA_CHECK(cudaStreamSynchronize(s));
}

void memcpy_host_to_device(int device, void* dst, const void* src, std::size_t bytes) {
    copy_waiting(device, dst, src, bytes, cudaMemcpyHostToDevice);
}

void memcpy_device_to_host(int device, void* dst, const void* src, std::size_t bytes) {
    copy_waiting(device, dst, src, bytes, cudaMemcpyDeviceToHost);
}

void memcpy_device_to_device(
    int dst_device, void* dst, int src_device, const void* src, std::size_t bytes) {
    if (dst_device == src_device) {
        copy_waiting(dst_device, dst, src, bytes, cudaMemcpyDeviceToDevice);
    } else {
        // Serialised with all work on both devices, so neither side's pool reuses either buffer
        // before the copy is done.
        WTCONV_CUDA_CHECK(cudaMemcpyPeer(dst, dst_device, src, src_device, bytes));
    }
}

void fill_pattern(int device,
                  void* dst,
                  std::size_t n,
                  std::size_t elem_bytes,
                  const void* pattern,
                  CUstream_st* stream) {
    if (n == 0) {
        return;
    }
    DeviceGuard guard(device);
    const auto count = static_cast<std::int64_t>(n);
    const unsigned blocks = elementwise_blocks(count);
    const cudaStream_t s = stream_for(device, stream);
    switch (elem_bytes) {
        case 1:  // int8 and uint8: an 8-byte fill here once wrote past the end of such tensors
            fill_kernel<<<blocks, kElementwiseThreads, 0, s>>>(
                static_cast<std::uint8_t*>(dst), count, *static_cast<const std::uint8_t*>(pattern));
            break;
        case 2:
            fill_kernel<<<blocks, kElementwiseThreads, 0, s>>>(
                static_cast<std::uint16_t*>(dst), count,
                *static_cast<const std::uint16_t*>(pattern));
            break;
        case 4:
            fill_kernel<<<blocks, kElementwiseThreads, 0, s>>>(
                static_cast<std::uint32_t*>(dst), count,
                *static_cast<const std::uint32_t*>(pattern));
            break;
        case 8:
            fill_kernel<<<blocks, kElementwiseThreads, 0, s>>>(
                static_cast<std::uint64_t*>(dst), count,
                *static_cast<const std::uint64_t*>(pattern));
            break;
        default:
            throw Error(ErrorCode::kBadArgument,
                        ::wtconv::detail::concat("tensor: fill of ", elem_bytes,
                                                 "-byte elements is not supported"));
    }
    WTCONV_CUDA_CHECK_LAUNCH();
}

void combine_inplace(int device,
                     void* dst,
                     const void* src,
                     std::size_t n,
                     DType dtype,
                     Combine op,
                     CUstream_st* stream) {
    if (n == 0) {
        return;
    }
    DeviceGuard guard(device);
    const auto count = static_cast<std::int64_t>(n);
    const cudaStream_t s = stream_for(device, stream);
    switch (dtype) {
        case DType::kFloat32:
            launch_combine<float>(dst, src, count, op, s);
            break;
        case DType::kFloat64:
            launch_combine<double>(dst, src, count, op, s);
            break;
        case DType::kFloat16:
            launch_combine<__half>(dst, src, count, op, s);
            break;
        case DType::kBFloat16:
            launch_combine<__nv_bfloat16>(dst, src, count, op, s);
            break;
        case DType::kInt8:
        case DType::kUInt8:
        case DType::kInt32:
            throw Error(ErrorCode::kNotSupported,
                        ::wtconv::detail::concat("tensor: add_ and mul_ on CUDA take floating "
                                                 "dtypes, got ",
                                                 dtype_name(dtype)));
    }
}

}  // namespace wtconv::cuda

namespace wtconv {

CudaMemoryStats cuda_memory_stats(int device) {
    cuda::check_index("cuda_memory_stats", "device", device);
    const cuda::DeviceMemory& m = cuda::device_memory(device);
    CudaMemoryStats stats;
    stats.allocated_bytes = m.allocated.load(std::memory_order_relaxed);
    stats.peak_allocated_bytes = m.peak.load(std::memory_order_relaxed);
    if (m.pool != nullptr) {
        std::uint64_t reserved = 0;
        WTCONV_CUDA_CHECK(
            cudaMemPoolGetAttribute(m.pool, cudaMemPoolAttrReservedMemCurrent, &reserved));
        stats.reserved_bytes = static_cast<std::size_t>(reserved);
    } else {
        stats.reserved_bytes = stats.allocated_bytes;  // cudaMalloc caches nothing
    }
    return stats;
}

void cuda_reset_peak_memory(int device) {
    cuda::check_index("cuda_reset_peak_memory", "device", device);
    cuda::DeviceMemory& m = cuda::device_memory(device);
    m.peak.store(m.allocated.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void cuda_empty_cache(int device) {
    cuda::check_index("cuda_empty_cache", "device", device);
    const cuda::DeviceMemory& m = cuda::device_memory(device);
    cuda::DeviceGuard guard(device);
    // Freed blocks return to the pool only when the work before their free is done, and the pool
    // can give back only blocks it has; so wait for all work first.
    WTCONV_CUDA_CHECK(cudaDeviceSynchronize());
    cuda::release_blas_handle(device);          // cuBLAS's workspace is memory no tensor holds, too
    cuda::release_wavkan_check_stages(device);  // so are the value checks' per-thread buffers
    if (m.pool != nullptr) {
        WTCONV_CUDA_CHECK(cudaMemPoolTrimTo(m.pool, 0));
    }
}

}  // namespace wtconv
