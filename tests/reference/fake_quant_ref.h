// Independent reference for fake_quant and its observers, written from COMPRESSION.md 3.3 and 3.4
// alone with plain loops and the standard library only, so that it shares no code with the
// library. Values travel as doubles; the float32 path works on float32 values held in them.
#pragma once

#include <cstdint>
#include <vector>

#include "reference/wtconv_ref.h"

namespace wtconv::ref {

struct FakeQuantConfig {
    std::vector<float> scale;  // one value (axis < 0) or one per index along axis
    std::vector<int32_t> zero_point;
    int axis = -1;  // the channel dim in [0, rank); -1: one scale for the whole tensor
    int32_t quant_min = -128;
    int32_t quant_max = 127;
};

// kFloat32: x holds float32 values, t = fl32(x * fl32(1/s)) and y = fl32(k * s). kFloat64: the
// same with fl32(1/s) and s widened, t and y in double.
enum class FakeQuantArith { kFloat32, kFloat64 };

struct FakeQuantResult {
    Array y;
    Array mask;  // 1 where quant_min <= q <= quant_max (q before the clamp), else 0
};

FakeQuantResult fake_quant_forward(const Array& x, const FakeQuantConfig& cfg, FakeQuantArith a);
// dy * mask.
Array fake_quant_backward(const Array& dy, const Array& mask);

// Round to the nearest integer, ties to the even one, without the C library's rounding modes.
double round_half_even(double v);

// Observer statistics in float32: one value (axis < 0) or one per index along axis.
struct MinMaxStats {
    std::vector<float> min;
    std::vector<float> max;
};

// min and max over every dim but axis, rounded to float32; NaN anywhere in a channel gives NaN.
MinMaxStats batch_min_max(const Array& x, int axis);
// m <- m + c (batch - m), each operation rounded to float32.
void moving_average_update(MinMaxStats& running, const MinMaxStats& batch, float c);

struct QParamsValues {
    std::vector<float> scale;
    std::vector<int32_t> zero_point;
};

// The conversion-time formulas of 3.4 (float32 arithmetic, eps = 2^-23).
QParamsValues qparams_conversion(const MinMaxStats& s, int32_t qmin, int32_t qmax, bool symmetric);
// The fused training-time rule of 3.4 as its formulas read: symmetric ranges around 0 take
// max(|m-| / (floor((qmax - qmin) / 2) + 1), M+ / floor((qmax - qmin) / 2)) and the middle zero
// point, others (M+ - m-) / (qmax - qmin); s = 0 becomes 0.1, s < 6.1e-5 becomes 6.1e-5. Computed
// in double: it agrees with the library's float/double mix up to the rounding of s.
QParamsValues qparams_torch_fused(const MinMaxStats& s, int32_t qmin, int32_t qmax, bool symmetric);

}  // namespace wtconv::ref
