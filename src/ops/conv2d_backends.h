#pragma once
// Internal: the signatures the conv2d backends implement. src/ops/conv2d.cpp has checked every
// argument and allocated every output before calling them; backends trust both.
#include <vector>

#include <wtconv/context.h>
#include <wtconv/ops/conv2d.h>
#include <wtconv/ops/conv2d_int8.h>

#include "common/conv2d_geometry.h"

namespace wtconv::detail {

// Every size of a conv2d call from the shapes of x and the weight; throws Error naming the
// argument that does not fit (src/ops/conv2d.cpp, for conv2d and its int8 form alike).
Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& weight, const Conv2dParams& p);

}  // namespace wtconv::detail

namespace wtconv::cpu {

// y: (N, O, Ho, Wo), written whole. bias may be undefined.
void conv2d_forward_img2col(Context& ctx,
                            const detail::Conv2dGeometry& g,
                            const Tensor& x,
                            const Conv2dWeights& w,
                            Tensor& y);
// grads.dweights (and grads.dx when defined) allocated with their final shapes, written whole.
void conv2d_backward_img2col(Context& ctx,
                             const detail::Conv2dGeometry& g,
                             const Tensor& dy,
                             const Tensor& x,
                             const Conv2dWeights& w,
                             Conv2dGrads& grads);

// int8 (cpu/conv2d_int8.cpp). y_q: uint8 (N, O, Ho, Wo), written whole; algo is kAmx, kVnni,
// kAvx2 or kPortable, never kAuto.
void conv2d_int8_forward(Context& ctx,
                         const detail::Conv2dGeometry& g,
                         const Tensor& x_q,
                         const Conv2dInt8Weights& w,
                         const Conv2dInt8Params& p,
                         Conv2dInt8Algo algo,
                         Tensor& y_q);
bool conv2d_int8_amx_available();  // asks Linux for the tile state once
bool conv2d_int8_vnni_available();
bool conv2d_int8_avx2_available();
void quantize_activation(const Tensor& x, const ActivationQuant& q, Tensor& out);
void dequantize_activation(const Tensor& q, const ActivationQuant& quant, Tensor& out);
void quantize_conv2d_weights(const Tensor& w, const Tensor& scale, Tensor& out);

}  // namespace wtconv::cpu

namespace wtconv::cuda {

// CUDA, the plain path (cuda/conv2d_img2col.cu): column matrix in device memory, cuBLAS GEMM
// (float32, float64; float16/bfloat16 inputs with float32 products and sums), col2im for dx.
// allow_tf32: float32 products on the TF32 tensor cores. Same contracts as the CPU functions.
void conv2d_forward_img2col(Context& ctx,
                            const ::wtconv::detail::Conv2dGeometry& g,
                            const Tensor& x,
                            const Conv2dWeights& w,
                            bool allow_tf32,
                            Tensor& y);
void conv2d_backward_img2col(Context& ctx,
                             const ::wtconv::detail::Conv2dGeometry& g,
                             const Tensor& dy,
                             const Tensor& x,
                             const Conv2dWeights& w,
                             bool allow_tf32,
                             Conv2dGrads& grads);

// A tile (output channels x pixels) and K split count of the implicit GEMM.
struct ImplicitGemmPlan {
    int tile_rows, tile_columns, splits;
};

// Every tile the implicit GEMM has for dtype (float32 on the tensor cores with allow_tf32), with
// splits 1: what tests force one by one.
std::vector<ImplicitGemmPlan> implicit_gemm_tiles(DType dtype, bool allow_tf32);

// CUDA implicit GEMM forward (cuda/conv2d_implicit_gemm.cu): the column matrix is never stored;
// each GEMM tile gathers its columns from x. float32/float64 on the FMA pipe, float32 with
// allow_tf32 and float16/bfloat16 on the tensor cores, float32 accumulation for the half types.
// The plan is the planner's, or `forced` (a tile of implicit_gemm_tiles, any split count; tests).
void conv2d_forward_implicit_gemm(Context& ctx,
                                  const ::wtconv::detail::Conv2dGeometry& g,
                                  const Tensor& x,
                                  const Conv2dWeights& w,
                                  bool allow_tf32,
                                  Tensor& y,
                                  const ImplicitGemmPlan* forced = nullptr);

// int8 on CUDA (cuda/conv2d_int8.cu): implicit GEMM on __dp4a, int32 sums, the CPU kernels'
// requantisation bit for bit. Same contracts as the cpu:: functions of the same names.
void conv2d_int8_forward(Context& ctx,
                         const ::wtconv::detail::Conv2dGeometry& g,
                         const Tensor& x_q,
                         const Conv2dInt8Weights& w,
                         const Conv2dInt8Params& p,
                         Tensor& y_q);
void quantize_activation(Context& ctx, const Tensor& x, const ActivationQuant& q, Tensor& out);
void dequantize_activation(Context& ctx,
                           const Tensor& q,
                           const ActivationQuant& quant,
                           Tensor& out);

}  // namespace wtconv::cuda
