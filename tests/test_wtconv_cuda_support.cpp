// test_wtconv_cuda: wtconv2d_supports / wtconv1d_supports on cuda:0 against what the library
// promises (wtconv_promised), over a grid of options, without running anything.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

class WTConvCudaSupport : public CudaTest {};

// wtconv*_supports() against the promise over a grid of options: whatever is promised must be
// supported, and the combinations no CUDA algorithm runs must not be.
TEST_F(WTConvCudaSupport, CoversEveryPromisedCombination) {
    const Device dev = Device::cuda(0);
    std::map<WTConvAlgo, int> promised;
    for (const int spatial : {2, 1}) {
        for (const char* wavelet : {"db1", "haar", "db2", "sym3", "bior2.2", "dmey"}) {
            for (const DType dtype :
                 {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16}) {
                for (int k = 1; k <= 9; ++k) {
                    for (int levels = 0; levels <= 6; ++levels) {
                        WTConvCase tc;
                        tc.spatial = spatial;
                        tc.dtype = dtype;
                        tc.params.kernel_size = k;
                        tc.params.levels = levels;
                        tc.params.stride = 1 + levels % 3;
                        tc.params.bias = k % 2 == 0;
                        tc.params.wavelet = wavelet;
                        for (const WTConvAlgo algo :
                             {WTConvAlgo::kAuto, WTConvAlgo::kDirect, WTConvAlgo::kFused}) {
                            if (wtconv_promised(algo, dev, tc)) {
                                ++promised[algo];
                                EXPECT_TRUE(wtconv_supports(tc, algo, dev))
                                    << wtconv_algo_name(algo) << " " << describe(tc);
                            }
                        }
                        const bool half = dtype == DType::kFloat16 || dtype == DType::kBFloat16;
                        EXPECT_FALSE(wtconv_supports(tc, WTConvAlgo::kPlanewise, dev))
                            << describe(tc);
                        EXPECT_FALSE(half && wtconv_supports(tc, WTConvAlgo::kDirect, dev))
                            << describe(tc);
                        EXPECT_FALSE(!is_haar(tc) && wtconv_supports(tc, WTConvAlgo::kFused, dev))
                            << describe(tc);
                    }
                }
            }
        }
    }
    EXPECT_GT(promised[WTConvAlgo::kFused], 0);
    EXPECT_GT(promised[WTConvAlgo::kDirect], 0);
}

// "haar" and "db1" name one wavelet (pywt, WTCONV.md section 7), so an algorithm cannot take one
// and refuse the other.
TEST_F(WTConvCudaSupport, TreatsHaarAndDb1Alike) {
    const Device dev = Device::cuda(0);
    std::vector<std::string> differ;
    for (const int spatial : {2, 1}) {
        for (const DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
            for (int k = 1; k <= 8; ++k) {
                for (int levels = 0; levels <= 5; ++levels) {
                    WTConvCase db1;
                    db1.spatial = spatial;
                    db1.dtype = dtype;
                    db1.params.kernel_size = k;
                    db1.params.levels = levels;
                    db1.params.wavelet = "db1";
                    WTConvCase haar = db1;
                    haar.params.wavelet = "haar";
                    for (const WTConvAlgo algo :
                         {WTConvAlgo::kAuto, WTConvAlgo::kDirect, WTConvAlgo::kFused}) {
                        if (wtconv_supports(haar, algo, dev) != wtconv_supports(db1, algo, dev)) {
                            differ.push_back(std::string(wtconv_algo_name(algo)) + " " +
                                             describe(haar));
                        }
                    }
                }
            }
        }
    }
    // One failure with a count and examples: the cause is one rule, not each combination.
    EXPECT_TRUE(differ.empty()) << differ.size() << " combinations support db1 and haar "
                                << "differently, e.g.\n  " << differ.front() << "\n  "
                                << differ.back();
}

}  // namespace
}  // namespace wtconv::test
