// WTConv test cases and conversions (see wtconv_cases.h).
#include "support/wtconv_cases.h"

#include <cstdlib>
#include <sstream>

namespace wtconv::test {

namespace {

const char* dtype_tag(DType dtype) {
    switch (dtype) {
        case DType::kFloat32:
            return "f32";
        case DType::kFloat64:
            return "f64";
        case DType::kFloat16:
            return "f16";
        case DType::kBFloat16:
            return "bf16";
        case DType::kInt8:
            return "i8";
        case DType::kUInt8:
            return "u8";
        case DType::kInt32:
            return "i32";
    }
    return "?";
}

}  // namespace

bool is_haar(const WTConvCase& tc) {
    return tc.params.wavelet == "db1" || tc.params.wavelet == "haar";
}

bool wtconv_promised(
    WTConvAlgo algo, Device device, DType dtype, int spatial, const WTConvParams& p) {
    const bool full_precision = dtype == DType::kFloat32 || dtype == DType::kFloat64;
    const int k = p.kernel_size;
    switch (algo) {
        case WTConvAlgo::kAuto:
        case WTConvAlgo::kDirect:
            return full_precision;
        case WTConvAlgo::kPlanewise:
            return device.is_cpu() && full_precision;
        case WTConvAlgo::kFused:
            return device.is_cuda() && spatial == 2 && dtype != DType::kFloat64 &&
                   p.wavelet == "db1" && (k == 3 || k == 5 || k == 7) && p.levels <= 3;
    }
    return false;
}

bool wtconv_promised(WTConvAlgo algo, Device device, const WTConvCase& tc) {
    return wtconv_promised(algo, device, tc.dtype, tc.spatial, tc.params);
}

std::string describe(const WTConvCase& tc) {
    std::ostringstream out;
    const WTConvParams& p = tc.params;
    out << "WTCONV_TEST_SEED=" << test_seed() << " case: wtconv" << tc.spatial << "d x"
        << tc.x_shape() << " kernel_size=" << p.kernel_size << " levels=" << p.levels
        << " stride=" << p.stride << " bias=" << (p.bias ? "true" : "false")
        << " wavelet=" << p.wavelet << " dtype=" << dtype_name(tc.dtype)
        << " data_seed=" << tc.seed;
    return out.str();
}

void PrintTo(const WTConvCase& tc, std::ostream* os) {
    *os << describe(tc);
}

std::string case_name(const WTConvCase& tc) {
    std::ostringstream out;
    out << "n" << tc.n << "_c" << tc.c << "_";
    if (tc.spatial == 2) {
        out << tc.h << "x";
    }
    out << tc.w << "_k" << tc.params.kernel_size << "_l" << tc.params.levels << "_s"
        << tc.params.stride << (tc.params.bias ? "_bias_" : "_nobias_");
    for (const char ch : tc.params.wavelet) {
        out << (ch == '.' ? '_' : ch);
    }
    out << "_" << dtype_tag(tc.dtype) << "_seed" << tc.seed;
    return out.str();
}

std::string param_name(const testing::TestParamInfo<WTConvCase>& info) {
    return std::to_string(info.index) + "_" + std::to_string(info.param.spatial) + "d_" +
           case_name(info.param);
}

std::uint64_t test_seed() {
    const char* env = std::getenv("WTCONV_TEST_SEED");
    return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : 20261123ULL;
}

namespace {

WTConvCase make_case(int spatial,
                     std::int64_t n,
                     std::int64_t c,
                     std::int64_t h,
                     std::int64_t w,
                     int k,
                     int levels,
                     int stride,
                     bool bias,
                     const std::string& wavelet,
                     DType dtype,
                     std::uint64_t seed) {
    WTConvCase tc;
    tc.spatial = spatial;
    tc.n = n;
    tc.c = c;
    tc.h = spatial == 2 ? h : 1;
    tc.w = w;
    tc.params.kernel_size = k;
    tc.params.levels = levels;
    tc.params.stride = stride;
    tc.params.bias = bias;
    tc.params.wavelet = wavelet;
    tc.dtype = dtype;
    tc.seed = seed;
    return tc;
}

}  // namespace

std::vector<WTConvCase> wtconv_edge_cases(int spatial) {
    struct Edge {
        std::int64_t n, c, h, w;
        int k, levels, stride;
        bool bias;
        const char* wavelet;
    };
    // Sizes 1, 2, 3, primes and odd/even mixes; K from 1 to 9, even K; L = 0 and L past the
    // halvings; strides beyond the image; short and long filters.
    const Edge edges[] = {
        {1, 1, 1, 1, 1, 1, 1, true, "db1"},     {1, 2, 1, 1, 5, 3, 1, true, "db1"},
        {2, 1, 1, 1, 4, 8, 1, false, "db2"},    {1, 1, 2, 3, 3, 4, 1, true, "db1"},
        {1, 3, 3, 3, 5, 5, 2, true, "sym3"},    {2, 2, 7, 5, 2, 2, 1, true, "db1"},
        {1, 2, 5, 7, 7, 1, 7, false, "db1"},    {1, 1, 1, 5, 3, 2, 1, true, "bior2.2"},
        {1, 1, 7, 1, 3, 3, 3, true, "rbio1.3"}, {2, 3, 13, 11, 9, 2, 2, true, "coif1"},
        {1, 2, 17, 5, 6, 4, 4, false, "db1"},   {1, 1, 9, 9, 1, 0, 1, true, "db1"},
        {1, 2, 8, 8, 5, 0, 3, false, "db2"},    {1, 1, 3, 2, 3, 3, 1, true, "dmey"},
        {3, 1, 16, 16, 5, 3, 1, true, "db1"},   {1, 1, 31, 29, 5, 6, 1, true, "db4"},
        {1, 2, 12, 7, 4, 2, 2, true, "sym2"},   {1, 1, 5, 4, 8, 2, 1, true, "bior1.3"},
    };
    std::vector<WTConvCase> cases;
    std::uint64_t seed = 100;
    for (const Edge& e : edges) {
        for (const DType dtype : {DType::kFloat64, DType::kFloat32}) {
            const std::int64_t len =
                spatial == 1 ? std::max(e.w * e.h, std::int64_t{e.stride}) : e.w;
            cases.push_back(make_case(spatial, e.n, e.c, e.h, len, e.k, e.levels, e.stride, e.bias,
                                      e.wavelet, dtype, seed++));
        }
    }
    return cases;
}

std::vector<WTConvCase> wtconv_random_cases(int spatial, int count) {
    count = random_case_count(count);
    Rng rng(test_seed());
    const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 16, 17, 19, 23, 24, 31, 32, 37};
    const char* wavelets[] = {"db1",     "db1",     "db1",  "haar",    "db2",     "db3",
                              "sym2",    "sym3",    "sym4", "coif1",   "bior1.3", "bior2.2",
                              "rbio1.3", "rbio2.2", "db4",  "bior3.1", "coif2",   "sym5"};
    const int n_sizes = static_cast<int>(sizeof(sizes) / sizeof(sizes[0]));
    const int n_wavelets = static_cast<int>(sizeof(wavelets) / sizeof(wavelets[0]));
    std::vector<WTConvCase> cases;
    for (int i = 0; i < count; ++i) {
        const std::int64_t h = sizes[rng.uniform_int(0, n_sizes - 1)];
        std::int64_t w = sizes[rng.uniform_int(0, n_sizes - 1)];
        if (spatial == 1) {
            w = w * rng.uniform_int(1, 4) + rng.uniform_int(0, 3);  // 1D: longer signals
        }
        const int stride = rng.uniform_int(1, 4);
        if (spatial == 1 && w < stride) {
            w = stride;  // 1D averaging needs a full window (tested in the bad-input suite)
        }
        cases.push_back(make_case(spatial, rng.uniform_int(1, 3), rng.uniform_int(1, 4), h, w,
                                  rng.uniform_int(1, 9), rng.uniform_int(0, 6), stride,
                                  rng.uniform_int(0, 1) == 1,
                                  wavelets[rng.uniform_int(0, n_wavelets - 1)],
                                  i % 2 == 0 ? DType::kFloat64 : DType::kFloat32, rng.next()));
    }
    return cases;
}

std::vector<WTConvCase> wtconv_cuda_random_cases(int count) {
    const char* env = std::getenv("WTCONV_CUDA_RANDOM_CASES");
    if (env != nullptr && *env != '\0') {
        count = std::atoi(env);
    }
    // Another stream than wtconv_random_cases', so that the CUDA shapes are not the CPU ones.
    Rng rng(test_seed() + 0x9e3779b97f4a7c15ULL);
    const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 16, 17, 19, 23, 24, 31, 32, 37};
    const char* haar[] = {"db1", "db1", "db1", "haar"};  // the fused algorithm takes "db1"
    const char* others[] = {"db2",     "db3",     "sym2",    "sym3",    "sym4", "coif1", "bior1.3",
                            "bior2.2", "rbio1.3", "rbio2.2", "bior3.1", "db4",  "coif2"};
    // The fused algorithm runs the Haar cases only, and alone the half ones; float32 is the dtype
    // both CUDA algorithms run, hence its double share.
    const DType haar_dtypes[] = {DType::kFloat32, DType::kFloat32, DType::kFloat64, DType::kFloat16,
                                 DType::kBFloat16};
    // Large shapes cost the host reference most (about 50 ms each), so they are one in twenty,
    // with N = 1 and C <= 2. Thin ones (1 x W, H x 1) take odd and prime lengths up to 127.
    const std::int64_t large2d[][2] = {{128, 128}, {1, 128}, {128, 1}, {127, 61}, {96, 128}};
    const std::int64_t large1d[] = {4096, 2047, 1000, 131};
    const std::int64_t thin[] = {1, 2, 3, 7, 13, 31, 64, 97, 127};
    const auto pick = [&rng](const auto& list) {
        const int n = static_cast<int>(sizeof(list) / sizeof(list[0]));
        return list[rng.uniform_int(0, n - 1)];
    };
    std::vector<WTConvCase> cases;
    for (int i = 0; i < count; ++i) {
        const int spatial = i % 3 == 2 ? 1 : 2;
        const bool is_haar = rng.uniform_int(0, 4) < 3;
        const std::string wavelet = is_haar ? pick(haar) : pick(others);
        DType dtype = is_haar ? pick(haar_dtypes)
                              : (rng.uniform_int(0, 1) == 0 ? DType::kFloat32 : DType::kFloat64);
        // Three Haar cases in four take the fused algorithm's kernel sizes and levels, so that it
        // runs hundreds of them; the rest, and every other wavelet, draw K 1-8 and L 0-5.
        const bool fused_options = is_haar && rng.uniform_int(0, 3) != 0;
        const int k = fused_options ? 2 * rng.uniform_int(1, 3) + 1 : rng.uniform_int(1, 8);
        const int levels = fused_options ? rng.uniform_int(0, 3) : rng.uniform_int(0, 5);
        const bool bias = rng.uniform_int(0, 1) == 1;
        const int kind = rng.uniform_int(0, 19);  // 0: large, 1-2: thin, 3: tiny, else small
        std::int64_t n = rng.uniform_int(1, 3);
        std::int64_t c = rng.uniform_int(1, 4);
        std::int64_t h = pick(sizes);
        std::int64_t w = pick(sizes);
        if (kind == 0) {
            n = 1;
            c = rng.uniform_int(1, 2);
            const auto& hw = pick(large2d);
            h = hw[0];
            w = spatial == 2 ? hw[1] : pick(large1d);
        } else if (kind <= 2) {
            h = rng.uniform_int(0, 1) == 0 ? 1 : pick(thin);
            w = h == 1 ? pick(thin) : 1;
            if (spatial == 1) {
                w = pick(thin);
            }
        } else if (kind == 3) {
            h = rng.uniform_int(1, 2);  // 1x1, 1x2, 2x1, 2x2: every level is a single pixel
            w = rng.uniform_int(1, 2);
        } else if (spatial == 1) {
            w = w * rng.uniform_int(1, 4) + rng.uniform_int(0, 3);  // 1D: longer signals
        }
        // Half types run on the fused algorithm only: stride 1 in most of them, so that its
        // stride-1 staging paths (16-byte chunks at odd widths included) see every half type.
        const bool half = dtype == DType::kFloat16 || dtype == DType::kBFloat16;
        const int stride = half && rng.uniform_int(0, 1) == 0 ? 1 : rng.uniform_int(1, 4);
        if (spatial == 1 && w < stride) {
            w = stride;  // 1D averaging needs a full window (tested in the bad-input suite)
        }
        WTConvCase tc =
            make_case(spatial, n, c, h, w, k, levels, stride, bias, wavelet, dtype, rng.next());
        const Device cuda = Device::cuda(0);
        if (!wtconv_promised(WTConvAlgo::kDirect, cuda, tc) &&
            !wtconv_promised(WTConvAlgo::kFused, cuda, tc)) {
            tc.dtype = DType::kFloat32;  // a half type no CUDA algorithm is promised for
        }
        cases.push_back(tc);
    }
    return cases;
}

WTConvWeights random_wtconv_weights(Rng& rng, const WTConvCase& tc, Device device) {
    const WTConvParams& p = tc.params;
    const std::int64_t bands = tc.spatial == 2 ? 4 : 2;
    const auto kernel = [&](std::int64_t rows) {
        return tc.spatial == 2 ? Shape{rows, 1, p.kernel_size, p.kernel_size}
                               : Shape{rows, 1, p.kernel_size};
    };
    WTConvWeights w;
    w.base_weight = random_normal(rng, kernel(tc.c), tc.dtype, device);
    if (p.bias) {
        w.base_bias = random_normal(rng, Shape{tc.c}, tc.dtype, device);
    }
    w.base_scale = random_normal(rng, Shape{tc.c}, tc.dtype, device);
    for (int i = 0; i < p.levels; ++i) {
        w.wavelet_weight.push_back(random_normal(rng, kernel(bands * tc.c), tc.dtype, device));
        w.wavelet_scale.push_back(random_normal(rng, Shape{bands * tc.c}, tc.dtype, device));
    }
    return w;
}

WTConvWeights to_device(const WTConvWeights& w, Device device) {
    const auto move = [device](const Tensor& t) { return t.defined() ? t.to(device) : Tensor(); };
    WTConvWeights out;
    out.base_weight = move(w.base_weight);
    out.base_bias = move(w.base_bias);
    out.base_scale = move(w.base_scale);
    for (std::size_t i = 0; i < w.wavelet_weight.size(); ++i) {
        out.wavelet_weight.push_back(move(w.wavelet_weight[i]));
        out.wavelet_scale.push_back(move(w.wavelet_scale[i]));
    }
    return out;
}

ref::Weights to_ref(const WTConvWeights& w) {
    ref::Weights r;
    r.base_weight = to_ref(w.base_weight);
    if (w.base_bias.defined()) {
        r.base_bias = to_ref(w.base_bias);
    }
    r.base_scale = to_ref(w.base_scale);
    for (std::size_t i = 0; i < w.wavelet_weight.size(); ++i) {
        r.wavelet_weight.push_back(to_ref(w.wavelet_weight[i]));
        r.wavelet_scale.push_back(to_ref(w.wavelet_scale[i]));
    }
    return r;
}

ref::Grads to_ref(const WTConvGrads& g) {
    ref::Grads r;
    r.dx = to_ref(g.dx);
    r.dweights = to_ref(g.dweights);
    return r;
}

ref::Config to_ref_config(const WTConvParams& p) {
    ref::Config c;
    c.kernel_size = p.kernel_size;
    c.levels = p.levels;
    c.stride = p.stride;
    c.bias = p.bias;
    return c;
}

std::vector<GradError> gradient_errors(const WTConvGrads& got,
                                       const ref::Grads& want,
                                       const WTConvCase& tc) {
    const WTConvParams& p = tc.params;
    const WTConvWeights& g = got.dweights;
    const ref::Weights& r = want.dweights;
    std::vector<GradError> e;
    e.push_back({"dx", rel_l2_error(got.dx, want.dx)});
    e.push_back({"d base_weight", rel_l2_error(g.base_weight, r.base_weight)});
    if (p.bias) {
        e.push_back({"d base_bias", rel_l2_error(g.base_bias, r.base_bias)});
    }
    e.push_back({"d base_scale", rel_l2_error(g.base_scale, r.base_scale)});
    for (int i = 0; i < p.levels; ++i) {
        const std::string level = "[" + std::to_string(i) + "]";
        e.push_back(
            {"d wavelet_weight" + level, rel_l2_error(g.wavelet_weight[i], r.wavelet_weight[i])});
        e.push_back(
            {"d wavelet_scale" + level, rel_l2_error(g.wavelet_scale[i], r.wavelet_scale[i])});
    }
    return e;
}

}  // namespace wtconv::test
