// conv2d on CUDA, the plain path (Conv2dAlgo::kImg2col): per chunk of images, the column matrix
// of every group in device memory (cuda/conv2d_img2col_kernels.cuh), then one cuBLAS call batched
// over the groups: y = W col forward, dW += dy col^T and col_grad = W^T dy backward, col2im for
// dx. Half types store columns in half and multiply with float32 products and sums; the GEMM
// writes float32, rounded once to the output.
#include <algorithm>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/blas.h"
#include "cuda/conv2d_img2col_kernels.cuh"
#include "cuda/device_guard.h"
#include "cuda/numeric.cuh"
#include "ops/conv2d_backends.h"

namespace wtconv::cuda {

namespace {

using img2col::acc_t;
using img2col::ChunkShape;
using std::int64_t;

// Scratch per chunk (columns, the GEMM's output, dy's chunk) is capped here: large enough that
// ResNet-sized layers run in a few GEMMs, small enough to leave the device for the network.
constexpr int64_t kChunkBytes = int64_t{256} << 20;

template <class T>
cublasComputeType_t compute_type(bool allow_tf32) {
    if constexpr (std::is_same_v<T, double>) {
        return CUBLAS_COMPUTE_64F;
    } else if constexpr (std::is_same_v<T, float>) {
        // CUBLAS_COMPUTE_32F never uses TF32 (NVIDIA_TF32_OVERRIDE aside): IEEE float32 FMA.
        return allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    } else {
        return CUBLAS_COMPUTE_32F;
    }
}

// One row-major GEMM per group, C_g (rows x cols) = op(A_g) op(B_g), batched over the groups.
// cuBLAS is column-major, so it computes C^T = op(B)^T op(A)^T: the operands swap places.
struct GroupGemm {
    cublasOperation_t op_a, op_b;  // on the row-major operands
    int64_t rows, cols, depth;
    const void* a;
    int64_t lda, stride_a;
    const void* b;
    int64_t ldb, stride_b;
    void* c;
    int64_t ldc, stride_c;
    bool accumulate;  // C += (else C =)
};

template <class T>
void run_group_gemm(cublasHandle_t handle, const GroupGemm& gm, int groups, bool allow_tf32) {
    using A = acc_t<T>;
    const A one = 1, zero = 0;
    WTCONV_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        handle, gm.op_b, gm.op_a, static_cast<int>(gm.cols), static_cast<int>(gm.rows),
        static_cast<int>(gm.depth), &one, gm.b, blas_type<T>(), static_cast<int>(gm.ldb),
        gm.stride_b, gm.a, blas_type<T>(), static_cast<int>(gm.lda), gm.stride_a,
        gm.accumulate ? &one : &zero, gm.c, blas_type<A>(), static_cast<int>(gm.ldc), gm.stride_c,
        groups, compute_type<T>(allow_tf32), CUBLAS_GEMM_DEFAULT));
}

ChunkShape chunk_shape(const ::wtconv::detail::Conv2dGeometry& g) {
    ChunkShape s{};
    s.c = g.c;
    s.h = g.h;
    s.w = g.w;
    s.o = g.o;
    s.ho = g.ho;
    s.wo = g.wo;
    s.kh = g.kh;
    s.kw = g.kw;
    s.sh = g.sh;
    s.sw = g.sw;
    s.ph = g.ph;
    s.pw = g.pw;
    s.dh = g.dh;
    s.dw = g.dw;
    s.groups = g.groups;
    s.cg = g.cg();
    s.og = g.og();
    s.k = g.k();
    return s;
}

// Images per chunk so that its scratch (bytes_per_image each) stays under kChunkBytes; at least
// one. cuBLAS takes int sizes, so a chunk's columns also stay under 2^31.
int64_t images_per_chunk(const ::wtconv::detail::Conv2dGeometry& g, int64_t bytes_per_image) {
    const int64_t by_bytes = std::max<int64_t>(1, kChunkBytes / bytes_per_image);
    const int64_t by_int = std::max<int64_t>(1, (int64_t{1} << 31) / (g.p() * g.k()));
    return std::min(g.n, std::min(by_bytes, by_int));
}

template <class Kernel, class... Args>
void launch(cudaStream_t stream, int64_t n, Kernel kernel, Args... args) {
    kernel<<<elementwise_blocks(n), kElementwiseThreads, 0, stream>>>(args...);
    WTCONV_CUDA_CHECK_LAUNCH();
}

template <class T>
const T* ptr(const Tensor& t) {
    return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* mutable_ptr(Tensor& t) {
    return static_cast<T*>(t.raw_data());
}

template <class T>
void forward(Context& ctx,
             const ::wtconv::detail::Conv2dGeometry& g,
             const Tensor& x,
             const Conv2dWeights& w,
             bool allow_tf32,
             Tensor& y) {
    using A = acc_t<T>;
    const cudaStream_t stream = ctx.cuda_stream();
    ChunkShape s = chunk_shape(g);
    const int64_t per_image = g.groups * g.k() * g.p() * sizeof(T) + g.o * g.p() * sizeof(A);
    const int64_t chunk = images_per_chunk(g, per_image);
    Tensor col =
        Tensor::empty(Shape{g.groups * g.k() * chunk * g.p()}, storage_dtype<T>(), x.device());
    Tensor out = Tensor::empty(Shape{g.o * chunk * g.p()}, storage_dtype<A>(), x.device());
    BlasSession blas(x.device().index, stream);
    for (s.n0 = 0; s.n0 < g.n; s.n0 += chunk) {
        s.nb = std::min(chunk, g.n - s.n0);
        const int64_t m = s.m();
        launch(stream, g.groups * g.k() * m, img2col::build_columns<T>, ptr<T>(x), s,
               mutable_ptr<T>(col));
        // y_g (og x m) = W_g (og x k) col_g (k x m)
        const GroupGemm gm{
            CUBLAS_OP_N, CUBLAS_OP_N,    g.og(),         m, g.k(),     w.weight.raw_data(),
            g.k(),       g.og() * g.k(), col.raw_data(), m, g.k() * m, out.raw_data(),
            m,           g.og() * m,     false};
        run_group_gemm<T>(blas.handle(), gm, g.groups, allow_tf32);
        launch(stream, g.o * m, img2col::store_output<T, A>, ptr<A>(out), ptr<T>(w.bias), s,
               mutable_ptr<T>(y));
    }
}

template <class T>
void backward(Context& ctx,
              const ::wtconv::detail::Conv2dGeometry& g,
              const Tensor& dy,
              const Tensor& x,
              const Conv2dWeights& w,
              bool allow_tf32,
              Conv2dGrads& grads) {
    using A = acc_t<T>;
    const cudaStream_t stream = ctx.cuda_stream();
    const bool need_dx = grads.dx.defined();
    ChunkShape s = chunk_shape(g);
    const int64_t per_image = g.groups * g.k() * g.p() * (sizeof(T) + (need_dx ? sizeof(A) : 0)) +
                              g.o * g.p() * sizeof(T);
    const int64_t chunk = images_per_chunk(g, per_image);
    const Device dev = x.device();
    Tensor col = Tensor::empty(Shape{g.groups * g.k() * chunk * g.p()}, storage_dtype<T>(), dev);
    Tensor dy_t = Tensor::empty(Shape{g.o * chunk * g.p()}, storage_dtype<T>(), dev);
    Tensor col_grad =
        need_dx ? Tensor::empty(Shape{g.groups * g.k() * chunk * g.p()}, storage_dtype<A>(), dev)
                : Tensor();
    // The weight gradient sums over chunks in the GEMM's type; half types round once at the end.
    Tensor& dweight = grads.dweights.weight;
    const bool dweight_in_place = std::is_same_v<T, A>;
    Tensor dweight_acc =
        dweight_in_place ? dweight : Tensor::empty(dweight.shape(), storage_dtype<A>(), dev);
    BlasSession blas(dev.index, stream);
    for (s.n0 = 0; s.n0 < g.n; s.n0 += chunk) {
        s.nb = std::min(chunk, g.n - s.n0);
        const int64_t m = s.m();
        launch(stream, g.groups * g.k() * m, img2col::build_columns<T>, ptr<T>(x), s,
               mutable_ptr<T>(col));
        launch(stream, g.o * m, img2col::gather_output_grad<T>, ptr<T>(dy), s,
               mutable_ptr<T>(dy_t));
        // dW_g (og x k) += dy_g (og x m) col_g^T (m x k)
        const GroupGemm dw{
            CUBLAS_OP_N, CUBLAS_OP_T,    g.og(),         g.k(), m,         dy_t.raw_data(),
            m,           g.og() * m,     col.raw_data(), m,     g.k() * m, dweight_acc.raw_data(),
            g.k(),       g.og() * g.k(), s.n0 > 0};
        run_group_gemm<T>(blas.handle(), dw, g.groups, allow_tf32);
        if (need_dx) {
            // col_grad_g (k x m) = W_g^T (k x og) dy_g (og x m)
            const GroupGemm dc{CUBLAS_OP_T, CUBLAS_OP_N,    g.k(),
                               m,           g.og(),         w.weight.raw_data(),
                               g.k(),       g.og() * g.k(), dy_t.raw_data(),
                               m,           g.og() * m,     col_grad.raw_data(),
                               m,           g.k() * m,      false};
            run_group_gemm<T>(blas.handle(), dc, g.groups, allow_tf32);
            launch(stream, s.nb * g.c * g.hw(), img2col::columns_to_input_grad<T, A>,
                   ptr<A>(col_grad), s, mutable_ptr<T>(grads.dx));
        }
    }
    if (!dweight_in_place) {
        launch(stream, dweight.numel(), img2col::round_to_storage<T, A>, ptr<A>(dweight_acc),
               dweight.numel(), mutable_ptr<T>(dweight));
    }
    if (grads.dweights.bias.defined()) {
        img2col::bias_grad<T><<<static_cast<unsigned>(g.o), img2col::kBiasGradThreads, 0, stream>>>(
            ptr<T>(dy), g.n, g.o, g.p(), mutable_ptr<T>(grads.dweights.bias));
        WTCONV_CUDA_CHECK_LAUNCH();
    }
}

}  // namespace

void conv2d_forward_img2col(Context& ctx,
                            const ::wtconv::detail::Conv2dGeometry& g,
                            const Tensor& x,
                            const Conv2dWeights& w,
                            bool allow_tf32,
                            Tensor& y) {
    const DeviceGuard guard(x.device().index);
    with_storage_type("conv2d", x.dtype(),
                      [&](auto tag) { forward<decltype(tag)>(ctx, g, x, w, allow_tf32, y); });
}

void conv2d_backward_img2col(Context& ctx,
                             const ::wtconv::detail::Conv2dGeometry& g,
                             const Tensor& dy,
                             const Tensor& x,
                             const Conv2dWeights& w,
                             bool allow_tf32,
                             Conv2dGrads& grads) {
    const DeviceGuard guard(x.device().index);
    with_storage_type("conv2d", x.dtype(), [&](auto tag) {
        backward<decltype(tag)>(ctx, g, dy, x, w, allow_tf32, grads);
    });
}

}  // namespace wtconv::cuda
