#pragma once
// Runs WTConv2d or WTConv1d (by tc.spatial) through the library and through the double reference,
// so that one test body serves both ranks, every device and every algorithm.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <wtconv/context.h>

#include "support/wtconv_cases.h"

namespace wtconv::test {

// Relative L2 bounds against the double reference. float64: the library and the reference order
// their sums differently (separable vs direct transforms), a few ulps per op, far below 1e-11.
// float32: the golden README's bound; a float32 run with exact filters stays within 1e-6.
// float16 / bfloat16: the inputs and weights are rounded to the half type before the reference
// sees them, so only the computation's own rounding counts: every output and gradient is stored in
// the half type (one rounding, relative error <= u: 2^-11 for float16, 2^-8 for bfloat16) and the
// sums run in float32 (2^-24, negligible). 4u leaves room for a few half-stored intermediates
// (bands, a level's reconstruction) on the way to an output, without hiding a wrong tap or band,
// whose errors are O(1).
constexpr double kTolFloat64 = 1e-11;
constexpr double kTolFloat32 = 1e-5;
constexpr double kTolFloat16 = 2e-3;     // 4 * 2^-11
constexpr double kTolBFloat16 = 1.6e-2;  // 4 * 2^-8
inline double tolerance(DType dtype) {
    switch (dtype) {
        case DType::kFloat64:
            return kTolFloat64;
        case DType::kFloat32:
            return kTolFloat32;
        case DType::kFloat16:
            return kTolFloat16;
        case DType::kBFloat16:
            return kTolBFloat16;
        case DType::kInt8:
        case DType::kUInt8:
        case DType::kInt32:
            break;  // WTConv computes in floating types only
    }
    return 0.0;
}
struct WTConvRun {
    Tensor y;
    WTConvGrads grads;
};

Shape wtconv_output_shape(const WTConvCase& tc);
Tensor wtconv_forward(Context& ctx,
                      const WTConvCase& tc,
                      const Tensor& x,
                      const WTConvWeights& w,
                      WTConvSaved* saved = nullptr);
WTConvGrads wtconv_backward(Context& ctx,
                            const WTConvCase& tc,
                            const Tensor& dy,
                            const WTConvWeights& w,
                            const WTConvSaved& saved);
// Forward, then backward with dy.
WTConvRun wtconv_run(
    Context& ctx, const WTConvCase& tc, const Tensor& x, const WTConvWeights& w, const Tensor& dy);
// y, dx and every weight gradient as stored, one after the other (bitwise comparisons).
std::string run_bytes(const WTConvRun& run);

ref::Array reference_forward(const WTConvCase& tc, const ref::Array& x, const ref::Weights& w);
ref::Grads reference_backward(const WTConvCase& tc,
                              const ref::Array& x,
                              const ref::Array& dy,
                              const ref::Weights& w);

// Every algorithm the device has: CPU planewise and direct, CUDA direct and fused.
std::vector<WTConvAlgo> algos_on(Device device);
// wtconv2d_supports or wtconv1d_supports, by tc.spatial, for tc's dtype and params.
bool wtconv_supports(const WTConvCase& tc, WTConvAlgo algo, Device device);
// A case's inputs (host, in tc.dtype, drawn from tc.seed) and the reference's outputs computed from
// exactly those values. Host-only and thread-safe, so that tests can build many in parallel.
struct ReferenceRun {
    Tensor x;
    WTConvWeights w;
    Tensor dy;
    ref::Array y;
    ref::Grads grads;
};
ReferenceRun make_reference(const WTConvCase& tc);

// Which of the device's algorithms ran, and which the library said it does not support.
struct AlgoRuns {
    std::vector<WTConvAlgo> ran;
    std::vector<WTConvAlgo> unsupported;
    bool ran_algo(WTConvAlgo algo) const;
};

// The whole comparison: the library on ctx's device vs the reference, forward and every gradient,
// for every algorithm of the device that supports tc, each error under its bound. An algorithm
// that wtconv_promised() but that does not support tc fails the test.
AlgoRuns expect_matches(Context& ctx, const WTConvCase& tc, const ReferenceRun& want);
AlgoRuns expect_matches_reference(Context& ctx, const WTConvCase& tc);

// Base of every CUDA test: skipped, never failed, where cuda_device_count() is 0.
class CudaTest : public testing::Test {
protected:
    void SetUp() override;
};
template <class Param>
class CudaTestWithParam : public CudaTest, public testing::WithParamInterface<Param> {};

// A context on cuda:0 that poisons every output with NaN, so that an unwritten element fails;
// stream nullptr is the legacy default stream.
Context cuda_test_context(CUstream_st* stream = nullptr);

// For tests of ops on a cudaStreamNonBlocking stream, which the legacy default stream (where the
// host allocates, fills and frees tensors) does not wait for. queue_busy_work queues about a
// millisecond of work on ctx's stream that holds only 8 SMs (a Wav-KAN forward of 2 x 4 outputs
// over a million inputs), so that what follows on that stream runs late while the rest of the GPU
// is free; the returned tensors must outlive that work. fill_blocks then allocates and fills, on
// the legacy stream, blocks of many sizes (256 KiB to 16 MiB, 64 MiB in all), as a host would
// while ops are still queued; after the stream is synchronised, blocks_hold says whether each
// still holds value (an op's temporaries handed to them too early would have been written into).
std::vector<Tensor> queue_busy_work(Context& ctx);
std::vector<Tensor> fill_blocks(double value);
bool blocks_hold(const std::vector<Tensor>& blocks, double value);

}  // namespace wtconv::test
