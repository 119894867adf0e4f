#pragma once
// Conv2d with PyTorch's nn.Conv2d semantics (zero padding, stride, dilation, groups, bias; a
// cross-correlation), computed by img2col + GEMM. Forward and backward; docs/conv2d.md.
#include <wtconv/context.h>
#include <wtconv/tensor.h>

namespace wtconv {

// Which implementation runs; an explicit choice the device cannot run throws Error(kNotSupported).
enum class Conv2dAlgo {
    kAuto,     // CPU: kImg2col; CUDA: kImplicitGemm forward, kImg2col backward
    kImg2col,  // CPU: column chunks in a reusable workspace, GEMM, OpenMP. CUDA (the plain path):
               // the column matrix in device memory, cuBLAS GEMM, col2im for dx
    kImplicitGemm,  // CUDA only: the columns gathered inside the GEMM's tile loads, no column
                    // matrix in memory (forward; its backward runs kImg2col's kernels)
};
const char* conv2d_algo_name(Conv2dAlgo algo);

struct Conv2dParams {
    int stride_h = 1, stride_w = 1;      // >= 1
    int pad_h = 0, pad_w = 0;            // >= 0, zeros on both sides of each axis
    int dilation_h = 1, dilation_w = 1;  // >= 1
    int groups = 1;  // >= 1; in and out channels divisible by it; groups == C is depthwise
    bool bias = true;
    Conv2dAlgo algo = Conv2dAlgo::kAuto;
    // CUDA float32 only: let products run on the TF32 tensor cores (inputs rounded to 10 mantissa
    // bits, float32 sums), as cuDNN's and PyTorch's allow_tf32. Off: float32 FMA, IEEE products.
    bool allow_tf32 = false;
};

struct Conv2dWeights {
    Tensor weight;  // (O, C / groups, kh, kw)
    Tensor bias;    // (O); undefined when !params.bias
};

// What backward reads.
struct Conv2dSaved {
    Tensor x;  // the forward input (shares its storage, no copy)
};

struct Conv2dGrads {
    Tensor dx;               // like x; undefined when backward was asked not to compute it
    Conv2dWeights dweights;  // like the weights
};

// The output shape (N, O, Ho, Wo) for input shape x and weight shape w, with
// Ho = floor((H + 2 pad_h - dilation_h (kh - 1) - 1) / stride_h) + 1 (likewise Wo). Throws
// Error naming the argument when the shapes or params do not fit (e.g. Ho < 1).
Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dParams& params);

// x: (N, C, H, W), float32 or float64 on the CPU; float32, float64, float16 or bfloat16 on CUDA
// (half types accumulate in float32 and round once). The weights of the same dtype and device.
// Pass saved to train (backward needs it). Throws Error naming any argument that does not fit.
Tensor conv2d_forward(Context& ctx,
                      const Tensor& x,
                      const Conv2dWeights& weights,
                      const Conv2dParams& params,
                      Conv2dSaved* saved = nullptr);

// dy: the gradient of the loss with respect to the forward's output. need_dx = false skips dx
// (a network's first layer), which is then undefined.
Conv2dGrads conv2d_backward(Context& ctx,
                            const Tensor& dy,
                            const Conv2dWeights& weights,
                            const Conv2dParams& params,
                            const Conv2dSaved& saved,
                            bool need_dx = true);

// True when algo runs conv2d on device for dtype (any valid shape), so a call would not throw
// kNotSupported.
bool conv2d_supports(Conv2dAlgo algo, Device device, DType dtype);

}  // namespace wtconv
