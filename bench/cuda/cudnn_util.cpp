// cuDNN plumbing for the comparator (see cudnn_util.h).
#include "cuda/cudnn_util.h"

#include <string>
#include <vector>

namespace wtconv::bench {

namespace detail {

void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line) {
    throw Error(ErrorCode::kCudaError,
                ::wtconv::detail::concat("cudnn: ", expr, " failed: ", cudnnGetErrorString(status),
                                         " at ", file, ":", line));
}

}  // namespace detail

namespace {

// cuDNN's legacy descriptors take int sizes; every size here is far below 2^31 elements per
// dimension, but a stride can reach N*C*H*W, which the tensor set-up checks.
int to_int(std::int64_t v, const char* what) {
    WTCONV_CHECK(v >= 0 && v <= 0x7fffffff, "cudnn comparator: ", what, " must fit in int, got ",
                 v);
    return static_cast<int>(v);
}

bool fma_math(cudnnMathType_t math) {
    return math != CUDNN_TENSOR_OP_MATH && math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// Picks from perf results sorted fastest first, as cudnnFind* returns them.
template <class Algo, class Perf>
AlgoChoice<Algo> pick(const std::vector<Perf>& results,
                      int returned,
                      std::size_t max_workspace,
                      const char* op) {
    for (int i = 0; i < returned; ++i) {
        const Perf& r = results[static_cast<std::size_t>(i)];
        if (r.status == CUDNN_STATUS_SUCCESS && r.memory <= max_workspace && fma_math(r.mathType)) {
            return AlgoChoice<Algo>{r.algo, r.memory, r.time};
        }
    }
    throw Error(ErrorCode::kNotSupported,
                ::wtconv::detail::concat("cudnn comparator: no ", op, " algorithm of ", returned,
                                         " runs in FMA math within ", max_workspace,
                                         " bytes of workspace"));
}

}  // namespace

TensorDesc strided_desc(const Dims4& dims,
                        std::int64_t image_pitch,
                        std::int64_t channel_pitch,
                        std::int64_t row_pitch,
                        std::int64_t col_pitch) {
    TensorDesc desc;
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetTensor4dDescriptorEx(
        desc.get(), CUDNN_DATA_FLOAT, to_int(dims.n, "n"), to_int(dims.c, "c"), to_int(dims.h, "h"),
        to_int(dims.w, "w"), to_int(image_pitch, "image pitch"),
        to_int(channel_pitch, "channel pitch"), to_int(row_pitch, "row pitch"),
        to_int(col_pitch, "column pitch")));
    return desc;
}

TensorDesc packed_desc(const Dims4& dims) {
    return strided_desc(dims, dims.c * dims.h * dims.w, dims.h * dims.w, dims.w);
}

TensorDesc crop_desc(const Dims4& dims, std::int64_t full_h, std::int64_t full_w) {
    return strided_desc(dims, dims.c * full_h * full_w, full_h * full_w, full_w);
}

TensorDesc band_desc(const Dims4& dims, int bands) {
    return strided_desc(dims, dims.c * bands * dims.h * dims.w, bands * dims.h * dims.w, dims.w);
}

FilterDesc filter_desc(std::int64_t k, std::int64_t c_per_group, std::int64_t r, std::int64_t s) {
    FilterDesc desc;
    WTCONV_BENCH_CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(desc.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(k, "k"),
                                   to_int(c_per_group, "c"), to_int(r, "r"), to_int(s, "s")));
    return desc;
}

ConvDesc conv_desc(int pad, int stride, int groups) {
    ConvDesc desc;
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        desc.get(), pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetConvolutionGroupCount(desc.get(), groups));
    WTCONV_BENCH_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.get(), CUDNN_FMA_MATH));
    return desc;
}

AlgoChoice<cudnnConvolutionFwdAlgo_t> find_forward_algo(cudnnHandle_t handle,
                                                        const TensorDesc& x,
                                                        const FilterDesc& w,
                                                        const ConvDesc& conv,
                                                        const TensorDesc& y,
                                                        std::size_t max_workspace) {
    int count = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> results(static_cast<std::size_t>(count));
    int returned = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(
        handle, x.get(), w.get(), conv.get(), y.get(), count, &returned, results.data()));
    return pick<cudnnConvolutionFwdAlgo_t>(results, returned, max_workspace, "forward");
}

AlgoChoice<cudnnConvolutionBwdDataAlgo_t> find_backward_data_algo(cudnnHandle_t handle,
                                                                  const FilterDesc& w,
                                                                  const TensorDesc& dy,
                                                                  const ConvDesc& conv,
                                                                  const TensorDesc& dx,
                                                                  std::size_t max_workspace) {
    int count = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> results(static_cast<std::size_t>(count));
    int returned = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(
        handle, w.get(), dy.get(), conv.get(), dx.get(), count, &returned, results.data()));
    return pick<cudnnConvolutionBwdDataAlgo_t>(results, returned, max_workspace, "backward-data");
}

AlgoChoice<cudnnConvolutionBwdFilterAlgo_t> find_backward_filter_algo(cudnnHandle_t handle,
                                                                      const TensorDesc& x,
                                                                      const TensorDesc& dy,
                                                                      const ConvDesc& conv,
                                                                      const FilterDesc& dw,
                                                                      std::size_t max_workspace) {
    int count = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> results(static_cast<std::size_t>(count));
    int returned = 0;
    WTCONV_BENCH_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
        handle, x.get(), dy.get(), conv.get(), dw.get(), count, &returned, results.data()));
    return pick<cudnnConvolutionBwdFilterAlgo_t>(results, returned, max_workspace,
                                                 "backward-filter");
}

}  // namespace wtconv::bench
