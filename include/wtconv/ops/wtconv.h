#pragma once
// Types shared by WTConv2d and WTConv1d (Finder et al., ECCV 2024): options, parameters, the state
// backward reads, gradients. The two ops differ only in rank; see ops/wtconv2d.h, ops/wtconv1d.h.
#include <string>
#include <vector>

#include <wtconv/tensor.h>

namespace wtconv {

// Which implementation runs. kAuto picks the best one for the input's device; an explicit choice
// that the device cannot run throws Error(kNotSupported).
enum class WTConvAlgo {
    kAuto,       // the fastest algorithm for the device: kPlanewise on the CPU, kFused on CUDA
    kPlanewise,  // CPU: each (n, c) plane runs the whole pyramid in cache, OpenMP over planes
    kDirect,  // CPU and CUDA (the "baseline"): one plain loop nest or kernel per stage over whole
              // tensors, as the reference module computes; slower and memory-hungry, kept as
              // the readable in-library reference
    kFused,   // CUDA: one kernel per pass over device memory, the whole pyramid in shared memory
};
const char* wtconv_algo_name(WTConvAlgo algo);

struct WTConvParams {
    int kernel_size = 5;          // K >= 1, odd or even; the base conv and every level use it
    int levels = 1;               // L >= 0, no upper limit; 0 = base branch only
    int stride = 1;               // >= 1; 2D keeps rows/columns 0, s, 2s, ...; 1D averages
    bool bias = true;             // base_bias, added inside base_scale
    std::string wavelet = "db1";  // any discrete pywt name (wavelet_names()); unknown names throw
    WTConvAlgo algo = WTConvAlgo::kAuto;
};

// Parameters of one layer with C channels; B = 4 sub-bands in 2D, 2 in 1D; taps K x K (2D) or K.
struct WTConvWeights {
    Tensor base_weight;  // (C, 1, K, K) | (C, 1, K)
    Tensor base_bias;    // (C); undefined when !params.bias
    Tensor base_scale;   // (C)
    std::vector<Tensor>
        wavelet_weight;                 // level i: (B*C, 1, K, K) | (B*C, 1, K), channel B*c + band
    std::vector<Tensor> wavelet_scale;  // level i: (B*C)
};

// What backward reads. Every backend recomputes what it does not find here, so any backend's
// backward accepts any backend's saved state.
struct WTConvSaved {
    Tensor x;  // the forward input (shares its storage, no copy)
};

struct WTConvGrads {
    Tensor dx;               // same shape as x
    WTConvWeights dweights;  // same shapes as the weights; base_bias undefined when !bias
};

}  // namespace wtconv
