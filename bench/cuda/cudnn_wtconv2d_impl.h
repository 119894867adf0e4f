#pragma once
// The comparator's state, shared by its set-up (cudnn_wtconv2d.cpp) and its forward and backward
// (cudnn_wtconv2d_run.cpp). Not for the benchmark itself, which sees only cudnn_wtconv2d.h.
#include <cstddef>
#include <sstream>
#include <vector>

#include <cudnn.h>

#include <wtconv/ops/wtconv.h>
#include <wtconv/tensor.h>

#include "cuda/cudnn_util.h"
#include "cuda/cudnn_wtconv2d.h"

namespace wtconv::bench {

constexpr int kBands = 4;  // LL, LH, HL, HH; channel 4c + band

// One wavelet level: its sizes, views, chosen algorithms and buffers.
struct LevelPlan {
    Dims4 in;      // A_i: (N, C, h_i, w_i)
    Dims4 padded;  // P_i: (N, C, he_i, we_i), even sides
    Dims4 bands;   // Z_i, V_i, S_i: (N, 4C, h_{i+1}, w_{i+1})
    Dims4 band;    // one sub-band of those: (N, C, h_{i+1}, w_{i+1})
    bool pads = false;
    TensorDesc padded_desc;  // P_i, the IDWT's output R_i before the crop, dR_i extended, dP_i
    TensorDesc in_view;      // the top-left h_i x w_i of a padded tensor: the crop and the pad
    TensorDesc bands_desc;   // packed (N, 4C, ...)
    TensorDesc ll_view;      // the LL channels 4c of a bands tensor
    TensorDesc scale_desc;   // (1, 4C, 1, 1)
    AlgoChoice<cudnnConvolutionFwdAlgo_t> dwt_fwd, conv_fwd;
    AlgoChoice<cudnnConvolutionBwdDataAlgo_t> dwt_bwd_data, conv_bwd_data;
    AlgoChoice<cudnnConvolutionBwdFilterAlgo_t> conv_bwd_filter;
    Tensor p, z, v, s, r;  // forward; p undefined where level 0 reads x directly
    Tensor dr, dt, dp;     // backward; dr undefined where level 0 reads dy directly
};

struct CudnnWTConv2d::Impl {
    CudnnWTConv2dConfig cfg;
    int device = 0;
    cudaStream_t stream = nullptr;
    cudnnHandle_t handle = nullptr;

    Dims4 x_dims, out_dims;
    TensorDesc x_desc, out_desc, subsample_view, channel_desc;
    FilterDesc base_filter, level_filter, wavelet_filter;
    ConvDesc base_conv, level_conv, dwt_conv;
    OpTensorDesc mul;
    ReduceDesc sum;
    AlgoChoice<cudnnConvolutionFwdAlgo_t> base_fwd;
    AlgoChoice<cudnnConvolutionBwdDataAlgo_t> base_bwd_data;
    AlgoChoice<cudnnConvolutionBwdFilterAlgo_t> base_bwd_filter;
    std::vector<LevelPlan> levels;

    Tensor analysis, synthesis;     // (4C, 1, F, F)
    Tensor base_out, y_full, y;     // B (bias included), base_scale * B + R_0, y
    Tensor g, scratch, gb, dv, dz;  // stride adjoint of dy, products, base_scale * G, level grads
    WTConvGrads grads;
    Tensor workspace;
    std::size_t workspace_bytes = 0;
    std::size_t fwd_bytes = 0, bwd_bytes = 0;
    int fwd_calls = 0, bwd_calls = 0;
    std::ostringstream algos;

    Impl(const CudnnWTConv2dConfig& c, int dev, cudaStream_t s);
    ~Impl() { cudnnDestroy(handle); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void plan_levels();
    void choose_algorithms();
    void allocate();
    // A zero-filled float32 device buffer, its bytes added to *bytes. Zeros matter only for the
    // padding row/column and the stride gaps, which no call ever writes: they stay zero for good.
    Tensor buffer(const Shape& shape, std::size_t* bytes) const;
    void check_inputs(const Tensor& x, const WTConvWeights& w) const;
    void forward(const Tensor& x, const WTConvWeights& w);
    void backward(const Tensor& x, const Tensor& dy, const WTConvWeights& w);
};

}  // namespace wtconv::bench
