#pragma once
// The Wavelet-KAN layer's op (WAVKAN.md): per edge (o, i) a weighted mother wavelet of the
// shifted and scaled input, summed over the inputs, plus an optional SiLU base branch and an
// optional batch norm. Forward and backward; docs/wavkan.md.
//   u[b,o,i] = (x[b,i] - translation[o,i]) / scale[o,i]
//   z[b,o]   = sum_i wavelet_weights[o,i] psi_i(u[b,o,i]) + [base] sum_i base_weight[o,i]
//   SiLU(x[b,i]) y        = [batchnorm] BatchNorm1d(z), else z
#include <string>

#include <wtconv/context.h>
#include <wtconv/tensor.h>

namespace wtconv {

// The mother wavelets of the original Wav-KAN layer, with its signs and constants (WAVKAN.md 3.2).
enum class KanWavelet {
    kMexicanHat,  // C (u^2 - 1) exp(-u^2 / 2), C = 2 / (sqrt(3) pi^(1/4))
    kMorlet,      // cos(5 u) exp(-u^2 / 2)
    kDog,         // -u exp(-u^2 / 2)
    kMeyer,       // sin(pi |u|) m(|u|), a bump on |u| < 1
    kShannon,     // h[i] sin(u) / u, h a Hamming window over the input index
};
// The original's names: "mexican_hat", "morlet", "dog", "meyer", "shannon".
const char* kan_wavelet_name(KanWavelet wavelet);
// The wavelet of that name; any other throws Error naming `wavelet`.
KanWavelet kan_wavelet_from_name(const std::string& name);

// Which implementation of the wavelet sum runs (batch norm and base branch are the same for both).
enum class WavKanAlgo {
    kAuto,     // kFused
    kFused,    // each (b, o, i) evaluated where it is summed: no (B, O, I) tensor
    kUnfused,  // the plain composition, the comparator: w psi materialised for every (b, o, i)
               // (B O I elements; four such tensors in backward), then reduced
};
const char* wavkan_algo_name(WavKanAlgo algo);

struct WavKanParams {
    KanWavelet wavelet = KanWavelet::kMexicanHat;
    WavKanAlgo algo = WavKanAlgo::kAuto;
    bool base = false;         // the SiLU base branch, which the original leaves commented out
    bool batchnorm = true;     // BatchNorm1d over the outputs, as the original always applies
    bool training = true;      // batch norm: batch statistics (B >= 2), running statistics updated;
                               // false: the running statistics normalise and stay as they are
    double bn_eps = 1e-5;      // > 0
    double bn_momentum = 0.1;  // in [0, 1]
};

// Parameters; every tensor of x's dtype and device.
struct WavKanWeights {
    Tensor scale;            // (O, I): finite, nonzero, any sign
    Tensor translation;      // (O, I)
    Tensor wavelet_weights;  // (O, I)
    Tensor base_weight;      // (O, I) with base, else undefined
    Tensor bn_weight;        // (O) with batchnorm (gamma), else undefined
    Tensor bn_bias;          // (O) with batchnorm (beta), else undefined
};

// Batch norm's running statistics (buffers, not trained), (O) each: read in evaluation, updated
// in place by a training forward (the variance with Bessel's correction, B / (B - 1)).
struct WavKanRunningStats {
    Tensor mean;
    Tensor var;
};

// What backward reads.
struct WavKanSaved {
    Tensor x;  // the forward input (shares its storage, no copy)
    // With batchnorm: the sums before it, (B, O) in x's dtype, and the statistics that normalised
    // them, (O) in float64 on x's device (mean, and 1 / sqrt(var + eps)). The backward normalises
    // again in double: with few samples its result is a small difference of large terms (at B = 2
    // exactly 0 but for eps), which zhat rounded to float32 would swamp.
    Tensor z;
    Tensor mean;
    Tensor inv_std;
    // Whether the forward normalised by the batch's statistics (training) or the running ones: the
    // backward differentiates what the forward computed, whatever params.training says by then
    // (a layer may switch to eval() between the two).
    bool batch_statistics = false;
};

struct WavKanGrads {
    Tensor dx;               // like x; undefined when backward was asked not to compute it
    WavKanWeights dweights;  // like the weights (undefined where the weight is)
};

// x: (B, I), float32 or float64 on the CPU or CUDA, float16 or bfloat16 on CUDA (storage: every
// value widened to float, every sum in float, each stored result rounded once; z and dx twice
// with the base branch). running: required
// with batchnorm (null otherwise). Pass saved to train. Throws Error naming the argument that does
// not fit: shapes, dtypes, devices, a non-finite x or parameter, a zero scale (with its first
// index), B = 1 with batch norm in training, empty sizes. Where the original would compute inf * 0
// for a huge |u|, psi and its derivative are their limit 0 (WAVKAN.md 5).
Tensor wavkan_forward(Context& ctx,
                      const Tensor& x,
                      const WavKanWeights& weights,
                      const WavKanParams& params,
                      WavKanRunningStats* running = nullptr,
                      WavKanSaved* saved = nullptr);

// dy: (B, O), the gradient of the loss with respect to y. need_dx = false skips dx. The weight
// gradients sum over the batch in a fixed order: repeated calls give identical bits.
WavKanGrads wavkan_backward(Context& ctx,
                            const Tensor& dy,
                            const WavKanWeights& weights,
                            const WavKanParams& params,
                            const WavKanSaved& saved,
                            bool need_dx = true);

}  // namespace wtconv
