#pragma once
// Context: what an op call runs with: the device, the CPU thread count, the CUDA stream, and
// debugging switches. Ops take it first; default_context(device) gives the calling thread's context
// for a device.
#include <cstddef>
#include <memory>

#include <wtconv/device.h>

// The CUDA runtime's stream type (cudaStream_t is CUstream_st*), declared here so that the public
// headers need no CUDA header.
struct CUstream_st;

namespace wtconv {

namespace detail {
class HostWorkspace;
}

struct ContextOptions {
    int num_threads = 0;          // CPU threads for ops; 0 = OpenMP's default
    bool poison_outputs = false;  // fill every output with NaN before a kernel writes it (tests)
    // The stream CUDA ops are queued on; nullptr = the legacy default stream. Memory is
    // allocated, filled, copied and freed on the legacy default stream, which waits for blocking
    // streams; with a stream created with cudaStreamNonBlocking an op does its own memory work
    // (outputs, temporaries) on that stream, in order with its kernels, but tensors the caller
    // frees, copies (to, copy_from) or fills still go through the legacy stream: synchronise such
    // a stream first.
    CUstream_st* cuda_stream = nullptr;
    // Ops that reject non-finite inputs and parameters (wavkan) scan them on every call: O(inputs
    // + parameters) work, and on CUDA one more kernel per call whose end the host waits for (the
    // stream's later work runs on). false skips the scan (a trusted training loop; NaN then
    // propagates as the arithmetic makes it). Shapes, dtypes and devices are checked either way.
    bool check_values = true;
};

class Context {
public:
    explicit Context(Device device = Device::cpu(), ContextOptions options = {});
    // A copy takes the device and options, not the workspace: two contexts never share scratch.
    Context(const Context& other);
    Context& operator=(const Context& other);
    Context(Context&& other) noexcept;
    Context& operator=(Context&& other) noexcept;
    ~Context();

    Device device() const { return device_; }
    int num_threads() const;  // the resolved count (>= 1)
    void set_num_threads(int num_threads) { options_.num_threads = num_threads; }
    bool poison_outputs() const { return options_.poison_outputs; }
    void set_poison_outputs(bool poison) { options_.poison_outputs = poison; }
    CUstream_st* cuda_stream() const { return options_.cuda_stream; }
    void set_cuda_stream(CUstream_st* stream) { options_.cuda_stream = stream; }
    bool check_values() const { return options_.check_values; }
    void set_check_values(bool check) { options_.check_values = check; }

    // Host scratch of at least bytes, 64-byte aligned, kept between calls so that ops do not
    // allocate per call (its contents are not kept). One op call at a time may use it: a context
    // is not shared between threads.
    void* host_workspace(std::size_t bytes);
    std::size_t host_workspace_bytes() const;

private:
    Device device_;
    ContextOptions options_;
    std::unique_ptr<detail::HostWorkspace> workspace_;
};

// The calling thread's context for device, created on first use.
Context& default_context(Device device);

}  // namespace wtconv
