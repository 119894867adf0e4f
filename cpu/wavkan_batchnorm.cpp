// Batch norm over the Wav-KAN outputs on the CPU (WAVKAN.md 3.5 and 4), PyTorch's BatchNorm1d on
// (B, O): one output channel per loop iteration, in double (B O elements, next to the core's
// B O I wavelets), each output rounded once.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/float_types.h"
#include "cpu/parallel.h"
#include "ops/wavkan_backends.h"

namespace wtconv::cpu {

namespace {

template <class T>
void forward(Context& ctx,
             const WavKanParams& p,
             const Tensor& z,
             const Tensor& gamma,
             const Tensor& beta,
             WavKanRunningStats& running,
             Tensor& y,
             Tensor& mean_out,
             Tensor& inv_std_out) {
    const std::int64_t batch = z.size(0), outputs = z.size(1);
    const T* zp = z.data<T>();
    const T* gp = gamma.data<T>();
    const T* bp = beta.data<T>();
    T* rm = running.mean.data<T>();
    T* rv = running.var.data<T>();
    T* yp = y.data<T>();
    double* mp = mean_out.data<double>();
    double* ip = inv_std_out.data<double>();
#pragma omp parallel for num_threads(thread_count(ctx, outputs)) schedule(static)
    for (std::int64_t o = 0; o < outputs; ++o) {
        double mean = static_cast<double>(rm[o]);
        double var = static_cast<double>(rv[o]);
        if (p.training) {
            double sum = 0;
            for (std::int64_t b = 0; b < batch; ++b) {
                sum += static_cast<double>(zp[b * outputs + o]);
            }
            mean = sum / static_cast<double>(batch);
            double squares = 0;
            for (std::int64_t b = 0; b < batch; ++b) {
                const double d = static_cast<double>(zp[b * outputs + o]) - mean;
                squares += d * d;
            }
            var = squares / static_cast<double>(batch);  // biased: what normalises
            const double m = p.bn_momentum;
            const double unbiased = squares / static_cast<double>(batch - 1);
            rm[o] = static_cast<T>((1.0 - m) * static_cast<double>(rm[o]) + m * mean);
            rv[o] = static_cast<T>((1.0 - m) * static_cast<double>(rv[o]) + m * unbiased);
        }
        const double inv = 1.0 / std::sqrt(var + p.bn_eps);
        mp[o] = mean;
        ip[o] = inv;
        const double g = static_cast<double>(gp[o]);
        const double shift = static_cast<double>(bp[o]);
        for (std::int64_t b = 0; b < batch; ++b) {
            const std::int64_t k = b * outputs + o;
            yp[k] = static_cast<T>(g * ((static_cast<double>(zp[k]) - mean) * inv) + shift);
        }
    }
}

template <class T>
void backward(Context& ctx,
              const WavKanParams& p,
              const Tensor& dy,
              const Tensor& gamma,
              const Tensor& z,
              const Tensor& mean_in,
              const Tensor& inv_std_in,
              Tensor& g,
              Tensor& dgamma,
              Tensor& dbeta) {
    const std::int64_t batch = dy.size(0), outputs = dy.size(1);
    const T* dyp = dy.data<T>();
    const T* gp = gamma.data<T>();
    const T* zp = z.data<T>();
    const double* mp = mean_in.data<double>();
    const double* ip = inv_std_in.data<double>();
    T* outp = g.data<T>();
    T* dgp = dgamma.data<T>();
    T* dbp = dbeta.data<T>();
#pragma omp parallel for num_threads(thread_count(ctx, outputs)) schedule(static)
    for (std::int64_t o = 0; o < outputs; ++o) {
        const auto zhat = [&](std::int64_t b) {
            return (static_cast<double>(zp[b * outputs + o]) - mp[o]) * ip[o];
        };
        double sum_dy = 0;
        double sum_dy_h = 0;
        for (std::int64_t b = 0; b < batch; ++b) {
            const double d = static_cast<double>(dyp[b * outputs + o]);
            sum_dy += d;
            sum_dy_h += d * zhat(b);
        }
        dbp[o] = static_cast<T>(sum_dy);
        dgp[o] = static_cast<T>(sum_dy_h);
        const double scale = static_cast<double>(gp[o]) * ip[o];
        // Training: the batch statistics depend on z, so the mean of dy and of dy zhat come off.
        // A constant channel (zhat 0) then leaves a centred dy that sums to 0 over the batch.
        const double mean_dy = p.training ? sum_dy / static_cast<double>(batch) : 0.0;
        const double mean_dy_h = p.training ? sum_dy_h / static_cast<double>(batch) : 0.0;
        for (std::int64_t b = 0; b < batch; ++b) {
            const std::int64_t k = b * outputs + o;
            outp[k] = static_cast<T>(scale *
                                     (static_cast<double>(dyp[k]) - mean_dy - zhat(b) * mean_dy_h));
        }
    }
}

}  // namespace

void wavkan_batchnorm_forward(Context& ctx,
                              const WavKanParams& p,
                              const Tensor& z,
                              const Tensor& gamma,
                              const Tensor& beta,
                              WavKanRunningStats& running,
                              Tensor& y,
                              Tensor& mean,
                              Tensor& inv_std) {
    with_float_type(z.dtype(), [&](auto tag) {
        forward<decltype(tag)>(ctx, p, z, gamma, beta, running, y, mean, inv_std);
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
    with_float_type(dy.dtype(), [&](auto tag) {
        backward<decltype(tag)>(ctx, p, dy, gamma, z, mean, inv_std, g, dgamma, dbeta);
    });
}

}  // namespace wtconv::cpu
