// The DWT reference: COMPRESSION.md 5.2-5.6 transcribed formula by formula. Each output sample is
// its own sum (gather form), each extended sample its closed form; no buffers are shared.
#include "reference/dwt_ref.h"

#include <cmath>
#include <stdexcept>

// Products rounded one by one, as pywt's C kernels (built without FMA) round them: GCC would fuse
// s += a * b under -march=native and turn pywt's exact zeros into ~1e-17 residues. Hence
// -ffp-contract=off on this file (CMakeLists.txt).

namespace wtconv::ref {

namespace {

int64_t floor_div(int64_t a, int64_t b) {  // floor toward -inf, b > 0
    int64_t q = a / b;
    if (a % b != 0 && a < 0) {
        --q;
    }
    return q;
}
int64_t mod(int64_t a, int64_t b) {  // in [0, b), b > 0
    return a - floor_div(a, b) * b;
}

// Row r of a 2-D array, column c, and their writers.
std::vector<double> row(const Array& a, int64_t r) {
    const int64_t w = a.shape[1];
    return std::vector<double>(a.data.begin() + r * w, a.data.begin() + (r + 1) * w);
}
std::vector<double> col(const Array& a, int64_t c) {
    std::vector<double> v(static_cast<size_t>(a.shape[0]));
    for (int64_t r = 0; r < a.shape[0]; ++r) {
        v[static_cast<size_t>(r)] = a.data[static_cast<size_t>(r * a.shape[1] + c)];
    }
    return v;
}

}  // namespace

double dwt_extended(const std::vector<double>& x, int64_t n, const std::string& mode) {
    const int64_t N = static_cast<int64_t>(x.size());
    const auto at = [&](int64_t i) { return x[static_cast<size_t>(i)]; };
    if (n >= 0 && n < N) {
        return at(n);
    }
    if (mode == "zero") {
        return 0.0;
    }
    if (mode == "constant") {
        return n < 0 ? at(0) : at(N - 1);
    }
    if (mode == "symmetric") {
        const int64_t m = mod(n, 2 * N);
        return m < N ? at(m) : at(2 * N - 1 - m);
    }
    if (mode == "antisymmetric") {
        const int64_t m = mod(n, 2 * N);
        return m < N ? at(m) : -at(2 * N - 1 - m);
    }
    if (mode == "periodic") {
        return at(mod(n, N));
    }
    if (mode == "reflect") {
        const int64_t p = 2 * N - 2;
        const int64_t m = mod(n, p);
        return m < N ? at(m) : at(p - m);
    }
    if (mode == "antireflect") {
        const int64_t p = 2 * N - 2;
        const double d = 2.0 * (at(N - 1) - at(0));
        const int64_t m = mod(n, p);
        const double base = m < N ? at(m) : 2.0 * at(N - 1) - at(p - m);
        return base + static_cast<double>(floor_div(n, p)) * d;
    }
    if (mode == "smooth") {
        if (N == 1) {
            return at(0);
        }
        if (n < 0) {
            return at(0) + static_cast<double>(-n) * (at(0) - at(1));
        }
        return at(N - 1) + static_cast<double>(n - N + 1) * (at(N - 1) - at(N - 2));
    }
    throw std::invalid_argument("ref::dwt_extended: unknown mode " + mode);
}

std::vector<double> dwt1d(const std::vector<double>& x,
                          const std::vector<double>& filter,
                          const std::string& mode) {
    const int64_t N = static_cast<int64_t>(x.size());
    const int64_t F = static_cast<int64_t>(filter.size());
    std::vector<double> out;
    if (mode == "periodization") {
        std::vector<double> xh = x;  // 5.4: odd N appends one copy of the last sample
        if (N % 2 == 1) {
            xh.push_back(x.back());
        }
        const int64_t np = static_cast<int64_t>(xh.size());
        for (int64_t o = 0; o < np / 2; ++o) {
            double s = 0.0;
            for (int64_t j = 0; j < F; ++j) {
                s += filter[static_cast<size_t>(j)] *
                     xh[static_cast<size_t>(mod(F / 2 + 2 * o - j, np))];
            }
            out.push_back(s);
        }
        return out;
    }
    const int64_t lc = (N + F - 1) / 2;
    for (int64_t o = 0; o < lc; ++o) {
        double s = 0.0;
        for (int64_t j = 0; j < F; ++j) {
            s += filter[static_cast<size_t>(j)] * dwt_extended(x, 2 * o + 1 - j, mode);
        }
        out.push_back(s);
    }
    return out;
}

std::vector<double> idwt1d(const std::vector<double>& ca,
                           const std::vector<double>& cd,
                           const FilterBank& fb,
                           const std::string& mode) {
    const int64_t lc = static_cast<int64_t>(ca.size());
    const int64_t F = static_cast<int64_t>(fb.rec_lo.size());
    const auto term = [&](int64_t k, int64_t t) {
        return ca[static_cast<size_t>(k)] * fb.rec_lo[static_cast<size_t>(t)] +
               cd[static_cast<size_t>(k)] * fb.rec_hi[static_cast<size_t>(t)];
    };
    std::vector<double> x;
    if (mode == "periodization") {
        const int64_t M = 2 * lc;
        for (int64_t n = 0; n < M; ++n) {
            double s = 0.0;
            for (int64_t k = 0; k < lc; ++k) {
                for (int64_t t = 0; t < F; ++t) {
                    if (mod(2 * k + t - (F / 2 - 1), M) == n) {
                        s += term(k, t);
                    }
                }
            }
            x.push_back(s);
        }
        return x;
    }
    for (int64_t n = 0; n < 2 * lc - F + 2; ++n) {
        double s = 0.0;
        for (int64_t k = 0; k < lc; ++k) {
            const int64_t t = n + F - 2 - 2 * k;
            if (t >= 0 && t < F) {
                s += term(k, t);
            }
        }
        x.push_back(s);
    }
    return x;
}

Dwt2 dwt2(const Array& x, const FilterBank& fb, const std::string& mode) {
    const int64_t W = x.shape[1];
    // Along H (axis -2) first: lo/hi per column.
    std::vector<std::vector<double>> lo_cols, hi_cols;
    for (int64_t c = 0; c < W; ++c) {
        lo_cols.push_back(dwt1d(col(x, c), fb.dec_lo, mode));
        hi_cols.push_back(dwt1d(col(x, c), fb.dec_hi, mode));
    }
    const int64_t h = static_cast<int64_t>(lo_cols[0].size());
    // Then along W for each row of the two intermediate (h, W) arrays.
    Dwt2 out;
    out.details.resize(1);
    Array* bands[4] = {&out.approx, &out.details[0].bands[0], &out.details[0].bands[1],
                       &out.details[0].bands[2]};  // cA, cH, cV, cD
    for (int64_t r = 0; r < h; ++r) {
        std::vector<double> lo_row, hi_row;
        for (int64_t c = 0; c < W; ++c) {
            lo_row.push_back(lo_cols[static_cast<size_t>(c)][static_cast<size_t>(r)]);
            hi_row.push_back(hi_cols[static_cast<size_t>(c)][static_cast<size_t>(r)]);
        }
        const std::vector<double> parts[4] = {
            dwt1d(lo_row, fb.dec_lo, mode),  // cA = (lo, lo)
            dwt1d(hi_row, fb.dec_lo, mode),  // cH = (hi, lo)
            dwt1d(lo_row, fb.dec_hi, mode),  // cV = (lo, hi)
            dwt1d(hi_row, fb.dec_hi, mode),  // cD = (hi, hi)
        };
        for (int b = 0; b < 4; ++b) {
            if (r == 0) {
                *bands[b] = Array({h, static_cast<int64_t>(parts[b].size())});
            }
            for (size_t c = 0; c < parts[b].size(); ++c) {
                bands[b]->data[static_cast<size_t>(r) * parts[b].size() + c] = parts[b][c];
            }
        }
    }
    return out;
}

Array idwt2(const Array& approx, const DwtLevel& d, const FilterBank& fb, const std::string& mode) {
    const int64_t h = d.bands[0].shape[0];
    const int64_t w = d.bands[0].shape[1];
    // Along W: rows of (cA, cV) and (cH, cD); approx is read on the details' h x w block.
    std::vector<std::vector<double>> lo_rows, hi_rows;
    for (int64_t r = 0; r < h; ++r) {
        std::vector<double> a;
        for (int64_t c = 0; c < w; ++c) {
            a.push_back(approx.data[static_cast<size_t>(r * approx.shape[1] + c)]);
        }
        lo_rows.push_back(idwt1d(a, row(d.bands[1], r), fb, mode));
        hi_rows.push_back(idwt1d(row(d.bands[0], r), row(d.bands[2], r), fb, mode));
    }
    const int64_t mw = static_cast<int64_t>(lo_rows[0].size());
    // Then along H for every column.
    Array out;
    for (int64_t c = 0; c < mw; ++c) {
        std::vector<double> lo, hi;
        for (int64_t r = 0; r < h; ++r) {
            lo.push_back(lo_rows[static_cast<size_t>(r)][static_cast<size_t>(c)]);
            hi.push_back(hi_rows[static_cast<size_t>(r)][static_cast<size_t>(c)]);
        }
        const std::vector<double> x = idwt1d(lo, hi, fb, mode);
        if (c == 0) {
            out = Array({static_cast<int64_t>(x.size()), mw});
        }
        for (size_t r = 0; r < x.size(); ++r) {
            out.data[r * static_cast<size_t>(mw) + static_cast<size_t>(c)] = x[r];
        }
    }
    return out;
}

Dwt2 wavedec2(const Array& x, const FilterBank& fb, const std::string& mode, int level) {
    Dwt2 out;
    out.approx = x;
    for (int j = 0; j < level; ++j) {
        Dwt2 step = dwt2(out.approx, fb, mode);
        out.approx = step.approx;
        out.details.insert(out.details.begin(), step.details[0]);
    }
    return out;
}

Array waverec2(const Dwt2& coeffs, const FilterBank& fb, const std::string& mode) {
    Array a = coeffs.approx;
    for (const DwtLevel& d : coeffs.details) {
        a = idwt2(a, d, fb, mode);  // reads a's top-left block: the dropped row/column of 5.6
    }
    return a;
}

int dwt_max_level(int64_t n, int filter_len) {
    if (n < filter_len - 1) {
        return 0;
    }
    return static_cast<int>(std::floor(std::log2(static_cast<double>(n / (filter_len - 1)))));
}

}  // namespace wtconv::ref
