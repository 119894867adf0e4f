#pragma once
// float32 GEMM for conv2d on AVX-512 (and AVX2 + FMA) CPUs, in the BLIS layout: A packed once into
// panels of kRows rows (reused by every chunk of columns and every thread), B packed per call into
// panels of kCols columns, a 12 x 32 register-blocked micro-kernel over blocks of kDepth taps.
// Eigen's GEMM repacks A on every call, which for conv2d's narrow column chunks cost a third of the
// time. Built with AVX-512 or AVX2 + FMA (sgemm_available() says whether it is here and the CPU
// runs it); callers fall back to Eigen.
#include <cstdint>

namespace wtconv::cpu {

bool sgemm_available();

struct SgemmShape {
    static constexpr std::int64_t kRows = 12;    // micro-kernel rows (A panel height)
    static constexpr std::int64_t kCols = 32;    // micro-kernel columns (two zmm)
    static constexpr std::int64_t kDepth = 256;  // taps per block: A and B micro-panels in L1/L2
};

// A (m x k) packed as ceil(m / kRows) panels of (k, kRows), rows past m zero; data is owned by
// the caller (a workspace), packed_a_floats(m, k) floats.
struct PackedA {
    std::int64_t m = 0, k = 0;
    const float* data = nullptr;
};
std::int64_t packed_a_floats(std::int64_t m, std::int64_t k);
// Packs A with element (i, j) at a[i rs + j cs] into out.
PackedA pack_a(
    const float* a, std::int64_t m, std::int64_t k, std::int64_t rs, std::int64_t cs, float* out);

// B handed over in packed form: pack(k0, kc, out) writes rows [k0, k0 + kc) of B's columns as
// panels of (kc, kCols), panel j (columns [j kCols, (j + 1) kCols)) at out + j kCols kc, row k of
// it at + k kCols; columns past n zero. Lets a caller build B straight into the panels (conv2d's
// img2col) instead of materialising it first.
class PanelPacker {
public:
    virtual ~PanelPacker() = default;
    virtual void pack(std::int64_t k0, std::int64_t kc, float* out) const = 0;

protected:
    PanelPacker() = default;
    PanelPacker(const PanelPacker&) = default;
    PanelPacker& operator=(const PanelPacker&) = default;
};

// Floats of scratch sgemm needs for n columns.
std::int64_t sgemm_scratch_floats(std::int64_t n);

// C (m x n, rows ldc apart) = A B, or += with accumulate; B (k x n) with element (i, j) at
// b[i rs + j cs]. scratch: sgemm_scratch_floats(n) floats, 64-byte aligned.
void sgemm(const PackedA& a,
           const float* b,
           std::int64_t n,
           std::int64_t rs_b,
           std::int64_t cs_b,
           float* c,
           std::int64_t ldc,
           bool accumulate,
           float* scratch);

// The same with B (k x n) from a packer; n must be the packer's column count (it zeroes the
// columns past n in the last panel).
void sgemm(const PackedA& a,
           const PanelPacker& b,
           std::int64_t n,
           float* c,
           std::int64_t ldc,
           bool accumulate,
           float* scratch);

}  // namespace wtconv::cpu
