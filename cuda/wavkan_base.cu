// The Wav-KAN base branch on CUDA (WAVKAN.md 3.4 and 4): SiLU(x) times the base weight by cuBLAS
// (float sums without TF32 for float32 and the half types, double for float64), the activation
// and its derivative element-wise.
// Matrices are row-major; cuBLAS sees each as its transpose in column-major order.
#include <cstdint>
#include <type_traits>

#include "cuda/blas.h"
#include "cuda/device_guard.h"
#include "cuda/launch.h"
#include "cuda/wavkan_dtype.cuh"
#include "ops/wavkan_backends.h"

namespace wtconv::cuda {

namespace {

template <class T>
__device__ T sigmoid(T v) {
    return T(1) / (T(1) + exp(-v));
}

// Element-wise in the compute type T of storage S.
template <class S, class T = WavKanCompute<S>>
__global__ void silu_kernel(std::int64_t n, const S* __restrict__ x, S* __restrict__ out) {
    WTCONV_GRID_STRIDE_LOOP(k, n) {
        const T v = widen(x[k]);
        out[k] = narrow<S>(v * sigmoid(v));
    }
}

// dx += SiLU'(x) through, SiLU'(x) = s (1 + x (1 - s)).
template <class S, class T = WavKanCompute<S>>
__global__ void silu_grad_kernel(std::int64_t n,
                                 const S* __restrict__ x,
                                 const S* __restrict__ through,
                                 S* __restrict__ dx) {
    WTCONV_GRID_STRIDE_LOOP(k, n) {
        const T v = widen(x[k]);
        const T s = sigmoid(v);
        dx[k] = narrow<S>(widen(dx[k]) + s * (T(1) + v * (T(1) - s)) * widen(through[k]));
    }
}

// C (m x n, column-major) = op(A) op(B) + beta C, storage S, products and sums in the compute type
// (float for float32 and the half types, without TF32; double for float64).
template <class S>
void gemm(cublasHandle_t h,
          cublasOperation_t ta,
          cublasOperation_t tb,
          int m,
          int n,
          int k,
          const S* a,
          int lda,
          const S* b,
          int ldb,
          double beta,
          S* c,
          int ldc) {
    using T = WavKanCompute<S>;
    const T alpha_c = T(1), beta_c = static_cast<T>(beta);
    const cublasComputeType_t compute =
        std::is_same_v<T, double> ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
    WTCONV_CUBLAS_CHECK(cublasGemmEx(h, ta, tb, m, n, k, &alpha_c, a, blas_type<S>(), lda, b,
                                     blas_type<S>(), ldb, &beta_c, c, blas_type<S>(), ldc, compute,
                                     CUBLAS_GEMM_DEFAULT));
}

// cuBLAS takes int sizes.
int blas_size(std::int64_t v) {
    WTCONV_CHECK_CODE(v < (std::int64_t{1} << 31), ErrorCode::kNotSupported,
                      "wavkan: the base branch on CUDA needs every size below 2^31, got ", v);
    return static_cast<int>(v);
}

template <class S>
Tensor silu(Context& ctx, const Tensor& x) {
    Tensor s = Tensor::empty(x.shape(), x.dtype(), x.device());
    silu_kernel<S><<<elementwise_blocks(x.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
        x.numel(), storage<S>(x), storage<S>(s));
    WTCONV_CUDA_CHECK_LAUNCH();
    return s;
}

}  // namespace

void wavkan_base_forward(Context& ctx, const Tensor& x, const Tensor& base_weight, Tensor& z) {
    const DeviceGuard guard(x.device().index);
    const int batch = blas_size(x.size(0)), inputs = blas_size(x.size(1));
    const int outputs = blas_size(base_weight.size(0));
    with_wavkan_dtype(x.dtype(), [&](auto tag) {
        using S = decltype(tag);
        const Tensor s = silu<S>(ctx, x);
        const BlasSession blas(x.device().index, ctx.cuda_stream());
        // z^T (O x B) += W (O x I) S^T (I x B)
        gemm(blas.handle(), CUBLAS_OP_T, CUBLAS_OP_N, outputs, batch, inputs,
             storage<S>(base_weight), inputs, storage<S>(s), inputs, 1.0, storage<S>(z), outputs);
    });
}

void wavkan_base_backward(Context& ctx,
                          const Tensor& x,
                          const Tensor& base_weight,
                          const Tensor& g,
                          Tensor& dbase_weight,
                          Tensor* dx) {
    const DeviceGuard guard(x.device().index);
    const int batch = blas_size(x.size(0)), inputs = blas_size(x.size(1));
    const int outputs = blas_size(base_weight.size(0));
    with_wavkan_dtype(x.dtype(), [&](auto tag) {
        using S = decltype(tag);
        const Tensor s = silu<S>(ctx, x);
        Tensor through;
        if (dx != nullptr) {
            through = Tensor::empty(x.shape(), x.dtype(), x.device());
        }
        const BlasSession blas(x.device().index, ctx.cuda_stream());
        // dW^T (I x O) = S^T (I x B) g (B x O)
        gemm(blas.handle(), CUBLAS_OP_N, CUBLAS_OP_T, inputs, outputs, batch, storage<S>(s), inputs,
             storage<S>(g), outputs, 0.0, storage<S>(dbase_weight), inputs);
        if (dx == nullptr) {
            return;
        }
        // through^T (I x B) = W^T (I x O) g^T (O x B)
        gemm(blas.handle(), CUBLAS_OP_N, CUBLAS_OP_N, inputs, batch, outputs,
             storage<S>(base_weight), inputs, storage<S>(g), outputs, 0.0, storage<S>(through),
             inputs);
        silu_grad_kernel<S>
            <<<elementwise_blocks(x.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
                x.numel(), storage<S>(x), storage<S>(through), storage<S>(*dx));
        WTCONV_CUDA_CHECK_LAUNCH();
    });
}

}  // namespace wtconv::cuda
