// WTConv2d on CUDA, fused algorithm (WTConvAlgo::kFused): Haar wavelet, K in {3, 5, 7}, float32,
// float16 and bfloat16 storage with float arithmetic. Forward: one kernel that reads x once and
// writes y once. Backward: the same kernel in adjoint mode for dx, one weight-gradient kernel that
// recomputes both pyramids and writes per-block partials, and a finalize kernel that combines them
// in a fixed order. Kernels: cuda/wtconv2d_fused_forward.cuh, cuda/wtconv2d_fused_wgrad.cuh.
#include <algorithm>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wtconv2d_fused_wgrad.cuh"
#include "ops/wtconv_backends.h"

namespace wtconv::cuda {

namespace {

using fused::GradThreads;
using fused::Weights;

template <class S, class T>
Weights<S> weight_pointers(T& w, int levels) {
    const auto ptr = [](auto& t) { return t.defined() ? static_cast<S*>(t.raw_data()) : nullptr; };
    Weights<S> p{};
    p.base_weight = ptr(w.base_weight);
    p.base_bias = ptr(w.base_bias);
    p.base_scale = ptr(w.base_scale);
    for (int i = 0; i < levels; ++i) {
        p.wavelet_weight[i] = ptr(w.wavelet_weight[i]);
        p.wavelet_scale[i] = ptr(w.wavelet_scale[i]);
    }
    return p;
}

FusedPlan plan_for(const Tensor& x, const WTConvParams& p, FusedPass pass) {
    const FusedPlan plan = choose_fused_plan(x.size(0), x.size(1), x.size(2), x.size(3),
                                             p.kernel_size, p.levels, p.stride, pass);
    WTCONV_CHECK_CODE(plan.smem_floats > 0, ErrorCode::kNotSupported,
                      "wtconv2d: the fused algorithm has no tile that fits shared memory for "
                      "kernel_size ",
                      p.kernel_size, " and levels ", p.levels);
    return plan;
}

// Raises the kernel's dynamic shared-memory limit to what this launch needs (the default is
// 48 KB); cheap, so done before every launch rather than cached per device.
template <class Kernel>
void allow_smem(Kernel kernel, int floats) {
    WTCONV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           floats * static_cast<int>(sizeof(float))));
}

// Threads per conv for the weight-gradient kernel: K kernel rows x row groups each, row groups
// handed out greedily to the conv with the most positions per group (fixed by the plan alone).
GradThreads grad_thread_roles(const FusedPlan& p) {
    GradThreads g{};
    const int convs = 1 + 4 * p.levels;
    std::vector<long long> work(convs);
    std::vector<int> rows(convs);
    for (int j = 0; j < convs; ++j) {
        const int m = j == 0 ? 0 : 1 + (j - 1) / 4;
        rows[j] = p.tile_h >> m;
        work[j] = static_cast<long long>(p.tile_h >> m) * (p.tile_w >> m);
        g.groups[j] = 1;
    }
    int spare = p.grad_threads / p.k - convs;
    while (spare > 0) {
        int best = -1;
        for (int j = 0; j < convs; ++j) {
            if (g.groups[j] < rows[j] &&
                (best < 0 || work[j] * g.groups[best] > work[best] * g.groups[j])) {
                best = j;
            }
        }
        if (best < 0) {
            break;
        }
        ++g.groups[best];
        --spare;
    }
    g.first_thread[0] = 0;
    for (int j = 0; j < convs; ++j) {
        g.first_thread[j + 1] = g.first_thread[j] + p.k * g.groups[j];
    }
    return g;
}

// The forward kernel for this plan (dx with kAdjoint): the one that stages the image together
// with its first levels where that pays (fused::forward_stages_first_level), else the one that
// stages first.
template <int K, class S, bool kAdjoint>
auto forward_kernel_for(const FusedPlan& plan) {
    if (fused::forward_stages_first_level<S>(plan, kAdjoint)) {
        return fused::wtconv2d_fused_kernel<K, S, kAdjoint, true>;
    }
    return fused::wtconv2d_fused_kernel<K, S, kAdjoint, false>;
}

template <int K, class S>
void forward(cudaStream_t stream,
             const Tensor& x,
             const WTConvWeights& w,
             const WTConvParams& p,
             Tensor& y) {
    const FusedPlan plan = plan_for(x, p, FusedPass::kForward);
    const auto kernel = forward_kernel_for<K, S, false>(plan);
    allow_smem(kernel, plan.smem_floats);
    const unsigned blocks = static_cast<unsigned>(plan.n) * plan.c * plan.tiles_h * plan.tiles_w;
    kernel<<<blocks, plan.threads, plan.smem_floats * sizeof(float), stream>>>(
        plan, weight_pointers<const S>(w, p.levels), static_cast<const S*>(x.raw_data()),
        static_cast<S*>(y.raw_data()));
    WTCONV_CUDA_CHECK_LAUNCH();
}

template <int K, class S>
void backward(cudaStream_t stream,
              const Tensor& dy,
              const Tensor& x,
              const WTConvWeights& w,
              const WTConvParams& p,
              WTConvGrads& grads) {
    const Weights<const S> wp = weight_pointers<const S>(w, p.levels);
    {  // dx: the forward kernel in adjoint mode on dy
        const FusedPlan plan = plan_for(x, p, FusedPass::kForward);
        const auto kernel = forward_kernel_for<K, S, true>(plan);
        allow_smem(kernel, plan.smem_floats);
        const unsigned blocks =
            static_cast<unsigned>(plan.n) * plan.c * plan.tiles_h * plan.tiles_w;
        kernel<<<blocks, plan.threads, plan.smem_floats * sizeof(float), stream>>>(
            plan, wp, static_cast<const S*>(dy.raw_data()), static_cast<S*>(grads.dx.raw_data()));
        WTCONV_CUDA_CHECK_LAUNCH();
    }
    const FusedPlan plan = plan_for(x, p, FusedPass::kWeightGrad);
    const GradThreads threads = grad_thread_roles(plan);
    const int groups = plan.grad_groups;
    const int values = (1 + 4 * p.levels) * K * K + 1;
    Tensor partials = Tensor::empty(Shape{static_cast<std::int64_t>(plan.c) * groups * values},
                                    DType::kFloat32, x.device());
    const auto wgrad = fused::first_level_fusable(plan, false)
                           ? fused::wtconv2d_fused_wgrad_kernel<K, S, true>
                           : fused::wtconv2d_fused_wgrad_kernel<K, S, false>;
    allow_smem(wgrad, plan.grad_smem_floats);
    wgrad<<<dim3(plan.c, groups), plan.grad_threads, plan.grad_smem_floats * sizeof(float),
            stream>>>(plan, threads, static_cast<const S*>(x.raw_data()),
                      static_cast<const S*>(dy.raw_data()), groups, partials.data<float>());
    WTCONV_CUDA_CHECK_LAUNCH();
    const int outputs = plan.c * (1 + 4 * p.levels);
    fused::wtconv2d_fused_finalize_kernel<K, S><<<(outputs + 127) / 128, 128, 0, stream>>>(
        plan, wp, groups, partials.data<float>(), weight_pointers<S>(grads.dweights, p.levels));
    WTCONV_CUDA_CHECK_LAUNCH();
}

// Calls fn(K constant, storage type) for the call's kernel size and dtype.
template <class Fn>
void with_fused_types(int k, DType dtype, const Fn& fn) {
    const auto by_type = [&](auto kc) {
        switch (dtype) {
            case DType::kFloat32:
                return fn(kc, float{});
            case DType::kFloat16:
                return fn(kc, __half{});
            case DType::kBFloat16:
                return fn(kc, __nv_bfloat16{});
            case DType::kFloat64:
            case DType::kInt8:
            case DType::kUInt8:
            case DType::kInt32:
                break;
        }
        throw Error(ErrorCode::kNotSupported,
                    ::wtconv::detail::concat("wtconv2d: the fused algorithm runs float32, float16 "
                                             "and bfloat16, got ",
                                             dtype_name(dtype)));
    };
    switch (k) {
        case 3:
            return by_type(std::integral_constant<int, 3>{});
        case 5:
            return by_type(std::integral_constant<int, 5>{});
        case 7:
            return by_type(std::integral_constant<int, 7>{});
        default:
            break;
    }
    throw Error(ErrorCode::kNotSupported,
                ::wtconv::detail::concat("wtconv2d: the fused algorithm runs kernel_size 3, 5 or "
                                         "7, got ",
                                         k));
}

}  // namespace

bool wtconv2d_fused_supports(DType dtype, const WTConvParams& p) {
    const bool type_ok =
        dtype == DType::kFloat32 || dtype == DType::kFloat16 || dtype == DType::kBFloat16;
    const bool haar = p.wavelet == "db1" || p.wavelet == "haar";  // two names, one wavelet
    return type_ok && haar && fused_plan_exists(p.kernel_size, p.levels);
}

void wtconv2d_forward_fused(Context& ctx,
                            const Tensor& x,
                            const WTConvWeights& w,
                            const WTConvParams& p,
                            const ::wtconv::detail::WaveletTaps& /*wavelet*/,
                            Tensor& y) {
    const DeviceGuard guard(x.device().index);
    with_fused_types(p.kernel_size, x.dtype(), [&](auto kc, auto zero) {
        forward<decltype(kc)::value, decltype(zero)>(ctx.cuda_stream(), x, w, p, y);
    });
}

void wtconv2d_backward_fused(Context& ctx,
                             const Tensor& dy,
                             const Tensor& x,
                             const WTConvWeights& w,
                             const WTConvParams& p,
                             const ::wtconv::detail::WaveletTaps& /*wavelet*/,
                             WTConvGrads& grads) {
    const DeviceGuard guard(x.device().index);
    with_fused_types(p.kernel_size, x.dtype(), [&](auto kc, auto zero) {
        backward<decltype(kc)::value, decltype(zero)>(ctx.cuda_stream(), dy, x, w, p, grads);
    });
}

}  // namespace wtconv::cuda
