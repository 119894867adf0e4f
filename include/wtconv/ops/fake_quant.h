#pragma once
// Fake quantisation for int8 quantisation-aware training (COMPRESSION.md 3.3, 3.4): the op
// y = dequantize(quantize(x)) with its straight-through gradient, the moving-average min/max
// observer with its scale/zero-point rules, and FakeQuantize, a layer combining the two.
#include <cstdint>
#include <vector>

#include <wtconv/context.h>
#include <wtconv/layer.h>
#include <wtconv/tensor.h>

namespace wtconv {

// One scale and zero point for the whole tensor, or one per index along an axis.
enum class QScheme { kPerTensor, kPerChannel };

// An affine quantisation: q = rne(x * fl32(1 / scale)) + zero_point, kept in
// [quant_min, quant_max], stands for (q - zero_point) * scale. Symmetric schemes are the affine
// ones whose zero point an observer fixed (0, or the middle of an unsigned range).
struct QuantParams {
    QScheme scheme = QScheme::kPerTensor;
    int axis = 0;              // kPerChannel: the channel dim of x; negative counts from the end
    std::vector<float> scale;  // kPerTensor: one value; kPerChannel: x.size(axis) values.
                               // Each finite and >= 2^-126, so 1 / scale is finite in float32
    std::vector<std::int32_t> zero_point;  // as many as scale, each in [quant_min, quant_max]
    std::int32_t quant_min = -128;  // <= quant_max, with quant_max - quant_min <= 2^24 so that
    std::int32_t quant_max = 127;   // every level is exact in float32

    static QuantParams per_tensor(float scale,
                                  std::int32_t zero_point,
                                  std::int32_t quant_min,
                                  std::int32_t quant_max);
    static QuantParams per_channel(std::vector<float> scale,
                                   std::vector<std::int32_t> zero_point,
                                   int axis,
                                   std::int32_t quant_min,
                                   std::int32_t quant_max);
    // From tensors (any device): scale and zero_point float32 or float64 with one element
    // (per_tensor) or of shape (C) (per_channel). Scales are rounded to float32; zero points must
    // hold integers in int32's range. Anything else throws Error naming the tensor.
    static QuantParams per_tensor(const Tensor& scale,
                                  const Tensor& zero_point,
                                  std::int32_t quant_min,
                                  std::int32_t quant_max);
    static QuantParams per_channel(const Tensor& scale,
                                   const Tensor& zero_point,
                                   int axis,
                                   std::int32_t quant_min,
                                   std::int32_t quant_max);
};

// What fake_quant_backward reads.
struct FakeQuantSaved {
    Tensor mask;  // like x (shape, dtype, device): 1 where quant_min <= q <= quant_max, else 0
};

// y = (clamp(q, quant_min, quant_max) - z) * s per element, with q as in QuantParams (ties to
// even), computed exactly as COMPRESSION.md 3.3: float32 x in float32 arithmetic, bit for bit
// PyTorch's fake_quantize_per_{tensor,channel}_affine (level 0 gives +0); float64 x with s and 1/s
// rounded to float32 and the rest in float64. NaN x gives y = NaN and mask 0; +-Inf x gives the
// range's end and mask 0. x: float32 or float64 on the CPU (a CUDA tensor throws
// Error(kNotSupported)). Pass saved to train. Throws Error naming any argument that does not fit.
Tensor fake_quant_forward(Context& ctx,
                          const Tensor& x,
                          const QuantParams& q,
                          FakeQuantSaved* saved = nullptr);
// The straight-through estimator with clipping: dx = dy * mask (so NaN in dy stays NaN even
// where x was clipped, as in PyTorch). No gradient flows to scale or zero point.
Tensor fake_quant_backward(Context& ctx, const Tensor& dy, const FakeQuantSaved& saved);

// How scale and zero point follow from the observed range (m, M) (COMPRESSION.md 3.4).
enum class QParamsRule {
    // PyTorch's observers (conversion time), wtconv's rule for training and conversion alike.
    // m- = min(m, 0), M+ = max(M, 0), eps = 2^-23, all in float32:
    //   affine:    s = max((M+ - m-) / (qmax - qmin), eps), z = clamp(qmin - rne(m- / s))
    //   symmetric: s = max(max(-m-, M+) / ((qmax - qmin) / 2), eps), z = 0 for a signed range,
    //              (qmin + qmax + 1) / 2 when qmin >= 0 (128 for quint8)
    kConversion,
    // PyTorch's fused observe+fake-quantize op in training (quant_utils::ChooseQuantizationParams
    // with preserve_sparsity = symmetric): symmetric ranges around 0 give
    // s ~ max(|m-| / (floor((qmax - qmin) / 2) + 1), M+ / floor((qmax - qmin) / 2)) and the middle
    // zero point; s = 0 becomes 0.1 and s < 6.1e-5 becomes 6.1e-5 (the range widened to match).
    kTorchFusedTraining,
};

struct ObserverParams {
    QScheme scheme = QScheme::kPerTensor;
    int axis = 0;            // kPerChannel: min/max over every dim of x but this one
    bool symmetric = false;  // zero point fixed by the rule instead of fitted to (m, M)
    std::int32_t quant_min = 0;
    std::int32_t quant_max = 127;      // > quant_min
    float averaging_constant = 0.01f;  // c in m <- m + c (min(x) - m), in (0, 1]
    QParamsRule rule = QParamsRule::kConversion;

    // COMPRESSION.md 3.2: activations per-tensor affine quint8, (0, 127) with reduce_range else
    // (0, 255); weights per-channel symmetric qint8 (-128, 127) along axis 0.
    static ObserverParams activation(bool reduce_range = true);
    static ObserverParams weight();
};

// Scale and zero point from running min/max (one value, or one per channel), by params.rule.
// min_val[i] <= max_val[i], all finite. The result has params' scheme, axis and range.
QuantParams calculate_qparams(const std::vector<float>& min_val,
                              const std::vector<float>& max_val,
                              const ObserverParams& params);

// Running min and max, as PyTorch's MovingAverage(PerChannel)MinMaxObserver: the first batch sets
// them, each later one moves them by c (min(x) - m) and c (max(x) - M). Kept in float32 (a
// float64 batch's min and max are rounded first) with every step rounded, like PyTorch's buffers.
// A NaN in x makes the statistic NaN, and qparams() then throws.
class MovingAverageMinMaxObserver {
public:
    explicit MovingAverageMinMaxObserver(const ObserverParams& params = {});

    // x: float32 or float64 on the CPU, at least one element; per channel, x.size(axis) must stay
    // the same from batch to batch.
    void observe(Context& ctx, const Tensor& x);
    void observe(const Tensor& x) { observe(default_context(x.device()), x); }

    bool observed() const { return observed_; }
    const std::vector<float>& min_val() const { return min_val_; }
    const std::vector<float>& max_val() const { return max_val_; }
    // Restores statistics (e.g. from a checkpoint): equal sizes, one value per tensor or channel.
    void set_min_max(std::vector<float> min_val, std::vector<float> max_val);
    void reset();

    // calculate_qparams of the statistics; throws Error before the first batch.
    QuantParams qparams() const;
    const ObserverParams& params() const { return params_; }

private:
    ObserverParams params_;
    std::vector<float> min_val_;
    std::vector<float> max_val_;
    bool observed_ = false;
};

// PyTorch's FakeQuantize module: in forward, an enabled observer observes x and the qparams are
// recomputed from it; an enabled fake quantiser then returns fake_quant_forward(x, qparams),
// otherwise x itself. With the observer off, the last qparams (or set_qparams) stay in use.
// backward(dy) is the matching STE (dy itself when the forward did not quantise).
class FakeQuantize : public Layer {
public:
    explicit FakeQuantize(const ObserverParams& params = ObserverParams::activation());

    Tensor forward(Context& ctx, const Tensor& x);
    Tensor backward(Context& ctx, const Tensor& dy);
    Tensor forward(const Tensor& x) override { return forward(default_context(x.device()), x); }
    Tensor backward(const Tensor& dy) override {
        return backward(default_context(dy.device()), dy);
    }
    // Scale and zero point are statistics, not trainable parameters: none.
    std::vector<NamedParameter> named_parameters() override { return {}; }

    void enable_observer(bool enabled = true) { observer_enabled_ = enabled; }
    void enable_fake_quant(bool enabled = true) { fake_quant_enabled_ = enabled; }
    bool observer_enabled() const { return observer_enabled_; }
    bool fake_quant_enabled() const { return fake_quant_enabled_; }

    MovingAverageMinMaxObserver& observer() { return observer_; }
    const MovingAverageMinMaxObserver& observer() const { return observer_; }
    bool has_qparams() const { return has_qparams_; }
    const QuantParams& qparams() const { return qparams_; }  // the last computed or set
    void set_qparams(const QuantParams& q);                  // e.g. from a checkpoint

private:
    MovingAverageMinMaxObserver observer_;
    QuantParams qparams_;
    bool has_qparams_ = false;
    bool observer_enabled_ = true;
    bool fake_quant_enabled_ = true;
    enum class Last { kNone, kIdentity, kQuantized } last_ = Last::kNone;
    FakeQuantSaved saved_;
};

}  // namespace wtconv
