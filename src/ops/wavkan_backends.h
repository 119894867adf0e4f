#pragma once
// Internal: the pieces of the Wav-KAN op each backend implements. src/ops/wavkan.cpp has checked
// every argument and allocated every output before calling them; backends trust both. Shapes: x
// (B, I), per-edge tensors (O, I), z, g, y (B, O), per-output tensors (O).
#include <cstdint>
#include <vector>

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

// The same two by the plain composition (WavKanAlgo::kUnfused): wavelet_weights psi materialised as
// a (B, O, I) tensor and summed over i; in backward the four per-(b, o, i) terms of dx, dscale,
// dtranslation and dwavelet_weights materialised, then summed (dx over o, the others over b).
void wavkan_core_forward_unfused(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z);
void wavkan_core_backward_unfused(Context& ctx,
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

namespace wtconv::cuda {

// The fused forward puts the batch on gridDim.y in tiles of 64 samples: at most 65535 tiles.
// Nothing else of the fused kernels has a limit below the memory's (out_features goes to
// gridDim.x).
constexpr std::int64_t kWavKanFusedMaxBatch = std::int64_t{65535} * 64;

// The CUDA backend (cuda/wavkan_*.cu), the same contracts as the cpu:: functions of the same names,
// on the context's stream; float32 and float64 (float16 and bfloat16 storage with float32 sums for
// the core). Every sum runs in a fixed order: repeated calls give identical bits.
void wavkan_core_forward(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z);
// The fused core's sums over the inputs as its kernel leaves them: in z (splits 0), or as splits
// (B, O) partial sums in the compute type (float for float32 and the half types) that still have
// to be added in split order and rounded into z.
struct WavKanCoreSums {
    Tensor partial;
    int splits = 0;
};
// wavkan_core_forward without its last pass: for batch norm, which adds the splits as it reads z.
WavKanCoreSums wavkan_core_forward_sums(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z);
void wavkan_core_backward(Context& ctx,
                          KanWavelet wavelet,
                          const Tensor& x,
                          const WavKanWeights& w,
                          const Tensor& g,
                          WavKanWeights& dw,
                          Tensor* dx);
void wavkan_core_forward_unfused(
    Context& ctx, KanWavelet wavelet, const Tensor& x, const WavKanWeights& w, Tensor& z);
void wavkan_core_backward_unfused(Context& ctx,
                                  KanWavelet wavelet,
                                  const Tensor& x,
                                  const WavKanWeights& w,
                                  const Tensor& g,
                                  WavKanWeights& dw,
                                  Tensor* dx);
void wavkan_base_forward(Context& ctx, const Tensor& x, const Tensor& base_weight, Tensor& z);
void wavkan_base_backward(Context& ctx,
                          const Tensor& x,
                          const Tensor& base_weight,
                          const Tensor& g,
                          Tensor& dbase_weight,
                          Tensor* dx);
// As the CPU's, except that the running statistics stay as they are when any result of
// wavkan_check_values_launch in checks is bad (the forward then throws); checks may be undefined
// (values not checked). With sums.splits > 0, z is first written from the core's partial sums.
void wavkan_batchnorm_forward(Context& ctx,
                              const WavKanParams& p,
                              const WavKanCoreSums& sums,
                              Tensor& z,
                              const Tensor& gamma,
                              const Tensor& beta,
                              const Tensor& checks,
                              WavKanRunningStats& running,
                              Tensor& y,
                              Tensor& mean,
                              Tensor& inv_std);
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
// The value checks of a forward on CUDA, in two halves so that the host waits once, at the end of
// the call, and then only for the checks: check_values_launch queues a search of each tensor (all
// of one dtype) for its first element that is not finite, or, for tensors[reciprocal] (the scale),
// also one whose reciprocal in the compute type is not (zero, or tinier than 1 / the largest
// value), or, for tensors[nonnegative] (the running variance; -1: none), also one below 0; the
// returned device tensor holds the results, which wavkan_batchnorm_forward reads to leave the
// running statistics alone when any is bad. check_values_read (same thread, next) waits for that
// copy, not for the kernels queued after it, and returns, per tensor, that index or -1.
Tensor wavkan_check_values_launch(Context& ctx,
                                  const std::vector<const Tensor*>& tensors,
                                  int reciprocal,
                                  int nonnegative);
std::vector<std::int64_t> wavkan_check_values_read(Context& ctx, const Tensor& results);
// Frees the checks' per-thread state on device (a few bytes of device and pinned memory and an
// event per thread): cuda_empty_cache, with the device idle.
void release_wavkan_check_stages(int device);

}  // namespace wtconv::cuda
