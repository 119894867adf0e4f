#pragma once
// What the CUDA conv2d benchmark needs besides its rows and its comparator: input sets rotated past
// L2 in every dtype (int8 included), the tensor cores' reachable rates (the floor of the TF32 and
// half rows), the counters every row carries, its command-line flags and the closing summary.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <wtconv/ops/conv2d.h>
#include <wtconv/ops/conv2d_int8.h>
#include <wtconv/tensor.h>

#include "cuda/gpu_timer.h"
#include "support/conv2d_work.h"

namespace wtconv::bench {

// Set k holds x, the weights (and bias) and dy, all different, so that a rotation reads every
// byte cold, as a training step reads a layer's weights and activations once.
struct Conv2dSets {
    std::vector<Tensor> x, dy;
    std::vector<Conv2dWeights> w;
};
struct Conv2dInt8Sets {
    std::vector<Tensor> x;  // uint8, quantised with the input quantisation given
    std::vector<Conv2dInt8Weights> w;
};

// Enough sets that together they span 128 MB of one forward's traffic (over twice the H100's
// 50 MB L2), and at least 2. elem_bytes: the dtype's size.
int conv2d_rotation_sets(const Conv2dProblem& p, std::size_t elem_bytes);

// Sets of random normals on the device: x and dy N(0, 1), weights N(0, 1 / (C k k)) (y near unit
// variance), bias N(0, 0.1). Made in float32 from seeds seed + 4k + 0..3 and rounded once to
// dtype, so that set 0 of every dtype rounds the float32 set 0.
Conv2dSets make_conv2d_sets(
    const Conv2dProblem& p, std::uint64_t seed, DType dtype, int device, cudaStream_t stream);
// The float32 sets of the same seeds quantised: activations per tensor with input, on the device;
// weights symmetric per output channel at amax / 127, on the host (quantize_conv2d_weights is a
// host op).
Conv2dInt8Sets make_conv2d_int8_sets(const Conv2dProblem& p,
                                     std::uint64_t seed,
                                     const ActivationQuant& input,
                                     int device,
                                     cudaStream_t stream);

// cuBLAS on one square GEMM of 8192 (1.1 TFLOP a call, long enough for steady clocks) on random
// normals, median of 5: what the tensor cores reach, not the datasheet peak. bfloat16 stands for
// both half types (Hopper runs float16 and bfloat16 MMAs at one rate).
struct TensorCorePeaks {
    double tf32_tflops = 0;  // float32 data, CUBLAS_COMPUTE_32F_FAST_TF32
    double half_tflops = 0;  // bfloat16 data, float32 accumulation
};
TensorCorePeaks measure_tensor_core_peaks(int device, cudaStream_t stream);

// One pass's work: conv2d_work.h's FLOPs, and its float32 bytes scaled to elem_bytes an element.
double conv2d_flops(const Conv2dProblem& p, bool fb);
double conv2d_bytes(const Conv2dProblem& p, bool fb, std::size_t elem_bytes);

// Sets the iteration time to the median and the counters ms, min_ms, p90_ms, TFLOP_per_s and, when
// peak_tflops is known (not NaN), pct_peak, floor_ms = max(bytes / copy bandwidth, flops / peak)
// and x_floor = ms / floor_ms.
void set_rate_counters(benchmark::State& state,
                       const GpuTimes& t,
                       double flops,
                       double bytes,
                       double copy_gbs,
                       double peak_tflops);

// Each (name, relative L2 error) as counter rel_l2_<name>; false, the offenders appended to *why,
// when one is over tol or NaN.
bool record_errors(benchmark::State& state,
                   const std::vector<std::pair<std::string, double>>& errors,
                   double tol,
                   std::string* why);

// The most device memory call(0) holds beyond what was allocated before it (outputs included).
double peak_extra_bytes(int device, cudaStream_t stream, const std::function<void(int)>& call);

// Every row's median ms by problem, mode ("fp32", "tf32", "fp16", "bf16", "int8"), pass and impl
// ("cudnn", "implicit", "img2col", "dp4a"), and the rows whose check failed.
class Conv2dSummary {
public:
    static std::string key(const Conv2dProblem& p, const char* mode, bool fb, const char* impl);
    void record(const std::string& key, double ms) { ms_[key] = ms; }
    void record_failed(const std::string& key) { failed_[key] = true; }
    double ms(const std::string& key) const;  // NaN when the row did not run or failed
    // "conv2d CUDA summary" and one line per problem and float mode.
    void print(const std::vector<Conv2dProblem>& problems, std::FILE* out) const;

private:
    std::string cell(const std::string& key) const;
    std::map<std::string, double> ms_;
    std::map<std::string, bool> failed_;
};

}  // namespace wtconv::bench
