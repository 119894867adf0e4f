// Batch norm over the Wav-KAN outputs on CUDA (WAVKAN.md 3.5 and 4), the CPU backend's arithmetic
// up to the rounding of double sums (1 / B from the host): a block per 8 output channels, forward
// and backward, reading whole 32-byte sectors of z's rows (z is [B, O]: a block per channel read
// its column 4 bytes a sector, one sample's split sums after another, and took 15 us for the
// 512-wide layer at B 256, half as long as the core). The batch sums in double: each of the 64 row
// groups sums its samples in order, then a fixed tree adds the 64 (the same bits every run). Each
// output is rounded once.
#include <cstdint>

#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

// A block of 512 threads per 8 channels (one 32-byte sector of a row of z): 64 blocks for the
// 512-wide layer, 64 row groups, thread (c, g) taking samples g, g + 64, ...
constexpr int kColumns = 8;
constexpr int kGroups = 64;
constexpr int kThreads = kColumns * kGroups;
constexpr int kChunk = 4;  // a thread's samples in flight at once

// The column's sum of v over the row groups, by the same tree every run; every thread of the
// column gets it.
__device__ double column_sum(double v, double (*scratch)[kColumns + 1]) {
    const int c = threadIdx.x % kColumns, group = threadIdx.x / kColumns;
    scratch[group][c] = v;
    __syncthreads();
    for (int half = kGroups / 2; half > 0; half /= 2) {
        if (group < half) {
            scratch[group][c] += scratch[group + half][c];
        }
        __syncthreads();
    }
    const double total = scratch[0][c];
    __syncthreads();  // scratch is reused by the next sum
    return total;
}

// The forward of channels [8 x, 8 x + 8): z from the core's split sums when there are any
// (added in split order in the compute type, rounded once into z: the statistics read what the
// backward will), the statistics that normalise it (the batch's in training, with the running
// ones updated; else the running ones), and y. One launch per layer instead of three (sum the
// splits, statistics, normalise): at B 256 the launches, not the bytes, cost.
template <class T>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(std::int64_t batch,
                   std::int64_t outputs,
                   bool training,
                   double eps,
                   double momentum,
                   double inv_batch,
                   double inv_batch_less_one,
                   const WavKanCompute<T>* __restrict__ partial,
                   int splits,
                   T* __restrict__ z,
                   const T* __restrict__ gamma,
                   const T* __restrict__ beta,
                   const unsigned long long* checks,
                   int check_count,
                   T* __restrict__ running_mean,
                   T* __restrict__ running_var,
                   double* __restrict__ mean_out,
                   double* __restrict__ inv_std_out,
                   T* __restrict__ y) {
    __shared__ double scratch[kGroups][kColumns + 1];
    const std::int64_t o =
        static_cast<std::int64_t>(blockIdx.x) * kColumns + threadIdx.x % kColumns;
    const int group = threadIdx.x / kColumns;
    const bool live = o < outputs;  // the other threads still join the block's barriers
    double s = 0;
    if (live) {
        // kChunk samples at a time, each split's kChunk loads in flight together (a sample's
        // splits one after the other, each load waiting for the last, took 30 us at B 256)
        const std::int64_t n = batch * outputs;
        for (std::int64_t b0 = group; b0 < batch; b0 += kChunk * kGroups) {
            WavKanCompute<T> v[kChunk];
#pragma unroll
            for (int r = 0; r < kChunk; ++r) {
                const std::int64_t b = b0 + r * kGroups;
                v[r] = b < batch
                           ? (splits > 0 ? partial[b * outputs + o] : widen(z[b * outputs + o]))
                           : WavKanCompute<T>(0);
            }
#pragma unroll 4
            for (int sp = 1; sp < splits; ++sp) {
#pragma unroll
                for (int r = 0; r < kChunk; ++r) {
                    const std::int64_t b = b0 + r * kGroups;
                    if (b < batch) {
                        v[r] += partial[sp * n + b * outputs + o];
                    }
                }
            }
#pragma unroll
            for (int r = 0; r < kChunk; ++r) {
                const std::int64_t b = b0 + r * kGroups;
                if (b < batch) {
                    const T stored = narrow<T>(v[r]);
                    if (splits > 0) {
                        z[b * outputs + o] = stored;
                    }
                    s += widen_to_double(stored);
                }
            }
        }
    }
    double mean = live ? widen_to_double(running_mean[o]) : 0.0;
    double var = live ? widen_to_double(running_var[o]) : 0.0;
    if (training) {
        mean = column_sum(s, scratch) * inv_batch;
        double sq = 0;
        if (live) {
            for (std::int64_t b = group; b < batch; b += kGroups) {
                const double d = widen_to_double(z[b * outputs + o]) - mean;
                sq += d * d;
            }
        }
        const double squares = column_sum(sq, scratch);
        var = squares * inv_batch;
        bool clean = true;  // the forward throws, and changes nothing, when a check failed
        for (int j = 0; j < check_count; ++j) {
            clean = clean && checks[j] == ~0ull;
        }
        if (group == 0 && live && clean) {
            running_mean[o] = narrow_from_double<T>(
                (1.0 - momentum) * widen_to_double(running_mean[o]) + momentum * mean);
            running_var[o] =
                narrow_from_double<T>((1.0 - momentum) * widen_to_double(running_var[o]) +
                                      momentum * squares * inv_batch_less_one);
        }
    }
    if (!live) {
        return;
    }
    const double inv_std = 1.0 / sqrt(var + eps);
    if (group == 0) {
        mean_out[o] = mean;
        inv_std_out[o] = inv_std;
    }
    const double g = widen_to_double(gamma[o]), bias = widen_to_double(beta[o]);
    for (std::int64_t b = group; b < batch; b += kGroups) {
        const std::int64_t k = b * outputs + o;
        y[k] = narrow_from_double<T>(g * ((widen_to_double(z[k]) - mean) * inv_std) + bias);
    }
}

template <class T>
__global__ void __launch_bounds__(kThreads) backward_kernel(std::int64_t batch,
                                                            std::int64_t outputs,
                                                            bool training,
                                                            double inv_batch,
                                                            const T* __restrict__ dy,
                                                            const T* __restrict__ gamma,
                                                            const T* __restrict__ z,
                                                            const double* __restrict__ mean,
                                                            const double* __restrict__ inv_std,
                                                            T* __restrict__ g,
                                                            T* __restrict__ dgamma,
                                                            T* __restrict__ dbeta) {
    __shared__ double scratch[kGroups][kColumns + 1];
    const std::int64_t o =
        static_cast<std::int64_t>(blockIdx.x) * kColumns + threadIdx.x % kColumns;
    const int group = threadIdx.x / kColumns;
    const bool live = o < outputs;
    const double m = live ? mean[o] : 0.0, inv = live ? inv_std[o] : 0.0;
    double s = 0, sh = 0;
    if (live) {
        for (std::int64_t b = group; b < batch; b += kGroups) {
            const std::int64_t k = b * outputs + o;
            const double d = widen_to_double(dy[k]);
            s += d;
            sh += d * ((widen_to_double(z[k]) - m) * inv);
        }
    }
    const double sum_dy = column_sum(s, scratch);
    const double sum_dy_h = column_sum(sh, scratch);
    if (!live) {
        return;
    }
    if (group == 0) {
        dbeta[o] = narrow_from_double<T>(sum_dy);
        dgamma[o] = narrow_from_double<T>(sum_dy_h);
    }
    const double scale = widen_to_double(gamma[o]) * inv;
    const double mean_dy = training ? sum_dy * inv_batch : 0.0;
    const double mean_dy_h = training ? sum_dy_h * inv_batch : 0.0;
    for (std::int64_t b = group; b < batch; b += kGroups) {
        const std::int64_t k = b * outputs + o;
        const double h = (widen_to_double(z[k]) - m) * inv;
        g[k] = narrow_from_double<T>(scale * (widen_to_double(dy[k]) - mean_dy - h * mean_dy_h));
    }
}

unsigned channel_blocks(std::int64_t outputs) {
    return static_cast<unsigned>((outputs + kColumns - 1) / kColumns);
}

}  // namespace

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
                              Tensor& inv_std) {
    const DeviceGuard guard(z.device().index);
    const std::int64_t batch = z.size(0), outputs = z.size(1);
    with_wavkan_dtype(z.dtype(), [&](auto tag) {
        using T = decltype(tag);
        using C = WavKanCompute<T>;
        forward_kernel<T><<<channel_blocks(outputs), kThreads, 0, ctx.cuda_stream()>>>(
            batch, outputs, p.training, p.bn_eps, p.bn_momentum, 1.0 / static_cast<double>(batch),
            batch > 1 ? 1.0 / static_cast<double>(batch - 1) : 0.0,
            sums.splits > 0 ? sums.partial.data<C>() : nullptr, sums.splits, storage<T>(z),
            storage<T>(gamma), storage<T>(beta),
            checks.defined() ? static_cast<const unsigned long long*>(checks.raw_data()) : nullptr,
            checks.defined() ? static_cast<int>(checks.numel() / 2) : 0, storage<T>(running.mean),
            storage<T>(running.var), mean.data<double>(), inv_std.data<double>(), storage<T>(y));
        WTCONV_CUDA_CHECK_LAUNCH();
    });
}

void wavkan_batchnorm_backward(Context& ctx,
                               const WavKanParams& p,
                               const Tensor& dy,
                               const Tensor& gamma,
                               const Tensor& z,
                               const Tensor& mean,
                               const Tensor& inv_std,
                               Tensor& g,
                               Tensor& dgamma,
                               Tensor& dbeta) {
    const DeviceGuard guard(dy.device().index);
    const std::int64_t batch = dy.size(0), outputs = dy.size(1);
    with_wavkan_dtype(dy.dtype(), [&](auto tag) {
        using T = decltype(tag);
        backward_kernel<T><<<channel_blocks(outputs), kThreads, 0, ctx.cuda_stream()>>>(
            batch, outputs, p.training, 1.0 / static_cast<double>(batch), storage<T>(dy),
            storage<T>(gamma), storage<T>(z), mean.data<double>(), inv_std.data<double>(),
            storage<T>(g), storage<T>(dgamma), storage<T>(dbeta));
        WTCONV_CUDA_CHECK_LAUNCH();
    });
}

}  // namespace wtconv::cuda
