// fake_quant: argument checks, output allocation and the one dispatch point (kernels in cpu/),
// the scale/zero-point rules of COMPRESSION.md 3.4, the moving-average observer and FakeQuantize.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include <wtconv/ops/fake_quant.h>

#include "common/alloc_output.h"
#include "ops/fake_quant_backends.h"

namespace wtconv {

namespace {

constexpr std::int64_t kMaxLevels = std::int64_t{1} << 24;

int normalize_axis(int axis, const Shape& shape) {
    const int rank = shape.rank();
    WTCONV_CHECK(axis >= -rank && axis < rank, "fake_quant: axis must be in [", -rank, ", ", rank,
                 ") for x of shape ", shape, ", got ", axis);
    return axis < 0 ? axis + rank : axis;
}

// x as (outer, channels, inner) for the scheme (axis already checked).
cpu::FakeQuantLayout layout_of(const Shape& shape, QScheme scheme, int axis) {
    cpu::FakeQuantLayout l{1, 1, shape.numel()};
    if (scheme == QScheme::kPerChannel) {
        const int a = normalize_axis(axis, shape);
        l.inner = 1;
        for (int d = 0; d < shape.rank(); ++d) {
            std::int64_t& part = d < a ? l.outer : (d == a ? l.channels : l.inner);
            part *= shape[d];
        }
    }
    return l;
}

void check_float(const char* name, const Tensor& t) {
    WTCONV_CHECK(t.defined(), "fake_quant: ", name, " must be a tensor, got an undefined one");
    WTCONV_CHECK(t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64, "fake_quant: ", name,
                 " must be float32 or float64, got ", dtype_name(t.dtype()));
}

// The one place that knows which devices have a fake_quant kernel; no default, so -Wswitch
// names it when DeviceType grows.
void check_backend(const char* name, const Tensor& t) {
    switch (t.device().type) {
        case DeviceType::kCpu:
            return;
        case DeviceType::kCuda:
            throw Error(ErrorCode::kNotSupported,
                        detail::concat("fake_quant: ", name,
                                       " must be a CPU tensor (fake_quant has no CUDA kernel "
                                       "yet), got one on ",
                                       t.device().str()));
    }
}

// Every rule of QuantParams against x's shape; returns the layout the kernels use.
cpu::FakeQuantLayout check_qparams(const QuantParams& q, const Shape& x) {
    WTCONV_CHECK(q.quant_min <= q.quant_max, "fake_quant: quant_min must be <= quant_max, got ",
                 q.quant_min, " > ", q.quant_max);
    // Every level q - z then is an integer exact in float32 (int8 to int16 ranges and beyond).
    WTCONV_CHECK(std::int64_t{q.quant_max} - q.quant_min <= kMaxLevels,
                 "fake_quant: quant_max - quant_min must be <= 2^24, got ",
                 std::int64_t{q.quant_max} - q.quant_min);
    const cpu::FakeQuantLayout l = layout_of(x, q.scheme, q.axis);
    const auto want = static_cast<std::size_t>(l.channels);
    const std::string expected =
        q.scheme == QScheme::kPerTensor
            ? std::string("1 value for a per-tensor scheme")
            : detail::concat("x.size(axis) = ", want, " values for x of shape ", x, " and axis ",
                             q.axis);
    WTCONV_CHECK(q.scale.size() == want, "fake_quant: scale must hold ", expected, ", got ",
                 q.scale.size());
    WTCONV_CHECK(q.zero_point.size() == want, "fake_quant: zero_point must hold ", expected,
                 ", got ", q.zero_point.size());
    for (std::size_t c = 0; c < want; ++c) {
        // 2^-126, the smallest normal float: above it 1 / scale stays finite in float32.
        const float s = q.scale[c];
        WTCONV_CHECK(std::isfinite(s) && s >= std::numeric_limits<float>::min(),
                     "fake_quant: scale must be finite and >= 2^-126, got scale[", c, "] = ", s);
        WTCONV_CHECK(q.zero_point[c] >= q.quant_min && q.zero_point[c] <= q.quant_max,
                     "fake_quant: zero_point must be in [quant_min, quant_max] = [", q.quant_min,
                     ", ", q.quant_max, "], got zero_point[", c, "] = ", q.zero_point[c]);
    }
    return l;
}

// A scale or zero-point tensor as values; shape (C) or, with one_element, any single element.
std::vector<double> qparam_values(const char* name, const Tensor& t, bool one_element) {
    check_float(name, t);
    if (one_element) {
        WTCONV_CHECK(t.numel() == 1, "fake_quant: ", name,
                     " must have one element for a per-tensor scheme, got shape ", t.shape());
    } else {
        WTCONV_CHECK(t.dim() == 1, "fake_quant: ", name,
                     " must be of shape (C) for a per-channel scheme, got shape ", t.shape());
    }
    return (t.device().is_cpu() ? t : t.to(Device::cpu())).to_vector();
}

std::vector<std::int32_t> zero_points_of(const Tensor& t, bool one_element) {
    const std::vector<double> v = qparam_values("zero_point", t, one_element);
    std::vector<std::int32_t> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        WTCONV_CHECK(
            std::nearbyint(v[i]) == v[i] && v[i] >= std::numeric_limits<std::int32_t>::min() &&
                v[i] <= std::numeric_limits<std::int32_t>::max(),
            "fake_quant: zero_point must hold int32 integers, got ", v[i], " at index ", i);
        out[i] = static_cast<std::int32_t>(v[i]);
    }
    return out;
}

std::vector<float> scales_of(const Tensor& t, bool one_element) {
    const std::vector<double> v = qparam_values("scale", t, one_element);
    return std::vector<float>(v.begin(), v.end());  // float64 scales round to float32 here
}

}  // namespace

QuantParams QuantParams::per_tensor(float scale,
                                    std::int32_t zero_point,
                                    std::int32_t quant_min,
                                    std::int32_t quant_max) {
    return QuantParams{QScheme::kPerTensor, 0, {scale}, {zero_point}, quant_min, quant_max};
}

QuantParams QuantParams::per_channel(std::vector<float> scale,
                                     std::vector<std::int32_t> zero_point,
                                     int axis,
                                     std::int32_t quant_min,
                                     std::int32_t quant_max) {
    return QuantParams{QScheme::kPerChannel,  axis,      std::move(scale),
                       std::move(zero_point), quant_min, quant_max};
}

QuantParams QuantParams::per_tensor(const Tensor& scale,
                                    const Tensor& zero_point,
                                    std::int32_t quant_min,
                                    std::int32_t quant_max) {
    const float s = scales_of(scale, true).at(0);  // scale checked before zero_point
    return per_tensor(s, zero_points_of(zero_point, true).at(0), quant_min, quant_max);
}

QuantParams QuantParams::per_channel(const Tensor& scale,
                                     const Tensor& zero_point,
                                     int axis,
                                     std::int32_t quant_min,
                                     std::int32_t quant_max) {
    std::vector<float> s = scales_of(scale, false);  // scale checked before zero_point
    return per_channel(std::move(s), zero_points_of(zero_point, false), axis, quant_min, quant_max);
}

Tensor fake_quant_forward(Context& ctx,
                          const Tensor& x,
                          const QuantParams& q,
                          FakeQuantSaved* saved) {
    check_float("x", x);
    const cpu::FakeQuantLayout layout = check_qparams(q, x.shape());
    check_backend("x", x);
    Tensor y = detail::alloc_output(ctx, x.shape(), x.dtype(), x.device());
    Tensor mask;
    if (saved != nullptr) {
        mask = detail::alloc_output(ctx, x.shape(), x.dtype(), x.device());
    }
    cpu::fake_quant_forward(ctx, x, q, layout, y, saved != nullptr ? &mask : nullptr);
    if (saved != nullptr) {
        saved->mask = mask;
    }
    return y;
}

Tensor fake_quant_backward(Context& ctx, const Tensor& dy, const FakeQuantSaved& saved) {
    WTCONV_CHECK(saved.mask.defined(),
                 "fake_quant: saved.mask must hold the forward's mask (pass saved to "
                 "fake_quant_forward), got an undefined tensor");
    check_float("dy", dy);
    check_shape("fake_quant", "dy", dy, saved.mask.shape());
    check_dtype("fake_quant", "dy", dy, saved.mask.dtype());
    check_device("fake_quant", "dy", dy, saved.mask.device());
    check_backend("dy", dy);
    Tensor dx = detail::alloc_output(ctx, dy.shape(), dy.dtype(), dy.device());
    cpu::fake_quant_backward(ctx, dy, saved.mask, dx);
    return dx;
}

// ---- scale and zero point from (m, M) -----------------------------------------------------------

namespace {

void check_observer_params(const ObserverParams& p) {
    WTCONV_CHECK(p.quant_min < p.quant_max,
                 "fake_quant: observer quant_min must be < quant_max, got ", p.quant_min,
                 " >= ", p.quant_max);
    WTCONV_CHECK(p.averaging_constant > 0.0f && p.averaging_constant <= 1.0f,
                 "fake_quant: observer averaging_constant must be in (0, 1], got ",
                 p.averaging_constant);
    WTCONV_CHECK(!p.symmetric || p.quant_min >= 0 || p.quant_max >= 0,
                 "fake_quant: a symmetric observer's range must contain 0 or start at it, got [",
                 p.quant_min, ", ", p.quant_max, "]");
}

void check_min_max_sizes(const std::vector<float>& min_val,
                         const std::vector<float>& max_val,
                         QScheme scheme) {
    WTCONV_CHECK(min_val.size() == max_val.size() && !min_val.empty(),
                 "fake_quant: min_val and max_val must hold as many values, at least one, got ",
                 min_val.size(), " and ", max_val.size());
    WTCONV_CHECK(scheme == QScheme::kPerChannel || min_val.size() == 1,
                 "fake_quant: min_val must hold 1 value for a per-tensor scheme, got ",
                 min_val.size());
}

// kConversion: PyTorch's ObserverBase._calculate_qparams on float32 tensors, op by op.
void conversion_rule(float m, float big_m, const ObserverParams& p, float& s, std::int32_t& z) {
    const float eps = std::numeric_limits<float>::epsilon();  // 2^-23, torch.finfo(float32).eps
    const float neg = std::min(m, 0.0f);
    const float pos = std::max(big_m, 0.0f);
    const double levels = static_cast<double>(p.quant_max) - p.quant_min;
    if (p.symmetric) {
        s = std::max(std::max(-neg, pos) / static_cast<float>(levels / 2.0), eps);
        z = p.quant_min < 0 ? 0
                            : static_cast<std::int32_t>(
                                  (static_cast<std::int64_t>(p.quant_min) + p.quant_max + 1) / 2);
        return;
    }
    s = std::max((pos - neg) / static_cast<float>(levels), eps);
    const double zf = static_cast<double>(p.quant_min) - std::nearbyint(neg / s);
    z = static_cast<std::int32_t>(std::clamp<double>(zf, p.quant_min, p.quant_max));
}

// kTorchFusedTraining: quant_utils::ChooseQuantizationParams(min, max, qmin, qmax,
// preserve_sparsity = symmetric), in its float/double/int mix, which decides the last bit.
void torch_fused_rule(float min, float max, const ObserverParams& p, float& s, std::int32_t& z) {
    const std::int64_t qmin = p.quant_min;
    const std::int64_t qmax = p.quant_max;
    const bool sparse = p.symmetric;
    if (min < 0 && max > 0 && sparse) {
        const auto sym_qmin = static_cast<float>(-((qmax - qmin) / 2 + 1));
        const auto sym_qmax = static_cast<float>((qmax - qmin) / 2);
        const double max_scale = std::max(std::fabs(min / sym_qmin), std::fabs(max / sym_qmax));
        min = static_cast<float>(max_scale * sym_qmin);
        max = static_cast<float>(max_scale * sym_qmax);
    }
    min = std::min(min, 0.0f);
    max = std::max(max, 0.0f);
    const auto levels = static_cast<double>(qmax - qmin);
    double scale = (static_cast<double>(max) - min) / levels;
    if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) {
        scale = 0.1;  // a degenerate range
    }
    constexpr float kSmallScale = 6.1e-5f;  // PyTorch's SMALL_SCALE_THRESHOLD (fp16's min normal)
    if (scale < kSmallScale) {
        const auto original = static_cast<float>(scale);
        scale = kSmallScale;
        if (min == 0.0f) {
            max = kSmallScale * static_cast<float>(levels);
        } else if (max == 0.0f) {
            min = -kSmallScale * static_cast<float>(levels);
        } else {
            const float amplifier = kSmallScale / original;
            min *= amplifier;
            max *= amplifier;
        }
    }
    // The zero point from the end whose terms are smaller (less rounding error), or the middle.
    const double from_min = static_cast<double>(qmin) - min / scale;
    const double from_max = static_cast<double>(qmax) - max / scale;
    const double min_error = std::fabs(static_cast<double>(qmin)) - std::fabs(min / scale);
    const double max_error = std::fabs(static_cast<double>(qmax)) - std::fabs(max / scale);
    double zf = min_error < max_error ? from_min : from_max;
    if (min < 0 && max > 0 && sparse) {
        zf = static_cast<double>(qmin + qmax) / 2;
    }
    const double nudged = zf < qmin ? qmin : (zf > qmax ? qmax : std::nearbyint(zf));
    s = static_cast<float>(scale);
    z = static_cast<std::int32_t>(nudged);
}

// PyTorch's m + c (x - m) as three float32 operations, each rounded. GCC's C++ default
// (-ffp-contract=fast) would fuse the multiply and the add into an FMA under -march=native and
// change the last bit; the volatile store rounds the product first.
float moving_average(float running, float batch, float c) {
    volatile float step = c * (batch - running);
    return running + step;
}

}  // namespace

ObserverParams ObserverParams::activation(bool reduce_range) {
    ObserverParams p;
    p.quant_max = reduce_range ? 127 : 255;
    return p;
}

ObserverParams ObserverParams::weight() {
    ObserverParams p;
    p.scheme = QScheme::kPerChannel;
    p.symmetric = true;
    p.quant_min = -128;
    p.quant_max = 127;
    return p;
}

QuantParams calculate_qparams(const std::vector<float>& min_val,
                              const std::vector<float>& max_val,
                              const ObserverParams& params) {
    check_observer_params(params);
    check_min_max_sizes(min_val, max_val, params.scheme);
    QuantParams q;
    q.scheme = params.scheme;
    q.axis = params.axis;
    q.quant_min = params.quant_min;
    q.quant_max = params.quant_max;
    q.scale.resize(min_val.size());
    q.zero_point.resize(min_val.size());
    for (std::size_t c = 0; c < min_val.size(); ++c) {
        WTCONV_CHECK(
            std::isfinite(min_val[c]) && std::isfinite(max_val[c]) && min_val[c] <= max_val[c],
            "fake_quant: observed min and max must be finite with min <= max, got min ", min_val[c],
            " and max ", max_val[c], " at index ", c);
        switch (params.rule) {
            case QParamsRule::kConversion:
                conversion_rule(min_val[c], max_val[c], params, q.scale[c], q.zero_point[c]);
                break;
            case QParamsRule::kTorchFusedTraining:
                torch_fused_rule(min_val[c], max_val[c], params, q.scale[c], q.zero_point[c]);
                break;
        }
    }
    return q;
}

// ---- the observer and FakeQuantize ------------------------------------------------------------

MovingAverageMinMaxObserver::MovingAverageMinMaxObserver(const ObserverParams& params)
    : params_(params) {
    check_observer_params(params_);
}

void MovingAverageMinMaxObserver::observe(Context& ctx, const Tensor& x) {
    check_float("x", x);
    WTCONV_CHECK(x.numel() >= 1,
                 "fake_quant: observed x must have at least one element, got shape ", x.shape());
    const cpu::FakeQuantLayout layout = layout_of(x.shape(), params_.scheme, params_.axis);
    WTCONV_CHECK(!observed_ || static_cast<std::size_t>(layout.channels) == min_val_.size(),
                 "fake_quant: observed x.size(axis) must stay ", min_val_.size(),
                 " (the channels observed so far), got x of shape ", x.shape());
    check_backend("x", x);
    std::vector<double> batch_min;
    std::vector<double> batch_max;
    cpu::fake_quant_min_max(ctx, x, layout, batch_min, batch_max);
    if (!observed_) {
        min_val_.assign(batch_min.begin(), batch_min.end());  // rounded to float32
        max_val_.assign(batch_max.begin(), batch_max.end());
        observed_ = true;
        return;
    }
    for (std::size_t c = 0; c < min_val_.size(); ++c) {
        const float c_avg = params_.averaging_constant;
        min_val_[c] = moving_average(min_val_[c], static_cast<float>(batch_min[c]), c_avg);
        max_val_[c] = moving_average(max_val_[c], static_cast<float>(batch_max[c]), c_avg);
    }
}

void MovingAverageMinMaxObserver::set_min_max(std::vector<float> min_val,
                                              std::vector<float> max_val) {
    check_min_max_sizes(min_val, max_val, params_.scheme);
    min_val_ = std::move(min_val);
    max_val_ = std::move(max_val);
    observed_ = true;
}

void MovingAverageMinMaxObserver::reset() {
    min_val_.clear();
    max_val_.clear();
    observed_ = false;
}

QuantParams MovingAverageMinMaxObserver::qparams() const {
    WTCONV_CHECK(observed_,
                 "fake_quant: the observer must have seen a batch before qparams(), "
                 "got none");
    return calculate_qparams(min_val_, max_val_, params_);
}

FakeQuantize::FakeQuantize(const ObserverParams& params) : observer_(params) {}

void FakeQuantize::set_qparams(const QuantParams& q) {
    qparams_ = q;
    has_qparams_ = true;
}

Tensor FakeQuantize::forward(Context& ctx, const Tensor& x) {
    if (observer_enabled_) {
        observer_.observe(ctx, x);
        qparams_ = observer_.qparams();
        has_qparams_ = true;
    }
    saved_ = FakeQuantSaved{};
    last_ = Last::kNone;  // until this forward succeeds
    if (!fake_quant_enabled_) {
        last_ = Last::kIdentity;
        return x;
    }
    WTCONV_CHECK(has_qparams_,
                 "fake_quant: qparams must come from an observed batch or set_qparams when the "
                 "observer is off, got none");
    Tensor y = fake_quant_forward(ctx, x, qparams_, &saved_);
    last_ = Last::kQuantized;
    return y;
}

Tensor FakeQuantize::backward(Context& ctx, const Tensor& dy) {
    switch (last_) {
        case Last::kNone:
            break;
        case Last::kIdentity:
            return dy;
        case Last::kQuantized:
            return fake_quant_backward(ctx, dy, saved_);
    }
    throw Error(ErrorCode::kBadArgument,
                "fake_quant: backward must follow a successful forward, got none");
}

}  // namespace wtconv
