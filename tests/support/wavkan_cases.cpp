// Wav-KAN test cases, random inputs, and the comparison with the reference (see wavkan_cases.h).
#include "support/wavkan_cases.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <sstream>
#include <utility>

#include <gtest/gtest.h>

#include "support/wtconv_cases.h"

namespace wtconv::test {

namespace {

const char* bn_tag(BnMode bn) {
    switch (bn) {
        case BnMode::kOff:
            return "nobn";
        case BnMode::kTraining:
            return "bntrain";
        case BnMode::kEval:
            return "bneval";
    }
    return "?";
}

double uniform01(Rng& rng) {
    return static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
}

// shape filled by fn(rng), rounded once to dtype.
template <class Fn>
Tensor drawn(Rng& rng, const Shape& shape, DType dtype, Fn&& fn) {
    std::vector<double> v(static_cast<std::size_t>(shape.numel()));
    for (double& e : v) {
        e = fn(rng);
    }
    return Tensor::from_vector(v, shape).to(dtype);
}

ref::Array ref_or_empty(const Tensor& t) {
    return t.defined() ? to_ref(t) : ref::Array();
}

}  // namespace

WavKanParams wavkan_params(const WavKanCase& tc) {
    WavKanParams p;
    p.wavelet = tc.wavelet;
    p.base = tc.base;
    p.batchnorm = tc.bn != BnMode::kOff;
    p.training = tc.bn == BnMode::kTraining;
    return p;
}

ref::WavKanConfig to_ref_config(const WavKanParams& p) {
    ref::WavKanConfig c;
    c.wavelet = kan_wavelet_name(p.wavelet);
    c.base = p.base;
    c.batchnorm = p.batchnorm;
    c.training = p.training;
    c.eps = p.bn_eps;
    c.momentum = p.bn_momentum;
    return c;
}

std::string describe(const WavKanCase& tc) {
    std::ostringstream out;
    out << "WTCONV_TEST_SEED=" << test_seed() << " case: wavkan x" << Shape{tc.b, tc.i}
        << " out_features=" << tc.o << " wavelet=" << kan_wavelet_name(tc.wavelet)
        << " base=" << (tc.base ? "true" : "false") << " batchnorm=" << bn_tag(tc.bn)
        << " dtype=" << dtype_name(tc.dtype) << " threads=" << tc.threads
        << " data_seed=" << tc.seed;
    return out.str();
}

void PrintTo(const WavKanCase& tc, std::ostream* os) {
    *os << describe(tc);
}

std::string case_name(const WavKanCase& tc) {
    std::ostringstream out;
    out << "b" << tc.b << "_i" << tc.i << "_o" << tc.o << "_" << kan_wavelet_name(tc.wavelet)
        << (tc.base ? "_base_" : "_") << bn_tag(tc.bn)
        << (tc.dtype == DType::kFloat32 ? "_f32" : "_f64") << "_t" << tc.threads;
    return out.str();
}

std::string wavkan_param_name(const testing::TestParamInfo<WavKanCase>& info) {
    return std::to_string(info.index) + "_" + case_name(info.param);
}

Context poisoning_context(int threads) {
    ContextOptions options;
    options.poison_outputs = true;
    Context ctx(Device::cpu(), options);
    ctx.set_num_threads(threads);
    return ctx;
}

std::vector<WavKanCase> wavkan_edge_cases() {
    const std::int64_t shapes[][3] = {{1, 1, 1},   {2, 1, 1}, {1, 7, 5},  {2, 2, 3},    {3, 13, 11},
                                      {33, 17, 2}, {5, 1, 9}, {1, 16, 1}, {37, 70, 65}, {4, 2, 1}};
    std::vector<WavKanCase> out;
    std::uint64_t seed = test_seed() + 1000;
    int k = 0;
    for (const auto& s : shapes) {
        for (const KanWavelet wavelet : kAllKanWavelets) {
            for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
                WavKanCase tc{s[0],          s[1],  s[2],      wavelet, k % 2 == 1,
                              BnMode(k % 3), dtype, 1 + k % 3, seed++};
                if (tc.b == 1 && tc.bn == BnMode::kTraining) {
                    tc.bn = BnMode::kEval;
                }
                out.push_back(tc);
                ++k;
            }
        }
    }
    return out;
}

std::vector<WavKanCase> wavkan_random_cases(int count) {
    count = random_case_count(count);
    Rng rng(test_seed() + 61);
    const auto small = [&] { return rng.uniform_int(0, 5) == 0 ? 1 : rng.uniform_int(2, 13); };
    std::vector<WavKanCase> out;
    for (int k = 0; k < count; ++k) {
        WavKanCase tc;
        tc.wavelet = kAllKanWavelets[rng.uniform_int(0, 4)];
        tc.base = rng.uniform_int(0, 1) == 1;
        tc.bn = BnMode(rng.uniform_int(0, 2));
        tc.dtype = k % 2 == 0 ? DType::kFloat64 : DType::kFloat32;
        tc.threads = 1 + k % 3;
        if (rng.uniform_int(0, 9) == 0) {
            tc.b = rng.uniform_int(20, 40);
            tc.i = rng.uniform_int(30, 70);
            tc.o = rng.uniform_int(30, 65);
        } else {
            tc.b = small();
            tc.i = small();
            tc.o = small();
        }
        if (tc.b == 1 && tc.bn == BnMode::kTraining) {
            tc.b = 2;
        }
        tc.seed = rng.next();
        out.push_back(tc);
    }
    return out;
}

WavKanInputs random_wavkan_inputs(const WavKanCase& tc) {
    Rng rng(tc.seed);
    const Shape edges{tc.o, tc.i};
    const Shape channels{tc.o};
    const auto normal = [](Rng& r) { return r.normal(); };
    WavKanInputs in;
    in.x = random_normal(rng, Shape{tc.b, tc.i}, tc.dtype);
    in.w.scale = drawn(rng, edges, tc.dtype, [](Rng& r) {
        const double magnitude = 0.5 + 1.5 * uniform01(r);
        return r.next() % 2 == 0 ? magnitude : -magnitude;
    });
    in.w.translation = drawn(rng, edges, tc.dtype, normal);
    in.w.wavelet_weights = drawn(rng, edges, tc.dtype, normal);
    if (tc.base) {
        in.w.base_weight = drawn(rng, edges, tc.dtype, normal);
    }
    if (tc.bn != BnMode::kOff) {
        in.w.bn_weight =
            drawn(rng, channels, tc.dtype, [](Rng& r) { return 1.0 + 0.5 * r.normal(); });
        in.w.bn_bias = drawn(rng, channels, tc.dtype, normal);
        in.running.mean = drawn(rng, channels, tc.dtype, [](Rng& r) { return 0.5 * r.normal(); });
        in.running.var =
            drawn(rng, channels, tc.dtype, [](Rng& r) { return std::exp(0.5 * r.normal()); });
    }
    in.dy = drawn(rng, Shape{tc.b, tc.o}, tc.dtype, normal);
    return in;
}

WavKanRunningStats clone_running(const WavKanRunningStats& r) {
    return {r.mean.defined() ? r.mean.clone() : Tensor(),
            r.var.defined() ? r.var.clone() : Tensor()};
}

Tensor with_value(const Tensor& t, std::int64_t k, double value) {
    std::vector<double> v = t.to_vector();
    v.at(static_cast<std::size_t>(k)) = value;
    return Tensor::from_vector(v, t.shape()).to(t.dtype());
}

ref::WavKanTensors to_ref_tensors(const WavKanWeights& w, const WavKanRunningStats& running) {
    ref::WavKanTensors t;
    t.scale = ref_or_empty(w.scale);
    t.translation = ref_or_empty(w.translation);
    t.wavelet_weights = ref_or_empty(w.wavelet_weights);
    t.base_weight = ref_or_empty(w.base_weight);
    t.bn_weight = ref_or_empty(w.bn_weight);
    t.bn_bias = ref_or_empty(w.bn_bias);
    t.bn_running_mean = ref_or_empty(running.mean);
    t.bn_running_var = ref_or_empty(running.var);
    return t;
}

double unit_roundoff(DType dtype) {
    switch (dtype) {
        case DType::kFloat64:
            return 0x1p-53;
        case DType::kFloat32:
            return 0x1p-24;
        case DType::kFloat16:
            return 0x1p-11;
        case DType::kBFloat16:
            return 0x1p-8;
        default:
            throw Error(ErrorCode::kBadArgument,
                        detail::concat("unit_roundoff: a floating dtype, got ", dtype_name(dtype)));
    }
}

WavKanInputs wavkan_inputs_on(const WavKanInputs& in, Device device) {
    const auto move = [&](const Tensor& t) { return t.defined() ? t.to(device) : Tensor(); };
    WavKanInputs out;
    out.x = move(in.x);
    out.dy = move(in.dy);
    out.w =
        WavKanWeights{move(in.w.scale),       move(in.w.translation), move(in.w.wavelet_weights),
                      move(in.w.base_weight), move(in.w.bn_weight),   move(in.w.bn_bias)};
    out.running = {move(in.running.mean), move(in.running.var)};
    return out;
}

WavKanResult wavkan_result_on_host(const WavKanResult& r) {
    const auto host = [](const Tensor& t) { return t.defined() ? t.to(Device::cpu()) : Tensor(); };
    WavKanResult out;
    out.y = host(r.y);
    out.running = {host(r.running.mean), host(r.running.var)};
    out.grads.dx = host(r.grads.dx);
    const WavKanWeights& d = r.grads.dweights;
    out.grads.dweights =
        WavKanWeights{host(d.scale),       host(d.translation), host(d.wavelet_weights),
                      host(d.base_weight), host(d.bn_weight),   host(d.bn_bias)};
    return out;
}

WavKanResult run_wavkan(Context& ctx, const WavKanInputs& in, const WavKanParams& p, bool need_dx) {
    WavKanResult r;
    r.running = clone_running(in.running);
    WavKanSaved saved;
    r.y = wavkan_forward(ctx, in.x, in.w, p, p.batchnorm ? &r.running : nullptr, &saved);
    r.grads = wavkan_backward(ctx, in.dy, in.w, p, saved, need_dx);
    return r;
}

namespace {

struct RefInputs {
    ref::Array x, dy;
    ref::WavKanTensors t;
};

RefInputs ref_inputs(const WavKanInputs& in) {
    return RefInputs{to_ref(in.x), to_ref(in.dy), to_ref_tensors(in.w, in.running)};
}

// The reference's results in wavkan_result_tensors' order (empty without base or batch norm).
std::vector<ref::Array> ref_results(const RefInputs& r, const WavKanParams& p) {
    const ref::WavKanConfig c = to_ref_config(p);
    ref::WavKanForwardRef f = ref::wavkan_forward(r.x, r.t, c);
    ref::WavKanGradsRef g = ref::wavkan_backward(r.x, r.dy, r.t, c);
    return {f.y,          f.running_mean_out, f.running_var_out,  g.dx,
            g.dscale,     g.dtranslation,     g.dwavelet_weights, g.dbase_weight,
            g.dbn_weight, g.dbn_bias};
}

}  // namespace

std::vector<std::pair<std::string, const Tensor*>> wavkan_result_tensors(const WavKanResult& r) {
    const WavKanWeights& d = r.grads.dweights;
    return {{"y", &r.y},
            {"running_mean", &r.running.mean},
            {"running_var", &r.running.var},
            {"dx", &r.grads.dx},
            {"dscale", &d.scale},
            {"dtranslation", &d.translation},
            {"dwavelet_weights", &d.wavelet_weights},
            {"dbase_weight", &d.base_weight},
            {"dbn_weight", &d.bn_weight},
            {"dbn_bias", &d.bn_bias}};
}

std::vector<WavKanError> wavkan_errors(const WavKanResult& got,
                                       const WavKanInputs& in,
                                       const WavKanParams& p) {
    const auto tensors = wavkan_result_tensors(got);
    const std::vector<ref::Array> want = ref_results(ref_inputs(in), p);
    std::vector<WavKanError> out;
    for (std::size_t k = 0; k < want.size(); ++k) {
        const auto& [name, t] = tensors[k];
        // An undefined tensor where the reference has one throws in rel_l2_error: a failure.
        if (!want[k].empty() && (name != "dx" || t->defined())) {
            out.push_back({name, rel_l2_error(*t, want[k])});
        }
    }
    return out;
}

namespace {

// rel_l2_error of the pairs' elements, 0 for an empty pair.
double rel_change(const ref::Array& moved, const ref::Array& exact) {
    return exact.empty() ? 0.0 : rel_l2_error(moved.data, exact.data);
}

// Every value times 1 +- step, signs from rng.
void perturb(ref::Array& a, double step, Rng& rng) {
    for (double& v : a.data) {
        v *= rng.next() % 2 == 0 ? 1.0 + step : 1.0 - step;
    }
}

}  // namespace

std::vector<WavKanError> wavkan_expected_errors(const WavKanInputs& in,
                                                const WavKanParams& p,
                                                std::uint64_t seed,
                                                bool perturb_inputs) {
    const double u = unit_roundoff(in.x.dtype());
    const RefInputs exact = ref_inputs(in);
    const std::vector<ref::Array> want = ref_results(exact, p);
    std::vector<double> err(want.size(), 0.0);
    Rng rng(seed);
    // A few draws of the signs for small problems, whose few terms one draw can leave cancelling
    // (at B = 2 both samples' G moved the same way hide a difference of their terms); the largest.
    const int draws = in.x.size(0) * in.x.size(1) * in.w.scale.size(0) < 2000 ? 3 : 1;
    for (int d = 0; perturb_inputs && d < draws; ++d) {
        RefInputs moved = exact;
        for (ref::Array* a :
             {&moved.x, &moved.dy, &moved.t.scale, &moved.t.translation, &moved.t.wavelet_weights,
              &moved.t.base_weight, &moved.t.bn_weight, &moved.t.bn_bias, &moved.t.bn_running_mean,
              &moved.t.bn_running_var}) {
            perturb(*a, u, rng);
        }
        const std::vector<ref::Array> near = ref_results(moved, p);
        for (std::size_t k = 0; k < want.size(); ++k) {
            err[k] = std::max(err[k], rel_change(near[k], want[k]));
        }
    }
    // G = dL/dz from the reference's z (WAVKAN.md 4), and the statistics' conditioning.
    ref::WavKanConfig plain = to_ref_config(p);
    plain.batchnorm = false;
    ref::WavKanTensors t = exact.t;
    t.bn_weight = t.bn_bias = t.bn_running_mean = t.bn_running_var = ref::Array();
    const ref::Array z = ref::wavkan_forward(exact.x, t, plain).y;
    const std::int64_t batch = in.x.size(0), inputs = in.x.size(1), outputs = z.shape[1];
    ref::Array g = exact.dy;
    double normalise = 1.0, pair = 0.0;
    for (std::int64_t o = 0; p.batchnorm && o < outputs; ++o) {
        const auto at = [&](const ref::Array& a, std::int64_t b) -> double {
            return a.data[static_cast<std::size_t>(b * outputs + o)];
        };
        const auto k = static_cast<std::size_t>(o);
        double mean = exact.t.bn_running_mean.data[k], var = exact.t.bn_running_var.data[k];
        double squares = 0.0, mean_dy = 0.0, mean_dyh = 0.0;
        if (p.training) {
            mean = var = 0.0;
            for (std::int64_t b = 0; b < batch; ++b) {
                mean += at(z, b) / static_cast<double>(batch);
            }
            for (std::int64_t b = 0; b < batch; ++b) {
                var += (at(z, b) - mean) * (at(z, b) - mean) / static_cast<double>(batch);
            }
        }
        const double inv = 1.0 / std::sqrt(var + p.bn_eps);
        for (std::int64_t b = 0; b < batch; ++b) {
            double terms = 0.0;  // Z[b, o]
            for (std::int64_t i = 0; i < inputs; ++i) {
                const auto e = static_cast<std::size_t>(o * inputs + i);
                const double xi = exact.x.data[static_cast<std::size_t>(b * inputs + i)];
                const double ue = (xi - t.translation.data[e]) / t.scale.data[e];
                terms += std::fabs(t.wavelet_weights.data[e] *
                                   ref::kan_psi(plain.wavelet, ue, i, inputs).first);
                if (p.base) {
                    terms += std::fabs(t.base_weight.data[e] * xi / (1.0 + std::exp(-xi)));
                }
            }
            squares += terms * terms / static_cast<double>(batch);
            mean_dy += at(exact.dy, b) / static_cast<double>(batch);
            mean_dyh += at(exact.dy, b) * (at(z, b) - mean) * inv / static_cast<double>(batch);
        }
        if (p.training) {
            normalise = std::max(normalise, std::sqrt(squares) * inv);
            pair = batch == 2 ? std::max(pair, (var + p.bn_eps) / p.bn_eps) : pair;
        }
        for (std::int64_t b = 0; b < batch; ++b) {
            const double zhat = (at(z, b) - mean) * inv;
            const double centred =
                p.training ? at(exact.dy, b) - mean_dy - zhat * mean_dyh : at(exact.dy, b);
            g.data[static_cast<std::size_t>(b * outputs + o)] =
                exact.t.bn_weight.data[k] * inv * centred;
        }
    }
    const ref::WavKanGradsRef below = ref::wavkan_backward(exact.x, g, t, plain);
    std::vector<double> g_err(want.size(), 0.0);  // dx, dscale, dtranslation, dwavelet_weights,
                                                  // dbase_weight: 3 to 7 in want's order
    for (int d = 0; d < draws; ++d) {
        ref::Array g_moved = g;
        perturb(g_moved, u * normalise + 0x1p-53 * normalise * pair, rng);
        const ref::WavKanGradsRef moved = ref::wavkan_backward(exact.x, g_moved, t, plain);
        const ref::Array* pairs[][2] = {{&moved.dx, &below.dx},
                                        {&moved.dscale, &below.dscale},
                                        {&moved.dtranslation, &below.dtranslation},
                                        {&moved.dwavelet_weights, &below.dwavelet_weights},
                                        {&moved.dbase_weight, &below.dbase_weight}};
        for (std::size_t j = 0; j < 5; ++j) {
            g_err[3 + j] = std::max(g_err[3 + j], rel_change(*pairs[j][0], *pairs[j][1]));
        }
    }
    const auto names = wavkan_result_tensors(WavKanResult{});
    std::vector<WavKanError> out;
    for (std::size_t k = 0; k < want.size(); ++k) {
        const bool statistics = k == 1 || k == 2;  // running mean and variance: z's sums only
        if (!want[k].empty()) {
            out.push_back(
                {names[k].first, std::max({err[k], g_err[k], statistics ? 0.0 : u * normalise})});
        }
    }
    return out;
}

namespace {

std::map<std::string, std::pair<double, std::string>>& worst_errors() {
    static std::map<std::string, std::pair<double, std::string>> worst;
    return worst;
}

class WorstErrorReport : public testing::Environment {
public:
    void TearDown() override {
        for (const auto& [what, err] : worst_errors()) {
            std::cout << "[ worst    ] " << what << ": " << err.first << " (" << err.second
                      << ")\n";
        }
    }
};

}  // namespace

void note_worst_error(const std::string& what, double err) {
    static const bool registered =
        (testing::AddGlobalTestEnvironment(new WorstErrorReport), true);  // gtest owns it
    (void)registered;
    std::pair<double, std::string>& w = worst_errors()[what];
    if (err >= w.first) {
        w = {err, testing::UnitTest::GetInstance()->current_test_info()->name()};
    }
}

}  // namespace wtconv::test
