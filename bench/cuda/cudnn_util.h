#pragma once
// cuDNN plumbing for the comparator: a status check that names the call, owners for the legacy
// API's descriptors, 4D tensor views (packed or strided into a larger buffer) and the one-time
// choice of the fastest convolution algorithm for a shape.
#include <cstddef>
#include <cstdint>
#include <utility>

#include <cudnn.h>

#include <wtconv/error.h>

namespace wtconv::bench {

namespace detail {
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status,
                                    const char* expr,
                                    const char* file,
                                    int line);
}  // namespace detail

#define WTCONV_BENCH_CUDNN_CHECK(expr)                                                    \
    do {                                                                                  \
        const cudnnStatus_t wtconv_bench_cudnn_status_ = (expr);                          \
        if (wtconv_bench_cudnn_status_ != CUDNN_STATUS_SUCCESS) {                         \
            ::wtconv::bench::detail::throw_cudnn_error(wtconv_bench_cudnn_status_, #expr, \
                                                       __FILE__, __LINE__);               \
        }                                                                                 \
    } while (false)

// Owns one cuDNN descriptor: created on construction, destroyed (without throwing) with it.
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class CudnnDescriptor {
public:
    CudnnDescriptor() { WTCONV_BENCH_CUDNN_CHECK(Create(&desc_)); }
    ~CudnnDescriptor() {
        if (desc_ != nullptr) {
            Destroy(desc_);
        }
    }
    CudnnDescriptor(CudnnDescriptor&& other) noexcept
        : desc_(std::exchange(other.desc_, nullptr)) {}
    CudnnDescriptor& operator=(CudnnDescriptor&& other) noexcept {
        std::swap(desc_, other.desc_);
        return *this;
    }
    CudnnDescriptor(const CudnnDescriptor&) = delete;
    CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
    T get() const { return desc_; }

private:
    T desc_ = nullptr;
};

using TensorDesc = CudnnDescriptor<cudnnTensorDescriptor_t,
                                   cudnnCreateTensorDescriptor,
                                   cudnnDestroyTensorDescriptor>;
using FilterDesc = CudnnDescriptor<cudnnFilterDescriptor_t,
                                   cudnnCreateFilterDescriptor,
                                   cudnnDestroyFilterDescriptor>;
using ConvDesc = CudnnDescriptor<cudnnConvolutionDescriptor_t,
                                 cudnnCreateConvolutionDescriptor,
                                 cudnnDestroyConvolutionDescriptor>;
using OpTensorDesc = CudnnDescriptor<cudnnOpTensorDescriptor_t,
                                     cudnnCreateOpTensorDescriptor,
                                     cudnnDestroyOpTensorDescriptor>;
using ReduceDesc = CudnnDescriptor<cudnnReduceTensorDescriptor_t,
                                   cudnnCreateReduceTensorDescriptor,
                                   cudnnDestroyReduceTensorDescriptor>;

// Sizes of an NCHW float32 view.
struct Dims4 {
    std::int64_t n = 0, c = 0, h = 0, w = 0;
    std::int64_t numel() const { return n * c * h * w; }
};

// A float32 view of dims whose rows have pitch row_pitch, whose channels start every
// channel_pitch elements and whose images start every image_pitch elements: a crop, a channel
// subset or a subsampled grid of a packed tensor, without a copy.
TensorDesc strided_desc(const Dims4& dims,
                        std::int64_t image_pitch,
                        std::int64_t channel_pitch,
                        std::int64_t row_pitch,
                        std::int64_t col_pitch = 1);
// A packed (contiguous NCHW) float32 tensor of dims.
TensorDesc packed_desc(const Dims4& dims);
// The top-left dims.h x dims.w crop of a packed (n, c, full_h, full_w) tensor.
TensorDesc crop_desc(const Dims4& dims, std::int64_t full_h, std::int64_t full_w);
// One wavelet sub-band of every image channel of a packed (n, c * bands, h, w) tensor: channels
// k, k + bands, k + 2 bands, ... The view is the same for every k; point it at element k * h * w.
TensorDesc band_desc(const Dims4& dims, int bands);
// A (k, c_per_group, r, s) float32 filter.
FilterDesc filter_desc(std::int64_t k, std::int64_t c_per_group, std::int64_t r, std::int64_t s);
// A 2D cross-correlation with symmetric zero padding pad, stride stride, groups groups, float32
// accumulation restricted to FMA kernels (CUDNN_FMA_MATH: no TF32 tensor cores, which would break
// the comparator's 1e-5 agreement with the double reference).
ConvDesc conv_desc(int pad, int stride, int groups);

// One chosen algorithm and the workspace it needs.
template <class Algo>
struct AlgoChoice {
    Algo algo{};
    std::size_t workspace = 0;
    float find_ms = 0;  // cuDNN's own timing of it during the search
};

// The fastest algorithm that cuDNN's exhaustive search (cudnnFind*, which runs every candidate
// once on scratch memory it allocates itself) reports as working in FMA math within
// max_workspace bytes. Throws naming the operation when none does.
AlgoChoice<cudnnConvolutionFwdAlgo_t> find_forward_algo(cudnnHandle_t handle,
                                                        const TensorDesc& x,
                                                        const FilterDesc& w,
                                                        const ConvDesc& conv,
                                                        const TensorDesc& y,
                                                        std::size_t max_workspace);
AlgoChoice<cudnnConvolutionBwdDataAlgo_t> find_backward_data_algo(cudnnHandle_t handle,
                                                                  const FilterDesc& w,
                                                                  const TensorDesc& dy,
                                                                  const ConvDesc& conv,
                                                                  const TensorDesc& dx,
                                                                  std::size_t max_workspace);
AlgoChoice<cudnnConvolutionBwdFilterAlgo_t> find_backward_filter_algo(cudnnHandle_t handle,
                                                                      const TensorDesc& x,
                                                                      const TensorDesc& dy,
                                                                      const ConvDesc& conv,
                                                                      const FilterDesc& dw,
                                                                      std::size_t max_workspace);

}  // namespace wtconv::bench
