// The Wav-KAN base branch on CUDA (WAVKAN.md 3.4 and 4): SiLU(x) times the base weight by cuBLAS
// (FMA math, no TF32: cuBLAS's default mode), the activation and its derivative element-wise.
// Matrices are row-major; cuBLAS sees each as its transpose in column-major order.
#include <cstdint>

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

template <class T>
__global__ void silu_kernel(std::int64_t n, const T* __restrict__ x, T* __restrict__ out) {
    WTCONV_GRID_STRIDE_LOOP(k, n) {
        out[k] = x[k] * sigmoid(x[k]);
    }
}

// dx += SiLU'(x) through, SiLU'(x) = s (1 + x (1 - s)).
template <class T>
__global__ void silu_grad_kernel(std::int64_t n,
                                 const T* __restrict__ x,
                                 const T* __restrict__ through,
                                 T* __restrict__ dx) {
    WTCONV_GRID_STRIDE_LOOP(k, n) {
        const T s = sigmoid(x[k]);
        dx[k] += s * (T(1) + x[k] * (T(1) - s)) * through[k];
    }
}

// C (m x n, column-major) = alpha op(A) op(B) + beta C.
void gemm(cublasHandle_t h,
          cublasOperation_t ta,
          cublasOperation_t tb,
          int m,
          int n,
          int k,
          const float* a,
          int lda,
          const float* b,
          int ldb,
          float beta,
          float* c,
          int ldc) {
    const float alpha = 1.0f;
    WTCONV_CUBLAS_CHECK(cublasSgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc));
}
void gemm(cublasHandle_t h,
          cublasOperation_t ta,
          cublasOperation_t tb,
          int m,
          int n,
          int k,
          const double* a,
          int lda,
          const double* b,
          int ldb,
          double beta,
          double* c,
          int ldc) {
    const double alpha = 1.0;
    WTCONV_CUBLAS_CHECK(cublasDgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc));
}

// cuBLAS takes int sizes.
int blas_size(std::int64_t v) {
    WTCONV_CHECK_CODE(v < (std::int64_t{1} << 31), ErrorCode::kNotSupported,
                      "wavkan: the base branch on CUDA needs every size below 2^31, got ", v);
    return static_cast<int>(v);
}

template <class T>
Tensor silu(Context& ctx, const Tensor& x) {
    Tensor s = Tensor::empty(x.shape(), x.dtype(), x.device());
    silu_kernel<T><<<elementwise_blocks(x.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
        x.numel(), x.data<T>(), s.data<T>());
    WTCONV_CUDA_CHECK_LAUNCH();
    return s;
}

}  // namespace

void wavkan_base_forward(Context& ctx, const Tensor& x, const Tensor& base_weight, Tensor& z) {
    const DeviceGuard guard(x.device().index);
    const int batch = blas_size(x.size(0)), inputs = blas_size(x.size(1));
    const int outputs = blas_size(base_weight.size(0));
    with_wavkan_dtype(x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const Tensor s = silu<T>(ctx, x);
        const BlasSession blas(x.device().index, ctx.cuda_stream());
        // z^T (O x B) += W (O x I) S^T (I x B)
        gemm(blas.handle(), CUBLAS_OP_T, CUBLAS_OP_N, outputs, batch, inputs, base_weight.data<T>(),
             inputs, s.data<T>(), inputs, T(1), z.data<T>(), outputs);
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
        using T = decltype(tag);
        const Tensor s = silu<T>(ctx, x);
        Tensor through;
        if (dx != nullptr) {
            through = Tensor::empty(x.shape(), x.dtype(), x.device());
        }
        const BlasSession blas(x.device().index, ctx.cuda_stream());
        // dW^T (I x O) = S^T (I x B) g (B x O)
        gemm(blas.handle(), CUBLAS_OP_N, CUBLAS_OP_T, inputs, outputs, batch, s.data<T>(), inputs,
             g.data<T>(), outputs, T(0), dbase_weight.data<T>(), inputs);
        if (dx == nullptr) {
            return;
        }
        // through^T (I x B) = W^T (I x O) g^T (O x B)
        gemm(blas.handle(), CUBLAS_OP_N, CUBLAS_OP_N, inputs, batch, outputs, base_weight.data<T>(),
             inputs, g.data<T>(), outputs, T(0), through.data<T>(), inputs);
        silu_grad_kernel<T>
            <<<elementwise_blocks(x.numel()), kElementwiseThreads, 0, ctx.cuda_stream()>>>(
                x.numel(), x.data<T>(), through.data<T>(), dx->data<T>());
        WTCONV_CUDA_CHECK_LAUNCH();
    });
}

}  // namespace wtconv::cuda
