// Cutting pruned channels out of Conv2d layers (layers/conv2d_compact.h).
#include <wtconv/layers/conv2d_compact.h>

namespace wtconv::nn {

namespace {

void check_keep(const char* fn, const std::vector<std::int64_t>& keep, std::int64_t size) {
    WTCONV_CHECK(!keep.empty(), fn, ": keep must name at least one channel, got none");
    for (std::size_t i = 0; i < keep.size(); ++i) {
        WTCONV_CHECK(keep[i] >= 0 && keep[i] < size, fn, ": keep entries must be in [0, ", size,
                     "), got ", keep[i]);
        WTCONV_CHECK(i == 0 || keep[i] > keep[i - 1], fn,
                     ": keep must be ascending and distinct, got ", keep[i - 1], " before ",
                     keep[i]);
    }
}

// t (host values) with only the slices keep along dim (0 or 1) of its 4-d shape.
Tensor select_slices(const Tensor& t, int dim, const std::vector<std::int64_t>& keep) {
    const Shape& s = t.shape();
    const std::vector<double> v = t.to_vector();
    std::int64_t outer = 1, inner = 1;
    for (int d = 0; d < dim; ++d) {
        outer *= s[d];
    }
    for (int d = dim + 1; d < s.rank(); ++d) {
        inner *= s[d];
    }
    std::vector<double> out;
    out.reserve(static_cast<std::size_t>(outer) * keep.size() * inner);
    for (std::int64_t a = 0; a < outer; ++a) {
        for (const std::int64_t k : keep) {
            const auto first = v.begin() + (a * s[dim] + k) * inner;
            out.insert(out.end(), first, first + inner);
        }
    }
    Shape shape = s;
    shape[dim] = static_cast<std::int64_t>(keep.size());
    // Values came from t's dtype, so converting back is exact.
    return Tensor::from_vector(out, shape).to(t.dtype()).to(t.device());
}

Conv2d rebuilt(const Conv2d& conv,
               std::int64_t in,
               std::int64_t out,
               const Tensor& weight,
               const Tensor& bias) {
    const Conv2dParams& p = conv.params();
    LayerOptions options;
    options.dtype = weight.dtype();
    options.device = weight.device();
    Conv2d small(in, out, {static_cast<int>(weight.size(2)), static_cast<int>(weight.size(3))},
                 {p.stride_h, p.stride_w}, {p.pad_h, p.pad_w}, {p.dilation_h, p.dilation_w},
                 p.groups, p.bias, options);
    small.params() = p;  // the algorithm and TF32 choice too
    small.weights().weight.copy_from(weight);
    if (p.bias) {
        small.weights().bias.copy_from(bias);
    }
    return small;
}

void check_dense(const char* fn, const Conv2d& conv) {
    WTCONV_CHECK(conv.params().groups == 1, fn, ": conv must have groups 1, got ",
                 conv.params().groups);
}

}  // namespace

std::vector<std::int64_t> live_output_channels(const Conv2d& conv) {
    const Tensor w = conv.weights().weight.to(Device::cpu());
    const std::vector<double> v = w.to_vector();
    const std::int64_t per_channel = w.numel() / w.size(0);
    std::vector<std::int64_t> live;
    for (std::int64_t o = 0; o < w.size(0); ++o) {
        for (std::int64_t i = 0; i < per_channel; ++i) {
            if (v[o * per_channel + i] != 0.0) {
                live.push_back(o);
                break;
            }
        }
    }
    return live;
}

Conv2d select_output_channels(const Conv2d& conv, const std::vector<std::int64_t>& keep) {
    check_dense("select_output_channels", conv);
    check_keep("select_output_channels", keep, conv.out_channels());
    const Tensor weight = select_slices(conv.weights().weight.to(Device::cpu()), 0, keep);
    Tensor bias;
    if (conv.params().bias) {
        const Tensor b = conv.weights().bias.to(Device::cpu());
        bias = select_slices(b.reshape(Shape{b.size(0), 1, 1, 1}), 0, keep)
                   .reshape(Shape{static_cast<std::int64_t>(keep.size())});
    }
    return rebuilt(conv, conv.in_channels(), static_cast<std::int64_t>(keep.size()),
                   weight.to(conv.weights().weight.device()),
                   bias.defined() ? bias.to(conv.weights().weight.device()) : bias);
}

Conv2d select_input_channels(const Conv2d& conv, const std::vector<std::int64_t>& keep) {
    check_dense("select_input_channels", conv);
    check_keep("select_input_channels", keep, conv.in_channels());
    const Tensor weight = select_slices(conv.weights().weight.to(Device::cpu()), 1, keep);
    return rebuilt(conv, static_cast<std::int64_t>(keep.size()), conv.out_channels(),
                   weight.to(conv.weights().weight.device()), conv.weights().bias);
}

}  // namespace wtconv::nn
