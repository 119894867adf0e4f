#pragma once
// A fused WTConv2d plan in words, for the messages of the tests that read plans
// (test_wtconv_fused_plan.cpp, test_wtconv_fused_staging.cu).
#include <string>

#include "cuda/wtconv2d_fused_plan.h"

namespace wtconv::cuda {

inline std::string describe_plan(const FusedPlan& p) {
    return "N" + std::to_string(p.n) + " C" + std::to_string(p.c) + " " + std::to_string(p.h) +
           "x" + std::to_string(p.w) + " K" + std::to_string(p.k) + " L" +
           std::to_string(p.levels) + " s" + std::to_string(p.stride) + " tile " +
           std::to_string(p.tile_h) + "x" + std::to_string(p.tile_w) +
           (p.whole_plane ? " (whole plane)" : " (tiled)") +
           (p.grad_narrow_level0 ? " (level 0 narrowed)" : "");
}

}  // namespace wtconv::cuda
