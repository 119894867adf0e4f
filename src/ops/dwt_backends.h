#pragma once
// Internal: the signatures the dwt backend implements (cpu/dwt.cpp). src/ops/dwt.cpp has checked
// every argument and allocated every output before calling them; the backend trusts both.
#include <wtconv/context.h>
#include <wtconv/ops/dwt.h>

#include "common/wavelet_filters.h"

namespace wtconv::cpu {

// One analysis level of x (..., H, W) into out.approx and out.details[0] (each (..., h, w) with
// h = dwt_coeff_len(H), w = dwt_coeff_len(W)), all of x's dtype and written whole.
void dwt2_forward(
    Context& ctx, const Tensor& x, const detail::WaveletTaps& taps, DwtMode mode, Dwt2Coeffs& out);

// One synthesis level into y (..., Mh, Mw), written whole. details are (..., h, w); approx is
// (..., ha, wa) with ha >= h, wa >= w: only its top-left h x w block is read (waverec2 drops the
// extra row or column this way without a copy).
void dwt2_inverse(Context& ctx,
                  const Tensor& approx,
                  const DwtDetails& details,
                  const detail::WaveletTaps& taps,
                  DwtMode mode,
                  Tensor& y);

}  // namespace wtconv::cpu
