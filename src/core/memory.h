#pragma once
// Raw allocation and copies for tensor storage on any device. The CUDA half lives in
// cuda/memory.cu; a build without CUDA gets versions that throw Error(kNotSupported).
#include <cstddef>

#include <wtconv/device.h>
#include <wtconv/dtype.h>

struct CUstream_st;  // cudaStream_t is CUstream_st*; declared so host files need no CUDA header

namespace wtconv::detail {

void* allocate(Device device, std::size_t bytes);
// bytes: what allocate was asked for (it picks the host alignment from it).
void deallocate(Device device, void* ptr, std::size_t bytes) noexcept;
// Copies bytes between any two devices, ordered as the cuda::memcpy_* below.
void copy_bytes(
    void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);

}  // namespace wtconv::detail

namespace wtconv::cuda {

int device_count() noexcept;
// While it lives, the calling thread's CUDA memory work on device (allocations, frees, copies, and
// the element-wise kernels below when given no stream) goes on stream instead of the legacy
// default stream, if stream is a cudaStreamNonBlocking one, which the legacy stream does not wait
// for. Ops hold one for their whole call with their context's stream: their temporaries are then
// freed after the kernels that use them, and their outputs are allocated and poisoned in that
// stream's order. Scopes nest; a scope for the CPU, a null stream or a blocking stream leaves the
// legacy stream, which already follows the work queued on blocking streams.
class OpStreamScope {
public:
    OpStreamScope(Device device, CUstream_st* stream) noexcept;
    ~OpStreamScope();
    OpStreamScope(const OpStreamScope&) = delete;
    OpStreamScope& operator=(const OpStreamScope&) = delete;

private:
    int previous_device_;
    CUstream_st* previous_stream_;
};
// Waits for all work on the device (cudaDeviceSynchronize), the caller's device kept.
void device_synchronize(int device);
// Stream-ordered on the legacy default stream (or the OpStreamScope's), from the device's pool,
// which caches freed memory; counted in cuda_memory_stats. Throws Error(kOutOfMemory) when even an
// emptied pool cannot serve.
void* device_malloc(int device, std::size_t bytes);
// bytes: what device_malloc was asked for. The memory returns to the pool once the work queued on
// the legacy default stream (and on blocking streams) before this call is done; within an
// OpStreamScope, once the work queued on its stream is.
void device_free(int device, void* ptr, std::size_t bytes) noexcept;
// Ordered after the work queued on the legacy default stream (and on blocking streams), or within
// an OpStreamScope on its stream; a copy from the host may reuse its source, and one to the host
// has arrived, when the call returns.
void memcpy_host_to_device(int device, void* dst, const void* src, std::size_t bytes);
void memcpy_device_to_host(int device, void* dst, const void* src, std::size_t bytes);
void memcpy_device_to_device(
    int dst_device, void* dst, int src_device, const void* src, std::size_t bytes);
// The element-wise kernels below are queued on stream (nullptr: the OpStreamScope's, else the
// legacy default stream) and return without waiting for it.
// Fills n elements of 2, 4 or 8 bytes each with the same bit pattern.
void fill_pattern(int device,
                  void* dst,
                  std::size_t n,
                  std::size_t elem_bytes,
                  const void* pattern,
                  CUstream_st* stream = nullptr);
// dst[i] = dst[i] op src[i] for n elements of dtype; float16 and bfloat16 compute in float and
// round once.
enum class Combine { kAdd, kMultiply };
void combine_inplace(int device,
                     void* dst,
                     const void* src,
                     std::size_t n,
                     DType dtype,
                     Combine op,
                     CUstream_st* stream = nullptr);

}  // namespace wtconv::cuda
