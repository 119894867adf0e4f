#pragma once
// Internal: the signatures the fake_quant backends implement. src/ops/fake_quant.cpp has checked
// every argument and allocated every output before calling them; backends trust both.
#include <cstdint>
#include <vector>

#include <wtconv/context.h>
#include <wtconv/ops/fake_quant.h>

namespace wtconv::cpu {

// x viewed as (outer, channels, inner), row-major: the channel of flat index i is
// (i / inner) % channels. Per tensor: (1, 1, numel).
struct FakeQuantLayout {
    std::int64_t outer = 1;
    std::int64_t channels = 1;
    std::int64_t inner = 0;
};

// y like x, written whole; mask like x (written whole) or nullptr in inference. q holds
// layout.channels scales and zero points (one per tensor), already checked.
void fake_quant_forward(Context& ctx,
                        const Tensor& x,
                        const QuantParams& q,
                        const FakeQuantLayout& layout,
                        Tensor& y,
                        Tensor* mask);
// dx = dy * mask, all of one shape and dtype.
void fake_quant_backward(Context& ctx, const Tensor& dy, const Tensor& mask, Tensor& dx);
// Per channel min and max of x over outer and inner (exact; NaN when the channel holds a NaN).
// numel(x) >= 1; min_val and max_val are resized to layout.channels.
void fake_quant_min_max(Context& ctx,
                        const Tensor& x,
                        const FakeQuantLayout& layout,
                        std::vector<double>& min_val,
                        std::vector<double>& max_val);

}  // namespace wtconv::cpu
