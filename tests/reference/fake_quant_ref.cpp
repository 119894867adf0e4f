// Reference fake_quant and observers (see fake_quant_ref.h). Built without -march=native, so the
// x86-64 baseline has no FMA instruction to contract a float product and sum into.
#include "reference/fake_quant_ref.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace wtconv::ref {

namespace {

// The channel of flat index i: its coordinate along axis, 0 for a per-tensor config.
size_t channel_of(const std::vector<int64_t>& shape, int axis, int64_t i) {
    if (axis < 0) {
        return 0;
    }
    int64_t after = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) {
        after *= shape[d];
    }
    return static_cast<size_t>((i / after) % shape[static_cast<size_t>(axis)]);
}

size_t channel_count(const Array& x, int axis) {
    return axis < 0 ? 1 : static_cast<size_t>(x.shape[static_cast<size_t>(axis)]);
}

}  // namespace

double round_half_even(double v) {
    if (!std::isfinite(v)) {
        return v;
    }
    const double below = std::floor(v);
    const double mid = below + 0.5;  // exact for every |v| < 2^52; above, v is an integer
    if (v < mid) {
        return below;
    }
    if (v > mid) {
        return below + 1.0;
    }
    return std::fmod(below, 2.0) == 0.0 ? below : below + 1.0;
}

FakeQuantResult fake_quant_forward(const Array& x, const FakeQuantConfig& cfg, FakeQuantArith a) {
    FakeQuantResult r{Array(x.shape), Array(x.shape)};
    for (int64_t i = 0; i < x.numel(); ++i) {
        const size_t c = channel_of(x.shape, cfg.axis, i);
        const float s = cfg.scale[c];
        const float inv = 1.0f / s;
        const double z = cfg.zero_point[c];
        const double xi = x.data[static_cast<size_t>(i)];
        double t = 0.0;
        if (a == FakeQuantArith::kFloat32) {
            const float prod = static_cast<float>(xi) * inv;
            t = prod;
        } else {
            t = xi * static_cast<double>(inv);
        }
        const double q = round_half_even(t) + z;
        const bool inside = q >= cfg.quant_min && q <= cfg.quant_max;
        double clamped = q;
        if (q < cfg.quant_min) {
            clamped = cfg.quant_min;
        } else if (q > cfg.quant_max) {
            clamped = cfg.quant_max;
        }
        const double k = clamped - z;  // an integer level (NaN for NaN x)
        double y = 0.0;
        if (a == FakeQuantArith::kFloat32) {
            const float yf = static_cast<float>(k) * s;  // k is exact in float: |k| < 2^24 here
            y = yf;
        } else {
            y = k * static_cast<double>(s);
        }
        r.y.data[static_cast<size_t>(i)] = y;
        r.mask.data[static_cast<size_t>(i)] = inside ? 1.0 : 0.0;
    }
    return r;
}

Array fake_quant_backward(const Array& dy, const Array& mask) {
    Array dx(dy.shape);
    for (size_t i = 0; i < dy.data.size(); ++i) {
        dx.data[i] = dy.data[i] * mask.data[i];
    }
    return dx;
}

MinMaxStats batch_min_max(const Array& x, int axis) {
    const size_t channels = channel_count(x, axis);
    std::vector<double> lo(channels, std::numeric_limits<double>::infinity());
    std::vector<double> hi(channels, -std::numeric_limits<double>::infinity());
    std::vector<bool> nan(channels, false);
    for (int64_t i = 0; i < x.numel(); ++i) {
        const size_t c = channel_of(x.shape, axis, i);
        const double v = x.data[static_cast<size_t>(i)];
        if (std::isnan(v)) {
            nan[c] = true;
        } else {
            lo[c] = std::min(lo[c], v);
            hi[c] = std::max(hi[c], v);
        }
    }
    MinMaxStats s;
    for (size_t c = 0; c < channels; ++c) {
        const double q_nan = std::numeric_limits<double>::quiet_NaN();
        s.min.push_back(static_cast<float>(nan[c] ? q_nan : lo[c]));
        s.max.push_back(static_cast<float>(nan[c] ? q_nan : hi[c]));
    }
    return s;
}

void moving_average_update(MinMaxStats& running, const MinMaxStats& batch, float c) {
    for (size_t i = 0; i < running.min.size(); ++i) {
        const float dmin = batch.min[i] - running.min[i];
        const float step_min = c * dmin;
        running.min[i] = running.min[i] + step_min;
        const float dmax = batch.max[i] - running.max[i];
        const float step_max = c * dmax;
        running.max[i] = running.max[i] + step_max;
    }
}

QParamsValues qparams_conversion(const MinMaxStats& s, int32_t qmin, int32_t qmax, bool symmetric) {
    const float eps = 1.0f / 8388608.0f;  // 2^-23
    QParamsValues out;
    for (size_t c = 0; c < s.min.size(); ++c) {
        const float neg = s.min[c] < 0.0f ? s.min[c] : 0.0f;
        const float pos = s.max[c] > 0.0f ? s.max[c] : 0.0f;
        float scale = 0.0f;
        int32_t zero = 0;
        if (symmetric) {
            const float amax = -neg > pos ? -neg : pos;
            const float half_levels = static_cast<float>((qmax - qmin) / 2.0);
            scale = amax / half_levels;
            zero = qmin < 0 ? 0 : (qmin + qmax + 1) / 2;
        } else {
            const float span = pos - neg;
            scale = span / static_cast<float>(qmax - qmin);
        }
        if (scale < eps) {
            scale = eps;
        }
        if (!symmetric) {
            const float ratio = neg / scale;
            const double z = qmin - round_half_even(ratio);
            zero = static_cast<int32_t>(z < qmin ? qmin : (z > qmax ? qmax : z));
        }
        out.scale.push_back(scale);
        out.zero_point.push_back(zero);
    }
    return out;
}

QParamsValues qparams_torch_fused(const MinMaxStats& s,
                                  int32_t qmin,
                                  int32_t qmax,
                                  bool symmetric) {
    const double threshold = static_cast<double>(6.1e-5f);
    const double levels = static_cast<double>(qmax) - qmin;
    const double half = std::floor(levels / 2.0);
    QParamsValues out;
    for (size_t c = 0; c < s.min.size(); ++c) {
        const double neg = std::min<double>(s.min[c], 0.0);
        const double pos = std::max<double>(s.max[c], 0.0);
        const bool around_zero = symmetric && neg < 0.0 && pos > 0.0;
        double scale =
            around_zero ? std::max(-neg / (half + 1.0), pos / half) : (pos - neg) / levels;
        double zero = 0.0;
        if (around_zero) {
            zero = round_half_even((static_cast<double>(qmin) + qmax) / 2.0);
        } else if (scale == 0.0) {
            // An empty range: the end whose |q| is smaller (PyTorch's lower-error choice).
            zero = std::fabs(static_cast<double>(qmin)) < std::fabs(static_cast<double>(qmax))
                       ? qmin
                       : qmax;
        } else {
            zero = round_half_even(qmin - neg / scale);
            zero = std::min<double>(std::max<double>(zero, qmin), qmax);
        }
        if (scale == 0.0) {
            scale = 0.1;
        }
        scale = std::max(scale, threshold);
        out.scale.push_back(static_cast<float>(scale));
        out.zero_point.push_back(static_cast<int32_t>(zero));
    }
    return out;
}

}  // namespace wtconv::ref
