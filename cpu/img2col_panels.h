#pragma once
// img2col straight into cpu/sgemm.h's B panels: a chunk [c0, c1) of one group's column matrix over
// the batch (column n Ho Wo + p, so a chunk may span images) is never materialised, which saves
// writing it and reading it back (a fifth of conv2d's forward time at 64 output channels, where
// each column feeds few multiply-adds).
#include <cstdint>

#include "common/conv2d_geometry.h"
#include "cpu/sgemm.h"

namespace wtconv::cpu {

class Img2colPanels final : public PanelPacker {
public:
    // x: the whole (N, C, H, W) input.
    Img2colPanels(const ::wtconv::detail::Conv2dGeometry& g,
                  const float* x,
                  std::int64_t group,
                  std::int64_t c0,
                  std::int64_t c1)
        : g_(g), x_(x), group_(group), c0_(c0), c1_(c1) {}

    void pack(std::int64_t k0, std::int64_t kc, float* out) const override;

private:
    ::wtconv::detail::Conv2dGeometry g_;
    const float* x_;
    std::int64_t group_, c0_, c1_;
};

}  // namespace wtconv::cpu
