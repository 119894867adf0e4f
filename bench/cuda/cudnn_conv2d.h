#pragma once
// cuDNN's convolution, the CUDA conv2d benchmark's comparator: one NCHW convolution plus bias
// through the legacy API, forward and backward (data, filter, bias), in one math mode. The fastest
// algorithm of each direction is chosen once by cudnnFind*, and one workspace is allocated for
// them. A self-check holds the float32 FMA mode against the library's CPU conv2d in float64.
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include <wtconv/tensor.h>

#include "support/conv2d_work.h"

namespace wtconv::bench {

enum class CudnnMath {
    kFma,   // float32 data, CUDNN_FMA_MATH: FMA kernels only, IEEE float32 products
    kTf32,  // float32 data, CUDNN_DEFAULT_MATH: the TF32 tensor cores allowed (Ampere and later)
    kHalf,  // float16 data, float32 compute type, CUDNN_TENSOR_OP_MATH
    kBf16,  // bfloat16 data, float32 compute type, CUDNN_TENSOR_OP_MATH
};
const char* cudnn_math_name(CudnnMath math);
DType cudnn_math_dtype(CudnnMath math);  // the data's dtype (float32 for kFma and kTf32)

// One direction's chosen algorithm.
struct CudnnChoice {
    std::string algo;  // the enum's name without its prefix: "IMPLICIT_PRECOMP_GEMM", "ALGO_1"
    std::size_t workspace = 0;
    float find_ms = 0;  // cuDNN's own time for it during the search
    // The math type cuDNN's search reports for it ("fma", "default", "tensor_op"); tensor_op is
    // that report being CUDNN_TENSOR_OP_MATH. A "default" report in tf32 mode may still be TF32:
    // the numbers (rel_l2_y_vs_fp32) tell.
    bool tensor_op = false;
    std::string math_report;
};

class CudnnConv2d {
public:
    // The problem's batch, sizes, stride and padding (dilation 1, one group). Creates the handle on
    // stream, chooses the forward algorithm and, when backward, the backward-data and
    // backward-filter ones (each search runs every candidate once), and allocates y (and dx, dw,
    // db) and the workspace. Throws wtconv::Error naming the failing call.
    CudnnConv2d(const Conv2dProblem& problem,
                CudnnMath math,
                bool backward,
                int device,
                cudaStream_t stream);
    ~CudnnConv2d();
    CudnnConv2d(const CudnnConv2d&) = delete;
    CudnnConv2d& operator=(const CudnnConv2d&) = delete;

    // x (N, C, H, W), weight (O, C, k, k), bias (O): the mode's dtype, on the device. Enqueues
    // y = conv(x, weight) + bias into y().
    void forward(const Tensor& x, const Tensor& weight, const Tensor& bias);
    // Enqueues dx, dw and db of dy (shaped like y) into dx(), dw(), db().
    void backward(const Tensor& x, const Tensor& dy, const Tensor& weight);

    // Buffers that the next forward or backward overwrites.
    const Tensor& y() const;
    const Tensor& dx() const;
    const Tensor& dw() const;
    const Tensor& db() const;

    const CudnnChoice& forward_choice() const;
    const CudnnChoice& backward_data_choice() const;    // empty algo without backward
    const CudnnChoice& backward_filter_choice() const;  // empty algo without backward
    std::size_t workspace_bytes() const;                // the largest of the chosen algorithms'
    // One line: each direction's algorithm, its reported math and workspace.
    std::string describe() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The comparator judged before it judges: kFma forward and backward on each problem at batch 2
// against the library's CPU conv2d in float64 on the same float32 values. Prints one line per
// problem to out; true when y, dx, dw and db agree within relative L2 1e-5 everywhere.
bool cudnn_conv2d_self_check(const std::vector<Conv2dProblem>& problems,
                             int device,
                             cudaStream_t stream,
                             std::FILE* out);

}  // namespace wtconv::bench
