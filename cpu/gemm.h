#pragma once
// Row-major matrix views over raw pointers and the GEMM forms conv2d needs, through Eigen (its
// packed, vectorised kernels). Called inside our own OpenMP regions, where Eigen runs serially.
#include <cstdint>

#include <Eigen/Core>

namespace wtconv::cpu {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// rows x cols, consecutive rows ld elements apart.
template <class T>
using MatrixView = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstMatrixView = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T>
MatrixView<T> view(T* data, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
    return MatrixView<T>(data, rows, cols, Eigen::OuterStride<>(ld));
}
template <class T>
ConstMatrixView<T> view(const T* data, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
    return ConstMatrixView<T>(data, rows, cols, Eigen::OuterStride<>(ld));
}

// c = a * b, or c += a * b with accumulate.
template <class T, class A, class B>
void gemm(MatrixView<T> c, const A& a, const B& b, bool accumulate) {
    if (accumulate) {
        c.noalias() += a * b;
    } else {
        c.noalias() = a * b;
    }
}

}  // namespace wtconv::cpu
