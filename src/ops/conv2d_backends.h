#pragma once
// Internal: the signatures the conv2d backends implement. src/ops/conv2d.cpp has checked every
// argument and allocated every output before calling them; backends trust both.
#include <wtconv/context.h>
#include <wtconv/ops/conv2d.h>

#include "common/conv2d_geometry.h"

namespace wtconv::cpu {

// y: (N, O, Ho, Wo), written whole. bias may be undefined.
void conv2d_forward_img2col(Context& ctx,
                            const detail::Conv2dGeometry& g,
                            const Tensor& x,
                            const Conv2dWeights& w,
                            Tensor& y);
// grads.dweights (and grads.dx when defined) allocated with their final shapes, written whole.
void conv2d_backward_img2col(Context& ctx,
                             const detail::Conv2dGeometry& g,
                             const Tensor& dy,
                             const Tensor& x,
                             const Conv2dWeights& w,
                             Conv2dGrads& grads);

}  // namespace wtconv::cpu
