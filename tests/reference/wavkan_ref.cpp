// Reference Wavelet-KAN forward and backward (see wavkan_ref.h): WAVKAN.md 3 and 4 as plain loops
// over (b, o, i), every sum taken in index order.
#include "reference/wavkan_ref.h"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

namespace wtconv::ref {

namespace {

constexpr double kPi = 3.141592653589793238462643383279502884;

// Below this |u| shannon's derivative uses its series: (u cos u - sin u) / u^2 loses about
// 2 log10(1/|u|) digits to cancellation, the series' first dropped term is u^5 / 840 (3.2).
constexpr double kShannonSeriesBelow = 1e-5;

bool known_wavelet(const std::string& w) {
    return w == "mexican_hat" || w == "morlet" || w == "dog" || w == "meyer" || w == "shannon";
}

// The symmetric Hamming window of length I at index i; h[0] = 1 for I = 1 (torch's
// hamming_window(1, periodic=False)).
double hamming(int64_t i, int64_t I) {
    if (I == 1) {
        return 1.0;
    }
    return 0.54 - 0.46 * std::cos(2.0 * kPi * static_cast<double>(i) / static_cast<double>(I - 1));
}

// meyer's smooth step nu(t) and its derivative, used on 0 < t < 1.
double meyer_nu(double t) {
    return t * t * t * t * (35.0 - 84.0 * t + 70.0 * t * t - 20.0 * t * t * t);
}
double meyer_dnu(double t) {
    const double s = 1.0 - t;
    return 140.0 * t * t * t * s * s * s;
}

std::pair<double, double> meyer(double u) {
    const double v = std::fabs(u);
    // sgn(0) = 0: the original differentiates |u| with torch.abs, whose gradient at 0 is 0.
    double sgn = 0.0;
    if (u > 0.0) {
        sgn = 1.0;
    } else if (u < 0.0) {
        sgn = -1.0;
    }
    double m = 0.0;
    double dm = 0.0;
    if (v <= 0.5) {  // the boundaries belong to the constant pieces
        m = 1.0;
    } else if (v >= 1.0) {
        m = 0.0;
    } else {
        const double t = 2.0 * v - 1.0;
        const double arg = 0.5 * kPi * meyer_nu(t);
        m = std::cos(arg);
        dm = -kPi * std::sin(arg) * meyer_dnu(t);  // d/dv of cos((pi/2) nu(2v - 1))
    }
    const double psi = std::sin(kPi * v) * m;
    const double dpsi = sgn * (kPi * std::cos(kPi * v) * m + std::sin(kPi * v) * dm);
    return {psi, dpsi};
}

double silu(double x) {
    return x / (1.0 + std::exp(-x));
}
double dsilu(double x) {
    const double s = 1.0 / (1.0 + std::exp(-x));
    return s * (1.0 + x * (1.0 - s));
}

struct Dims {
    int64_t B = 0, I = 0, O = 0;
};

void expect_shape(const Array& a, const std::vector<int64_t>& shape, const char* name) {
    if (a.shape != shape || a.data.size() != static_cast<size_t>(a.numel())) {
        throw std::invalid_argument(std::string("wavkan_ref: ") + name + " has the wrong shape");
    }
}

Dims check_args(const Array& x, const WavKanTensors& p, const WavKanConfig& c) {
    if (!known_wavelet(c.wavelet)) {
        throw std::invalid_argument("wavkan_ref: unsupported wavelet type \"" + c.wavelet + "\"");
    }
    if (x.shape.size() != 2) {
        throw std::invalid_argument("wavkan_ref: x must be (B, I)");
    }
    Dims d;
    d.B = x.shape[0];
    d.I = x.shape[1];
    d.O = p.scale.shape.size() == 2 ? p.scale.shape[0] : 0;
    if (d.B < 1 || d.I < 1 || d.O < 1) {
        throw std::invalid_argument("wavkan_ref: B, I and O must be >= 1");
    }
    expect_shape(x, {d.B, d.I}, "x");
    expect_shape(p.scale, {d.O, d.I}, "scale");
    expect_shape(p.translation, {d.O, d.I}, "translation");
    expect_shape(p.wavelet_weights, {d.O, d.I}, "wavelet_weights");
    if (c.base) {
        expect_shape(p.base_weight, {d.O, d.I}, "base_weight");
    }
    if (c.batchnorm) {
        expect_shape(p.bn_weight, {d.O}, "bn_weight");
        expect_shape(p.bn_bias, {d.O}, "bn_bias");
        expect_shape(p.bn_running_mean, {d.O}, "bn_running_mean");
        expect_shape(p.bn_running_var, {d.O}, "bn_running_var");
        if (c.training && d.B < 2) {
            throw std::invalid_argument("wavkan_ref: batch norm in training mode needs B >= 2");
        }
    }
    return d;
}

// Element (r, col) of a row-major (rows, cols) array.
double get(const Array& a, int64_t r, int64_t col, int64_t cols) {
    return a.data[static_cast<size_t>(r * cols + col)];
}
double& ref_at(Array& a, int64_t r, int64_t col, int64_t cols) {
    return a.data[static_cast<size_t>(r * cols + col)];
}
double get1(const Array& a, int64_t k) {
    return a.data[static_cast<size_t>(k)];
}

double edge_u(
    const Array& x, const WavKanTensors& p, const Dims& d, int64_t b, int64_t o, int64_t i) {
    // u = (x - t) / s, a true division (3.1).
    return (get(x, b, i, d.I) - get(p.translation, o, i, d.I)) / get(p.scale, o, i, d.I);
}

// z = core + [base] SiLU(x) base_weight^T, (B, O).
Array pre_norm(const Array& x, const WavKanTensors& p, const WavKanConfig& c, const Dims& d) {
    Array z({d.B, d.O});
    for (int64_t b = 0; b < d.B; ++b) {
        for (int64_t o = 0; o < d.O; ++o) {
            double core = 0.0;
            for (int64_t i = 0; i < d.I; ++i) {
                const double psi = kan_psi(c.wavelet, edge_u(x, p, d, b, o, i), i, d.I).first;
                core += get(p.wavelet_weights, o, i, d.I) * psi;
            }
            double base = 0.0;
            if (c.base) {
                for (int64_t i = 0; i < d.I; ++i) {
                    base += get(p.base_weight, o, i, d.I) * silu(get(x, b, i, d.I));
                }
            }
            ref_at(z, b, o, d.O) = core + base;
        }
    }
    return z;
}

// What batch norm computes from z: the statistics it normalises with (batch or running, by
// mode), the batch mean and biased variance, and zhat. Only filled with batch norm on.
struct NormState {
    std::vector<double> mean, var;  // (O) the statistics used to normalise
    Array zhat;                     // (B, O)
};

NormState normalise(const Array& z, const WavKanTensors& p, const WavKanConfig& c, const Dims& d) {
    NormState s;
    s.mean.assign(static_cast<size_t>(d.O), 0.0);
    s.var.assign(static_cast<size_t>(d.O), 0.0);
    s.zhat = Array({d.B, d.O});
    for (int64_t o = 0; o < d.O; ++o) {
        double mean = 0.0;
        double var = 0.0;
        if (c.training) {
            for (int64_t b = 0; b < d.B; ++b) {
                mean += get(z, b, o, d.O);
            }
            mean /= static_cast<double>(d.B);
            for (int64_t b = 0; b < d.B; ++b) {
                const double dz = get(z, b, o, d.O) - mean;
                var += dz * dz;
            }
            var /= static_cast<double>(d.B);  // biased, for normalising
        } else {
            mean = get1(p.bn_running_mean, o);
            var = get1(p.bn_running_var, o);
        }
        s.mean[static_cast<size_t>(o)] = mean;
        s.var[static_cast<size_t>(o)] = var;
        const double denom = std::sqrt(var + c.eps);
        for (int64_t b = 0; b < d.B; ++b) {
            ref_at(s.zhat, b, o, d.O) = (get(z, b, o, d.O) - mean) / denom;
        }
    }
    return s;
}

}  // namespace

std::pair<double, double> kan_psi(const std::string& wavelet, double u, int64_t i, int64_t I) {
    if (wavelet == "mexican_hat") {
        const double e = std::exp(-0.5 * u * u);
        if (e == 0.0) {
            // |u| > ~38.6: the limit, where u^2 (inf for |u| > 1.3e154) times e would give NaN.
            return {0.0, 0.0};
        }
        const double cst = 2.0 / (std::sqrt(3.0) * std::pow(kPi, 0.25));  // 0.8673250705840776
        return {cst * (u * u - 1.0) * e, cst * u * (3.0 - u * u) * e};
    }
    if (wavelet == "morlet") {
        const double e = std::exp(-0.5 * u * u);
        const double co = std::cos(5.0 * u);
        const double si = std::sin(5.0 * u);
        return {co * e, -e * (5.0 * si + u * co)};
    }
    if (wavelet == "dog") {
        const double e = std::exp(-0.5 * u * u);
        return {-u * e, (u * u - 1.0) * e};
    }
    if (wavelet == "meyer") {
        return meyer(u);
    }
    if (wavelet == "shannon") {
        const double h = hamming(i, I);
        if (u == 0.0) {
            return {h, 0.0};
        }
        const double sinc = std::sin(u) / u;
        double dsinc = 0.0;
        if (std::fabs(u) < kShannonSeriesBelow) {
            dsinc = -u / 3.0 + u * u * u / 30.0;
        } else {
            dsinc = (u * std::cos(u) - std::sin(u)) / (u * u);
        }
        return {h * sinc, h * dsinc};
    }
    throw std::invalid_argument("kan_psi: unsupported wavelet type \"" + wavelet + "\"");
}

WavKanForwardRef wavkan_forward(const Array& x, const WavKanTensors& p, const WavKanConfig& c) {
    const Dims d = check_args(x, p, c);
    const Array z = pre_norm(x, p, c, d);
    WavKanForwardRef r;
    if (!c.batchnorm) {
        r.y = z;
        return r;
    }
    const NormState s = normalise(z, p, c, d);
    r.y = Array({d.B, d.O});
    for (int64_t b = 0; b < d.B; ++b) {
        for (int64_t o = 0; o < d.O; ++o) {
            ref_at(r.y, b, o, d.O) =
                get1(p.bn_weight, o) * get(s.zhat, b, o, d.O) + get1(p.bn_bias, o);
        }
    }
    r.running_mean_out = p.bn_running_mean;
    r.running_var_out = p.bn_running_var;
    if (c.training) {
        const double n = static_cast<double>(d.B);
        for (int64_t o = 0; o < d.O; ++o) {
            const size_t k = static_cast<size_t>(o);
            // The running variance takes the unbiased batch variance (PyTorch's BatchNorm1d).
            r.running_mean_out.data[k] =
                (1.0 - c.momentum) * p.bn_running_mean.data[k] + c.momentum * s.mean[k];
            r.running_var_out.data[k] = (1.0 - c.momentum) * p.bn_running_var.data[k] +
                                        c.momentum * s.var[k] * n / (n - 1.0);
        }
    }
    return r;
}

WavKanGradsRef wavkan_backward(const Array& x,
                               const Array& dy,
                               const WavKanTensors& p,
                               const WavKanConfig& c) {
    const Dims d = check_args(x, p, c);
    expect_shape(dy, {d.B, d.O}, "dy");
    WavKanGradsRef g;

    // G = dL/dz, (B, O).
    Array gz = dy;
    if (c.batchnorm) {
        const Array z = pre_norm(x, p, c, d);
        const NormState s = normalise(z, p, c, d);
        g.dbn_weight = Array({d.O});
        g.dbn_bias = Array({d.O});
        const double n = static_cast<double>(d.B);
        for (int64_t o = 0; o < d.O; ++o) {
            const size_t k = static_cast<size_t>(o);
            double sum_dy = 0.0;
            double sum_dy_zhat = 0.0;
            for (int64_t b = 0; b < d.B; ++b) {
                sum_dy += get(dy, b, o, d.O);
                sum_dy_zhat += get(dy, b, o, d.O) * get(s.zhat, b, o, d.O);
            }
            g.dbn_bias.data[k] = sum_dy;
            g.dbn_weight.data[k] = sum_dy_zhat;
            const double gain = get1(p.bn_weight, o) / std::sqrt(s.var[k] + c.eps);
            for (int64_t b = 0; b < d.B; ++b) {
                if (c.training) {  // the gradient also flows through the batch mean and variance
                    ref_at(gz, b, o, d.O) = gain * (get(dy, b, o, d.O) - sum_dy / n -
                                                    get(s.zhat, b, o, d.O) * (sum_dy_zhat / n));
                } else {
                    ref_at(gz, b, o, d.O) = get(dy, b, o, d.O) * gain;
                }
            }
        }
    }

    // Per-edge gradients, each a sum over b in order.
    g.dscale = Array({d.O, d.I});
    g.dtranslation = Array({d.O, d.I});
    g.dwavelet_weights = Array({d.O, d.I});
    for (int64_t o = 0; o < d.O; ++o) {
        for (int64_t i = 0; i < d.I; ++i) {
            const double s = get(p.scale, o, i, d.I);
            const double w = get(p.wavelet_weights, o, i, d.I);
            double gw = 0.0;
            double sum_p = 0.0;
            double sum_pu = 0.0;
            for (int64_t b = 0; b < d.B; ++b) {
                const double u = edge_u(x, p, d, b, o, i);
                const std::pair<double, double> psi = kan_psi(c.wavelet, u, i, d.I);
                const double gbo = get(gz, b, o, d.O);
                const double pb = gbo * w * psi.second;  // P[b,o,i]
                gw += gbo * psi.first;
                sum_p += pb;
                sum_pu += pb * u;
            }
            ref_at(g.dwavelet_weights, o, i, d.I) = gw;
            ref_at(g.dtranslation, o, i, d.I) = -(1.0 / s) * sum_p;  // du/dt = -1/s
            ref_at(g.dscale, o, i, d.I) = -(1.0 / s) * sum_pu;       // du/ds = -u/s
        }
    }
    if (c.base) {
        g.dbase_weight = Array({d.O, d.I});
        for (int64_t o = 0; o < d.O; ++o) {
            for (int64_t i = 0; i < d.I; ++i) {
                double acc = 0.0;
                for (int64_t b = 0; b < d.B; ++b) {
                    acc += get(gz, b, o, d.O) * silu(get(x, b, i, d.I));
                }
                ref_at(g.dbase_weight, o, i, d.I) = acc;
            }
        }
    }

    // dx: a sum over o of P / s (du/dx = 1/s), plus the base branch through SiLU'.
    g.dx = Array({d.B, d.I});
    for (int64_t b = 0; b < d.B; ++b) {
        for (int64_t i = 0; i < d.I; ++i) {
            double acc = 0.0;
            for (int64_t o = 0; o < d.O; ++o) {
                const double u = edge_u(x, p, d, b, o, i);
                const double dpsi = kan_psi(c.wavelet, u, i, d.I).second;
                acc += get(gz, b, o, d.O) * get(p.wavelet_weights, o, i, d.I) * dpsi /
                       get(p.scale, o, i, d.I);
            }
            if (c.base) {
                double gb = 0.0;
                for (int64_t o = 0; o < d.O; ++o) {
                    gb += get(gz, b, o, d.O) * get(p.base_weight, o, i, d.I);
                }
                acc += dsilu(get(x, b, i, d.I)) * gb;
            }
            ref_at(g.dx, b, i, d.I) = acc;
        }
    }
    return g;
}

}  // namespace wtconv::ref
