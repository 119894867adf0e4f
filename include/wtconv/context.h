#pragma once
// Context: what an op call runs with: the device, the CPU thread count, the CUDA stream, and
// debugging switches. Ops take it first; default_context(device) gives the calling thread's context
// for a device.
#include <wtconv/device.h>

// The CUDA runtime's stream type (cudaStream_t is CUstream_st*), declared here so that the public
// headers need no CUDA header.
struct CUstream_st;

namespace wtconv {

struct ContextOptions {
    int num_threads = 0;          // CPU threads for ops; 0 = OpenMP's default
    bool poison_outputs = false;  // fill every output with NaN before a kernel writes it (tests)
    // The stream CUDA ops are queued on; nullptr = the legacy default stream. A stream created
    // with cudaStreamNonBlocking must be synchronised by the caller before tensors it used are
    // freed (tensor memory is returned on the legacy default stream).
    CUstream_st* cuda_stream = nullptr;
};

class Context {
public:
    explicit Context(Device device = Device::cpu(), ContextOptions options = {});
    Device device() const { return device_; }
    int num_threads() const;  // the resolved count (>= 1)
    void set_num_threads(int num_threads) { options_.num_threads = num_threads; }
    bool poison_outputs() const { return options_.poison_outputs; }
    void set_poison_outputs(bool poison) { options_.poison_outputs = poison; }
    CUstream_st* cuda_stream() const { return options_.cuda_stream; }
    void set_cuda_stream(CUstream_st* stream) { options_.cuda_stream = stream; }

private:
    Device device_;
    ContextOptions options_;
};

// The calling thread's context for device, created on first use.
Context& default_context(Device device);

}  // namespace wtconv
