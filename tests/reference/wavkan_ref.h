// Independent double-precision reference for the Wavelet-KAN op, written from WAVKAN.md alone with
// plain loops and the standard library only, so that it shares no code with the library. The
// golden files (tests/golden/wavkan) remain the first authority; this is the second opinion.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "reference/wtconv_ref.h"

namespace wtconv::ref {

struct WavKanConfig {
    std::string wavelet = "mexican_hat";  // mexican_hat, morlet, dog, meyer, shannon; others throw
                                          // std::invalid_argument
    bool base = false;                    // adds sum_i base_weight[o,i] * SiLU(x[b,i])
    bool batchnorm = true;                // BatchNorm1d(O) after the sum
    bool training = true;  // batch norm mode: batch statistics (and update) or running
    double eps = 1e-5;
    double momentum = 0.1;
};

struct WavKanTensors {
    Array scale, translation, wavelet_weights;  // (O, I)
    Array base_weight;                          // (O, I); empty (default Array) without base
    Array bn_weight, bn_bias;                   // (O); empty without batchnorm
    Array bn_running_mean, bn_running_var;      // (O); empty without batchnorm
};

struct WavKanForwardRef {
    Array y;                                  // (B, O)
    Array running_mean_out, running_var_out;  // (O) after the call; empty without batchnorm (in
                                              // eval: equal to the inputs)
};

struct WavKanGradsRef {
    Array dx;                                                    // (B, I)
    Array dscale, dtranslation, dwavelet_weights, dbase_weight;  // (O, I); dbase_weight empty
                                                                 // without base
    Array dbn_weight, dbn_bias;                                  // (O); empty without batchnorm
};

// psi and its derivative d psi / d u at u, for input index i of I inputs (i and I matter only for
// shannon's Hamming window). Throws std::invalid_argument for an unknown wavelet name.
std::pair<double, double> kan_psi(const std::string& wavelet, double u, int64_t i, int64_t I);

// x: (B, I). Throws std::invalid_argument for shapes that do not fit, an unknown wavelet, or
// B < 2 with batch norm in training mode (the variance is undefined). scale is not checked: a zero
// scale gives whatever the arithmetic gives (inf or NaN), as the original does.
WavKanForwardRef wavkan_forward(const Array& x, const WavKanTensors& p, const WavKanConfig& c);
// Recomputes the forward it needs; dy is (B, O).
WavKanGradsRef wavkan_backward(const Array& x,
                               const Array& dy,
                               const WavKanTensors& p,
                               const WavKanConfig& c);

}  // namespace wtconv::ref
