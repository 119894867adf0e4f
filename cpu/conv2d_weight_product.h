#pragma once
// WeightProduct: out = A_group b, where A is one group's weights (Og x K, forward) or their
// transpose (K x Og, input gradient), the same for every chunk of a call. In float32 on AVX-512 or
// AVX2 + FMA the weights are packed once per call for cpu/sgemm.h and shared by all threads;
// otherwise Eigen.
#include <cstdint>
#include <type_traits>

#include "common/conv2d_geometry.h"
#include "cpu/gemm.h"
#include "cpu/sgemm.h"

namespace wtconv::cpu {

template <class T>
class WeightProduct {
public:
    WeightProduct(const ::wtconv::detail::Conv2dGeometry& g, const T* w, bool transposed)
        : g_(g), w_(w), transposed_(transposed) {}

    static bool packed_path() {
        if constexpr (std::is_same_v<T, float>) {
            return sgemm_available();
        } else {
            return false;
        }
    }
    std::int64_t rows() const { return transposed_ ? g_.k() : g_.og(); }
    std::int64_t depth() const { return transposed_ ? g_.og() : g_.k(); }
    // Elements of T the packed weights take (all groups), and a thread's scratch for width columns.
    std::int64_t packed_elems() const {
        return packed_path() ? g_.groups * packed_a_floats(rows(), depth()) : 0;
    }
    std::int64_t scratch_elems(std::int64_t width) const {
        return packed_path() ? sgemm_scratch_floats(width) : 0;
    }
    // Packs every group's A into storage (packed_elems() elements); nothing on the Eigen path.
    void pack(T* storage) {
        if constexpr (std::is_same_v<T, float>) {
            if (!packed_path()) {
                return;
            }
            packed_ = storage;
            for (std::int64_t gi = 0; gi < g_.groups; ++gi) {
                const T* w = w_ + gi * g_.og() * g_.k();
                // W_group is (Og, K) row-major: element (o, k) at o K + k.
                pack_a(w, rows(), depth(), transposed_ ? 1 : g_.k(), transposed_ ? g_.k() : 1,
                       storage + gi * packed_a_floats(rows(), depth()));
            }
        } else {
            (void)storage;
        }
    }
    // out (rows x b.cols()) = A_group b; scratch: scratch_elems(b.cols()) elements, 64-byte
    // aligned, private to the calling thread.
    void multiply(std::int64_t gi,
                  MatrixView<T> out,
                  const ConstMatrixView<T>& b,
                  T* scratch) const {
        if constexpr (std::is_same_v<T, float>) {
            if (packed_ != nullptr) {
                const PackedA a{rows(), depth(), packed_ + gi * packed_a_floats(rows(), depth())};
                sgemm(a, b.data(), b.cols(), b.outerStride(), 1, out.data(), out.outerStride(),
                      false, scratch);
                return;
            }
        }
        const auto w = view(w_ + gi * g_.og() * g_.k(), g_.og(), g_.k(), g_.k());
        if (transposed_) {
            gemm(out, w.transpose(), b, false);
        } else {
            gemm(out, w, b, false);
        }
    }

    // out (rows x width) = A_group B, B from a packer; the packed path only (float32 with
    // packed_path(), after pack()).
    void multiply(std::int64_t gi,
                  MatrixView<float> out,
                  const PanelPacker& b,
                  std::int64_t width,
                  float* scratch) const {
        static_assert(std::is_same_v<T, float>, "packers feed the float32 GEMM only");
        const PackedA a{rows(), depth(), packed_ + gi * packed_a_floats(rows(), depth())};
        sgemm(a, b, width, out.data(), out.outerStride(), false, scratch);
    }

private:
    ::wtconv::detail::Conv2dGeometry g_;
    const T* w_;
    bool transposed_;
    const T* packed_ = nullptr;
};

}  // namespace wtconv::cpu
