// oneDNN (2.x API) convolution primitives for the conv2d benchmark's comparator.
#include "support/onednn_conv2d.h"

#include <cstring>
#include <dnnl.hpp>

namespace wtconv::bench {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// A user NCHW buffer wrapped as oneDNN memory, reordered into the layout desc if that differs.
memory to_layout(memory user, const memory::desc& desc, dnnl::engine& eng, dnnl::stream& s) {
    if (user.get_desc() == desc) {
        return user;
    }
    memory out(desc, eng);
    dnnl::reorder(user, out).execute(s, user, out);
    s.wait();
    return out;
}

}  // namespace

std::string onednn_version() {
    const dnnl_version_t* v = dnnl_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch);
}

struct OnednnConv2d::State {
    dnnl::engine eng{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{eng};
    memory::dims x_dims, w_dims, b_dims, y_dims, strides, dilates, pad;
    std::vector<float> x_user, w_user, b_user, dy_user;
    dnnl::convolution_forward::primitive_desc fwd_pd;
    dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
    dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
    dnnl::convolution_forward fwd;
    dnnl::convolution_backward_data bwd_data;
    dnnl::convolution_backward_weights bwd_weights;
    memory x, w, b, y, dy_data, dy_weights, w_data, x_weights, dx, dw, db;

    memory user(std::vector<float>& v, const memory::dims& dims, tag t) {
        return memory({dims, dt::f32, t}, eng, v.data());
    }
    std::vector<float> read_nchw(memory m, const memory::dims& dims) {
        std::size_t n = 1;
        for (const auto d : dims) {
            n *= static_cast<std::size_t>(d);
        }
        std::vector<float> out(n);
        memory host({dims, dt::f32, tag::nchw}, eng, out.data());
        dnnl::reorder(m, host).execute(stream, m, host);
        stream.wait();
        return out;
    }
};

OnednnConv2d::OnednnConv2d(
    const Conv2dProblem& p, const float* x, const float* w, const float* b, const float* dy)
    : s_(std::make_unique<State>()) {
    State& s = *s_;
    s.x_dims = {p.n, p.c, p.h, p.w};
    s.w_dims = {p.o, p.c, p.k, p.k};
    s.b_dims = {p.o};
    s.y_dims = {p.n, p.o, p.ho(), p.wo()};
    s.strides = {p.stride, p.stride};
    s.dilates = {0, 0};  // oneDNN counts dilation from 0
    s.pad = {p.pad, p.pad};
    const auto copy = [](const float* src, std::size_t n) {
        return std::vector<float>(src, src + n);
    };
    s.x_user = copy(x, static_cast<std::size_t>(p.n * p.c * p.h * p.w));
    s.w_user = copy(w, static_cast<std::size_t>(p.o * p.c * p.k * p.k));
    s.b_user = copy(b, static_cast<std::size_t>(p.o));
    s.dy_user = copy(dy, static_cast<std::size_t>(p.n * p.o * p.ho() * p.wo()));

    const memory::desc x_any(s.x_dims, dt::f32, tag::any);
    const memory::desc w_any(s.w_dims, dt::f32, tag::any);
    const memory::desc b_md(s.b_dims, dt::f32, tag::x);
    const memory::desc y_any(s.y_dims, dt::f32, tag::any);
    s.fwd_pd = dnnl::convolution_forward::primitive_desc(
        {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, x_any, w_any, b_md,
         y_any, s.strides, s.dilates, s.pad, s.pad},
        s.eng);
    s.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(
        {dnnl::algorithm::convolution_direct, x_any, w_any, y_any, s.strides, s.dilates, s.pad,
         s.pad},
        s.eng, s.fwd_pd);
    s.bwd_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
        {dnnl::algorithm::convolution_direct, x_any, w_any, b_md, y_any, s.strides, s.dilates,
         s.pad, s.pad},
        s.eng, s.fwd_pd);
    s.fwd = dnnl::convolution_forward(s.fwd_pd);
    s.bwd_data = dnnl::convolution_backward_data(s.bwd_data_pd);
    s.bwd_weights = dnnl::convolution_backward_weights(s.bwd_weights_pd);

    memory x_user = s.user(s.x_user, s.x_dims, tag::nchw);
    memory w_user = s.user(s.w_user, s.w_dims, tag::oihw);
    memory dy_user = s.user(s.dy_user, s.y_dims, tag::nchw);
    s.x = to_layout(x_user, s.fwd_pd.src_desc(), s.eng, s.stream);
    s.w = to_layout(w_user, s.fwd_pd.weights_desc(), s.eng, s.stream);
    s.b = s.user(s.b_user, s.b_dims, tag::x);
    s.y = memory(s.fwd_pd.dst_desc(), s.eng);
    s.w_data = to_layout(w_user, s.bwd_data_pd.weights_desc(), s.eng, s.stream);
    s.dy_data = to_layout(dy_user, s.bwd_data_pd.diff_dst_desc(), s.eng, s.stream);
    s.x_weights = to_layout(x_user, s.bwd_weights_pd.src_desc(), s.eng, s.stream);
    s.dy_weights = to_layout(dy_user, s.bwd_weights_pd.diff_dst_desc(), s.eng, s.stream);
    s.dx = memory(s.bwd_data_pd.diff_src_desc(), s.eng);
    s.dw = memory(s.bwd_weights_pd.diff_weights_desc(), s.eng);
    s.db = memory(s.bwd_weights_pd.diff_bias_desc(), s.eng);
}

OnednnConv2d::~OnednnConv2d() = default;

void OnednnConv2d::forward() {
    State& s = *s_;
    s.fwd.execute(
        s.stream,
        {{DNNL_ARG_SRC, s.x}, {DNNL_ARG_WEIGHTS, s.w}, {DNNL_ARG_BIAS, s.b}, {DNNL_ARG_DST, s.y}});
    s.stream.wait();
}

void OnednnConv2d::backward() {
    State& s = *s_;
    s.bwd_data.execute(
        s.stream,
        {{DNNL_ARG_DIFF_DST, s.dy_data}, {DNNL_ARG_WEIGHTS, s.w_data}, {DNNL_ARG_DIFF_SRC, s.dx}});
    s.bwd_weights.execute(s.stream, {{DNNL_ARG_DIFF_DST, s.dy_weights},
                                     {DNNL_ARG_SRC, s.x_weights},
                                     {DNNL_ARG_DIFF_WEIGHTS, s.dw},
                                     {DNNL_ARG_DIFF_BIAS, s.db}});
    s.stream.wait();
}

std::vector<float> OnednnConv2d::y_nchw() {
    return s_->read_nchw(s_->y, s_->y_dims);
}

std::vector<float> OnednnConv2d::dx_nchw() {
    return s_->read_nchw(s_->dx, s_->x_dims);
}

std::string OnednnConv2d::implementation() const {
    return std::string(s_->fwd_pd.impl_info_str()) + " / " + s_->bwd_data_pd.impl_info_str() +
           " / " + s_->bwd_weights_pd.impl_info_str();
}

}  // namespace wtconv::bench
