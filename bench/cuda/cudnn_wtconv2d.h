#pragma once
// The "cuDNN-composed" comparator (PERF.md section 5): WTConv2d computed stage by stage from cuDNN
// calls, the way eager PyTorch runs the reference module, float32 NCHW in FMA math (no TF32).
// Per level: a bottom/right zero pad when a side is odd (a strided copy into a zeroed buffer), the
// DWT as a grouped stride-2 convolution with the (4C, 1, F, F) analysis filter, the level's
// depthwise KxK convolution, the scale as an OpTensor product; the coarser reconstruction is added
// into the LL channels through a strided view, the IDWT is a backward-data convolution with the
// synthesis filter, the crop is a view. Base branch: depthwise conv, bias add, scale, final add;
// the stride subsamples through a strided copy. Backward: backward-data / -filter / -bias
// convolutions and OpTensor products reduced with ReduceTensor for the scale gradients.
// Algorithms are chosen once per shape with cudnnFind*, buffers and one workspace allocated once.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <cuda_runtime.h>

#include <wtconv/ops/wtconv.h>
#include <wtconv/tensor.h>

namespace wtconv::bench {

struct CudnnWTConv2dConfig {
    std::int64_t n = 0, c = 0, h = 0, w = 0;
    // Odd only: 'same' padding is then (K - 1) / 2 on every side, which cuDNN's symmetric padding
    // expresses; an even K would need PyTorch's extra bottom/right row and column.
    int kernel_size = 5;
    int levels = 1;  // L >= 0
    int stride = 1;  // >= 1, subsampling as in WTCONV.md section 4
    bool bias = true;
    std::string wavelet = "db1";  // the filters come from the library's wavelet table
};

class CudnnWTConv2d {
public:
    // Creates the cuDNN handle on stream, the descriptors, chooses every algorithm (this runs each
    // candidate once) and allocates every buffer. Throws wtconv::Error naming the failing call.
    CudnnWTConv2d(const CudnnWTConv2dConfig& config, int device, cudaStream_t stream);
    ~CudnnWTConv2d();
    CudnnWTConv2d(const CudnnWTConv2d&) = delete;
    CudnnWTConv2d& operator=(const CudnnWTConv2d&) = delete;

    // x: (N, C, H, W) float32 on the device, weights float32 on the device in the library's layout
    // (WTConvWeights). Enqueues the forward on the stream and returns y, a view of a buffer that
    // the next forward overwrites. Keeps what backward reads (the base conv output, every level's
    // sub-bands and filtered sub-bands), as autograd does in training.
    const Tensor& forward(const Tensor& x, const WTConvWeights& w);
    // The gradients of the last forward, which must have run on the same x and w; dy shaped like y.
    // Returned tensors are views of buffers that the next backward overwrites.
    const WTConvGrads& backward(const Tensor& x, const Tensor& dy, const WTConvWeights& w);

    // Device bytes this object allocated (outputs, intermediates, the one shared workspace), not
    // counting x, dy and the weights: what a forward alone needs, and forward + backward.
    std::size_t forward_bytes() const;
    std::size_t total_bytes() const;
    // cuDNN calls in one forward and in one backward (each launches one or a few kernels).
    int forward_calls() const;
    int backward_calls() const;
    // The chosen algorithms, one line per convolution, for the benchmark's context.
    std::string algorithms() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace wtconv::bench
