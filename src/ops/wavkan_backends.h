#pragma once
// Internal: the pieces of the Wav-KAN op each backend implements. src/ops/wavkan.cpp has checked
// every argument and allocated every output before calling them; backends trust both. Shapes: x
// (B, I), per-edge tensors (O, I), z, g, y (B, O), per-output tensors (O).
#include <wtconv/context.h>
#include <wtconv/ops/wavkan.h>

namespace wtconv::cpu {

// z = the wavelet sum (written whole).
void wavkan_core_forward(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z);
// From g = dL/dz: dw.scale, dw.translation, dw.wavelet_weights (written whole) and, when dx is not
// null, dx (written whole: the core's part of it).
void wavkan_core_backward(Context& ctx,
                          KanWavelet wavelet,
                          const Tensor& x,
                          const WavKanWeights& w,
                          const Tensor& g,
                          WavKanWeights& dw,
                          Tensor* dx);

// z += SiLU(x) base_weight^T.
void wavkan_base_forward(Context& ctx, const Tensor& x, const Tensor& base_weight, Tensor& z);
// dbase_weight = g^T SiLU(x) (written whole); dx += SiLU'(x) (g base_weight) when dx is not null.
void wavkan_base_backward(Context& ctx,
                          const Tensor& x,
                          const Tensor& base_weight,
                          const Tensor& g,
                          Tensor& dbase_weight,
                          Tensor* dx);

// y, and the statistics that normalise z (float64 mean and inv_std, written whole); in training the
// running statistics are updated.
void wavkan_batchnorm_forward(Context& ctx,
                              const WavKanParams& p,
                              const Tensor& z,
                              const Tensor& gamma,
                              const Tensor& beta,
                              WavKanRunningStats& running,
                              Tensor& y,
                              Tensor& mean,
                              Tensor& inv_std);
// g = dL/dz, dgamma, dbeta from dy (written whole).
void wavkan_batchnorm_backward(Context& ctx,
                               const WavKanParams& p,
                               const Tensor& dy,
                               const Tensor& gamma,
                               const Tensor& z,
                               const Tensor& mean,
                               const Tensor& inv_std,
                               Tensor& g,
                               Tensor& dgamma,
                               Tensor& dbeta);

}  // namespace wtconv::cpu
