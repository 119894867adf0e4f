#pragma once
// Wav-KAN test cases: a configuration (sizes, wavelet, base branch, batch norm mode, dtype,
// threads, seed), its random inputs, one forward + backward of the library, and the errors of y,
// the running statistics and every gradient against the double reference
// (tests/reference/wavkan_ref.h).
#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <wtconv/context.h>
#include <wtconv/ops/wavkan.h>

#include "reference/wavkan_ref.h"
#include "support/test_support.h"

namespace wtconv::test {

enum class BnMode { kOff, kTraining, kEval };

struct WavKanCase {
    std::int64_t b = 2, i = 1, o = 1;  // x (B, I), y (B, O)
    KanWavelet wavelet = KanWavelet::kMexicanHat;
    bool base = false;
    BnMode bn = BnMode::kOff;
    DType dtype = DType::kFloat64;
    int threads = 1;
    std::uint64_t seed = 1;
};

const KanWavelet kAllKanWavelets[] = {KanWavelet::kMexicanHat, KanWavelet::kMorlet,
                                      KanWavelet::kDog, KanWavelet::kMeyer, KanWavelet::kShannon};

WavKanParams wavkan_params(const WavKanCase& tc);
ref::WavKanConfig to_ref_config(const WavKanParams& p);
// One line that says how to reproduce the case.
std::string describe(const WavKanCase& tc);
void PrintTo(const WavKanCase& tc, std::ostream* os);
// A gtest-safe name: b37_i70_o65_morlet_base_bntrain_f32_t3.
std::string case_name(const WavKanCase& tc);
// For INSTANTIATE_TEST_SUITE_P: the index (names repeat across instantiations) and case_name.
std::string wavkan_param_name(const testing::TestParamInfo<WavKanCase>& info);
// A CPU context on threads threads that fills every output with NaN before a kernel writes it,
// so that an element no kernel writes fails every comparison.
Context poisoning_context(int threads);

// Every wavelet in both dtypes on hand-picked shapes: all sizes 1, B = 1 (without training batch
// norm), B = 2 (the smallest training batch), I = 1, O = 1, I = 2 (shannon's window 0.08 twice),
// primes, one past the CPU kernels' blocks (32 samples, 16 inputs), and B 37, I 70, O 65. Base
// branch, batch norm mode and thread count (1-3) cycle through the cases.
std::vector<WavKanCase> wavkan_edge_cases();
// count seeded random configurations from test_seed(): every option drawn, sizes mostly 1-13 (a
// sixth of them 1; B >= 2 with batch norm in training), one in ten large (B 20-40, I 30-70, O
// 30-65); dtypes alternate, threads cycle 1, 2, 3. $WTCONV_TEST_RANDOM_CASES overrides count.
std::vector<WavKanCase> wavkan_random_cases(int count);

struct WavKanInputs {
    Tensor x, dy;                // (B, I), (B, O)
    WavKanWeights w;             // undefined where the case has no base branch or batch norm
    WavKanRunningStats running;  // (O) each with batch norm, else undefined
};
// Every value drawn in double and rounded once to the case's dtype: x, translation,
// wavelet_weights, base_weight, bn_bias and dy N(0, 1); scale of random sign and magnitude
// U[0.5, 2]; bn_weight 1 + N(0, 1) / 2; running mean N(0, 1) / 2 and variance exp(N(0, 1) / 2).
WavKanInputs random_wavkan_inputs(const WavKanCase& tc);
// A copy that owns its own storage (a training forward updates the statistics in place).
WavKanRunningStats clone_running(const WavKanRunningStats& r);
// t with element k set to value (rounded to t's dtype): a new tensor, t's storage untouched.
Tensor with_value(const Tensor& t, std::int64_t k, double value);
// The reference's view of the weights and running statistics (exact: every value is a double).
ref::WavKanTensors to_ref_tensors(const WavKanWeights& w, const WavKanRunningStats& running);

struct WavKanResult {
    Tensor y;
    WavKanRunningStats running;  // after the forward
    WavKanGrads grads;
};
// Copies of every defined tensor on device / on the host.
WavKanInputs wavkan_inputs_on(const WavKanInputs& in, Device device);
WavKanResult wavkan_result_on_host(const WavKanResult& r);
// The unit roundoff of a floating dtype: 2^-53, 2^-24, 2^-11 (float16), 2^-8 (bfloat16).
double unit_roundoff(DType dtype);
// Forward (on a copy of in.running) with saved, then backward of in.dy.
WavKanResult run_wavkan(Context& ctx,
                        const WavKanInputs& in,
                        const WavKanParams& p,
                        bool need_dx = true);

// Every result by name, y first, then the running statistics, dx and the parameter gradients
// (undefined ones included): what the determinism tests compare byte for byte.
std::vector<std::pair<std::string, const Tensor*>> wavkan_result_tensors(const WavKanResult& r);

struct WavKanError {
    std::string name;  // "y", "running_mean", "running_var", "dx", "dscale", "dtranslation",
                       // "dwavelet_weights", "dbase_weight", "dbn_weight", "dbn_bias"
    double error;      // relative L2 against the reference
};
// y, the running statistics (with batch norm), dx (when defined) and every parameter gradient.
std::vector<WavKanError> wavkan_errors(const WavKanResult& got,
                                       const WavKanInputs& in,
                                       const WavKanParams& p);

// The error that a correct implementation storing the inputs' dtype (unit roundoff u) may make, per
// result (names and order as wavkan_errors), estimated from the reference as the largest of:
//  - the problem's condition: the relative change of the result when every input value (x, dy,
//    weights, running statistics) is multiplied by 1 +- u (signs drawn from seed), i.e. what
//    rounding the inputs alone causes (a morlet derivative that cancels, then a dx that cancels
//    against the base branch, loses four digits in float32 at I = O = B = 1); left out with
//    perturb_inputs false (where u sits on a kink, as meyer's at 0);
//  - a training batch norm's magnification of the rounding of z (u Z, Z the sum of the
//    magnitudes of z's terms) relative to the spread zhat divides by, N = rms_b Z / sqrt(var + eps)
//    the largest over the channels: u N for y and the batch-norm gradients;
//  - the same rounding of G = dL/dz, relative error e = u N, plus 2^-53 N (var + eps) / eps at
//    B = 2 (zhat = +-1 but for eps there, so G is eps / (var + eps) times the terms it is formed
//    from, in double): the relative change of the gradients below batch norm when G is multiplied
//    by 1 +- e. This includes their sums over b cancelling against G's orthogonality to 1 and zhat
//    (dwavelet_weights at I = 1 without base branch is eps-small; dscale nearly so for shannon
//    at small u, where u dpsi is nearly affine in psi).
std::vector<WavKanError> wavkan_expected_errors(const WavKanInputs& in,
                                                const WavKanParams& p,
                                                std::uint64_t seed,
                                                bool perturb_inputs = true);

// Keeps the worst err seen under what (and the test that saw it); the first call registers a
// gtest environment that prints the table after all tests.
void note_worst_error(const std::string& what, double err);

}  // namespace wtconv::test
