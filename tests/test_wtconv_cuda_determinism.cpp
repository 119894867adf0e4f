// test_wtconv_cuda: bitwise determinism of both CUDA algorithms. The same input gives the same
// bytes of y, dx and every weight gradient run after run, and on a stream of the caller's
// (ContextOptions::cuda_stream) the same bytes as on the default stream, a non-blocking one
// included, where the op's temporaries must not be handed to the host's allocations early.
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

// A stream of the caller's: by default made with plain cudaStreamCreate, which orders against the
// legacy default stream, on which the library copies tensors and returns their memory.
class CudaStream {
public:
    explicit CudaStream(unsigned flags = cudaStreamDefault) {
        status_ = cudaStreamCreateWithFlags(&stream_, flags);
    }
    ~CudaStream() {
        if (status_ == cudaSuccess) {
            cudaStreamDestroy(stream_);
        }
    }
    CudaStream(const CudaStream&) = delete;
    CudaStream& operator=(const CudaStream&) = delete;
    cudaError_t status() const { return status_; }
    cudaStream_t get() const { return stream_; }

private:
    cudaStream_t stream_ = nullptr;
    cudaError_t status_ = cudaSuccess;
};

// Shapes large enough that weight gradients are reductions over many blocks (where atomics or a
// grid-size-dependent split would show), in every dtype each algorithm runs, both ranks.
std::vector<WTConvCase> determinism_cases() {
    const struct {
        int spatial;
        std::int64_t n, c, h, w;
        int k, levels, stride;
        const char* wavelet;
        DType dtype;
    } cfg[] = {
        {2, 4, 8, 96, 80, 5, 3, 1, "db1", DType::kFloat32},
        {2, 2, 4, 65, 67, 4, 4, 2, "db1", DType::kFloat32},
        {2, 1, 2, 128, 128, 7, 3, 1, "db1", DType::kFloat32},
        {2, 1, 2, 128, 128, 8, 5, 1, "db1", DType::kFloat32},
        // blocks that walk four whole planes, the next one's raw x and dy prefetched
        {2, 4, 200, 8, 8, 3, 1, 1, "db1", DType::kBFloat16},
        {2, 4, 200, 16, 16, 3, 3, 1, "db1", DType::kFloat32},
        {2, 2, 4, 64, 64, 5, 3, 1, "db1", DType::kFloat16},
        {2, 2, 4, 50, 70, 7, 2, 2, "db1", DType::kBFloat16},
        {2, 2, 4, 45, 38, 3, 3, 1, "db2", DType::kFloat64},
        {2, 2, 3, 33, 40, 5, 2, 3, "sym3", DType::kFloat32},
        {1, 4, 8, 1, 4001, 7, 4, 1, "db1", DType::kFloat32},
        {1, 3, 4, 1, 999, 4, 3, 3, "db1", DType::kFloat32},
        {1, 2, 4, 1, 2000, 5, 3, 1, "coif1", DType::kFloat64},
    };
    std::vector<WTConvCase> cases;
    std::uint64_t seed = 800;
    for (const auto& c : cfg) {
        WTConvCase tc;
        tc.spatial = c.spatial;
        tc.n = c.n;
        tc.c = c.c;
        tc.h = c.h;
        tc.w = c.w;
        tc.params.kernel_size = c.k;
        tc.params.levels = c.levels;
        tc.params.stride = c.stride;
        tc.params.wavelet = c.wavelet;
        tc.dtype = c.dtype;
        tc.seed = seed++;
        cases.push_back(tc);
    }
    return cases;
}

class WTConvCudaDeterminism : public CudaTestWithParam<WTConvCase> {};

TEST_P(WTConvCudaDeterminism, BitwiseIdenticalAcrossRunsAndStreams) {
    const WTConvCase& tc = GetParam();
    const Device dev = Device::cuda(0);
    Rng rng(tc.seed);
    const Tensor x = random_normal(rng, tc.x_shape(), tc.dtype, dev);
    const WTConvWeights w = random_wtconv_weights(rng, tc, dev);
    const Tensor dy = random_normal(rng, wtconv_output_shape(tc), tc.dtype, dev);
    int algos_run = 0;
    for (const WTConvAlgo algo : algos_on(dev)) {
        WTConvCase run_case = tc;
        run_case.params.algo = algo;
        if (!wtconv_supports(run_case, algo, dev)) {
            EXPECT_FALSE(wtconv_promised(algo, dev, tc))
                << wtconv_algo_name(algo) << " unsupported for " << describe(tc);
            continue;
        }
        ++algos_run;
        const std::string where = std::string(wtconv_algo_name(algo)) + ", " + describe(tc);
        Context ctx = cuda_test_context();
        const std::string first = run_bytes(wtconv_run(ctx, run_case, x, w, dy));
        // Compared as booleans: gtest would print megabytes of bytes on a mismatch.
        for (int again = 0; again < 2; ++again) {
            EXPECT_TRUE(run_bytes(wtconv_run(ctx, run_case, x, w, dy)) == first)
                << "run " << again + 2 << " differs from run 1, " << where;
        }

        CudaStream stream;
        ASSERT_EQ(stream.status(), cudaSuccess) << cudaGetErrorString(stream.status());
        Context on_stream = cuda_test_context(stream.get());
        const WTConvRun run = wtconv_run(on_stream, run_case, x, w, dy);
        ASSERT_EQ(cudaStreamSynchronize(stream.get()), cudaSuccess) << where;
        EXPECT_TRUE(run_bytes(run) == first)
            << "a non-default stream differs from the default, " << where;

        // Behind a millisecond of other work on a non-blocking stream, with the host allocating
        // and filling memory on the legacy stream meanwhile.
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // x, w and dy have landed
        CudaStream quiet(cudaStreamNonBlocking);
        ASSERT_EQ(quiet.status(), cudaSuccess) << cudaGetErrorString(quiet.status());
        Context late = cuda_test_context(quiet.get());
        const std::vector<Tensor> busy = queue_busy_work(late);
        const WTConvRun behind = wtconv_run(late, run_case, x, w, dy);
        const std::vector<Tensor> blocks = fill_blocks(1e30);
        ASSERT_EQ(cudaStreamSynchronize(quiet.get()), cudaSuccess) << where;
        EXPECT_TRUE(run_bytes(behind) == first)
            << "a non-blocking stream behind other work differs from the default, " << where;
        EXPECT_TRUE(blocks_hold(blocks, 1e30))
            << "memory the host allocated meanwhile was written by the op, " << where;
    }
    EXPECT_GT(algos_run, 0) << "no CUDA algorithm ran " << describe(tc);
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithmAndDtype,
                         WTConvCudaDeterminism,
                         testing::ValuesIn(determinism_cases()),
                         param_name);

}  // namespace
}  // namespace wtconv::test
