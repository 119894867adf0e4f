// Batch norm over the Wav-KAN outputs on CUDA (WAVKAN.md 3.5 and 4), the CPU backend's arithmetic
// up to the last bit of a double (1 / B from the host): one block per output channel, forward and
// backward, the batch sums in double by a fixed-order tree (the same bits every run), each output
// rounded once.
#include <cstdint>

#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

constexpr int kThreads = 256;

// The block's sum of v (every thread's value), the same tree every run; all threads get it.
__device__ double block_sum(double v, double* scratch) {
    scratch[threadIdx.x] = v;
    __syncthreads();
    for (int stride = kThreads / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) {
            scratch[threadIdx.x] += scratch[threadIdx.x + stride];
        }
        __syncthreads();
    }
    const double total = scratch[0];
    __syncthreads();  // scratch is reused by the next sum
    return total;
}

// Channel o's whole forward, one block per channel: z's column from the core's split sums when
// there are any (added in split order in the compute type, rounded once into z: the statistics
// read what the backward will), the statistics that normalise it (the batch's in training, with
// the running ones updated; else the running ones), and y's column. One launch per layer instead of
// three (sum the splits, statistics, normalise): at B 256 the launches, not the bytes, cost.
template <class T>
__global__ void __launch_bounds__(kThreads, 1)
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
    __shared__ double scratch[kThreads];
    const std::int64_t o = blockIdx.x;
    if (splits > 0) {
        const std::int64_t n = batch * outputs;
        for (std::int64_t b = threadIdx.x; b < batch; b += kThreads) {
            const std::int64_t k = b * outputs + o;
            WavKanCompute<T> v = partial[k];
            for (int s = 1; s < splits; ++s) {
                v += partial[s * n + k];
            }
            z[k] = narrow<T>(v);
        }
        __syncthreads();  // the block's writes of z before its reads
    }
    double mean = widen_to_double(running_mean[o]);
    double var = widen_to_double(running_var[o]);
    if (training) {
        double s = 0;
        for (std::int64_t b = threadIdx.x; b < batch; b += kThreads) {
            s += widen_to_double(z[b * outputs + o]);
        }
        mean = block_sum(s, scratch) * inv_batch;
        double sq = 0;
        for (std::int64_t b = threadIdx.x; b < batch; b += kThreads) {
            const double d = widen_to_double(z[b * outputs + o]) - mean;
            sq += d * d;
        }
        const double squares = block_sum(sq, scratch);
        var = squares * inv_batch;
        bool clean = true;  // the forward throws, and changes nothing, when a check failed
        for (int j = 0; j < check_count; ++j) {
            clean = clean && checks[j] == ~0ull;
        }
        if (threadIdx.x == 0 && clean) {
            running_mean[o] = narrow_from_double<T>(
                (1.0 - momentum) * widen_to_double(running_mean[o]) + momentum * mean);
            running_var[o] =
                narrow_from_double<T>((1.0 - momentum) * widen_to_double(running_var[o]) +
                                      momentum * squares * inv_batch_less_one);
        }
    }
    const double inv_std = 1.0 / sqrt(var + eps);
    if (threadIdx.x == 0) {
        mean_out[o] = mean;
        inv_std_out[o] = inv_std;
    }
    const double g = widen_to_double(gamma[o]), bias = widen_to_double(beta[o]);
    for (std::int64_t b = threadIdx.x; b < batch; b += kThreads) {
        const std::int64_t k = b * outputs + o;
        y[k] = narrow_from_double<T>(g * ((widen_to_double(z[k]) - mean) * inv_std) + bias);
    }
}

template <class T>
__global__ void __launch_bounds__(kThreads, 1) backward_kernel(std::int64_t batch,
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
    __shared__ double scratch[kThreads];
    const std::int64_t o = blockIdx.x;
    const double m = mean[o], inv = inv_std[o];
    double s = 0, sh = 0;
    for (std::int64_t b = threadIdx.x; b < batch; b += kThreads) {
        const std::int64_t k = b * outputs + o;
        const double d = widen_to_double(dy[k]);
        s += d;
        sh += d * ((widen_to_double(z[k]) - m) * inv);
    }
    const double sum_dy = block_sum(s, scratch);
    const double sum_dy_h = block_sum(sh, scratch);
    if (threadIdx.x == 0) {
        dbeta[o] = narrow_from_double<T>(sum_dy);
        dgamma[o] = narrow_from_double<T>(sum_dy_h);
    }
    const double scale = widen_to_double(gamma[o]) * inv;
    const double mean_dy = training ? sum_dy * inv_batch : 0.0;
    const double mean_dy_h = training ? sum_dy_h * inv_batch : 0.0;
    for (std::int64_t b = threadIdx.x; b < batch; b += kThreads) {
        const std::int64_t k = b * outputs + o;
        const double h = (widen_to_double(z[k]) - m) * inv;
        g[k] = narrow_from_double<T>(scale * (widen_to_double(dy[k]) - mean_dy - h * mean_dy_h));
    }
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
        forward_kernel<T><<<static_cast<unsigned>(outputs), kThreads, 0, ctx.cuda_stream()>>>(
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
        backward_kernel<T><<<static_cast<unsigned>(outputs), kThreads, 0, ctx.cuda_stream()>>>(
            batch, outputs, p.training, 1.0 / static_cast<double>(batch), storage<T>(dy),
            storage<T>(gamma), storage<T>(z), mean.data<double>(), inv_std.data<double>(),
            storage<T>(g), storage<T>(dgamma), storage<T>(dbeta));
        WTCONV_CUDA_CHECK_LAUNCH();
    });
}

}  // namespace wtconv::cuda
