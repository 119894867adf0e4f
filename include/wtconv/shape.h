#pragma once
// Shape of a tensor: rank 0..6, every size >= 0, printed as (2, 3, 4) in error messages.
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace wtconv {

class Shape {
public:
    static constexpr int kMaxRank = 6;

    Shape() = default;
    Shape(std::initializer_list<std::int64_t> sizes) : sizes_(sizes) {}
    explicit Shape(std::vector<std::int64_t> sizes) : sizes_(std::move(sizes)) {}

    int rank() const { return static_cast<int>(sizes_.size()); }
    std::int64_t operator[](int dim) const { return sizes_[static_cast<std::size_t>(dim)]; }
    std::int64_t& operator[](int dim) { return sizes_[static_cast<std::size_t>(dim)]; }
    const std::vector<std::int64_t>& sizes() const { return sizes_; }
    auto begin() const { return sizes_.begin(); }
    auto end() const { return sizes_.end(); }
    // Product of the sizes (1 for rank 0); throws Error when it overflows int64.
    std::int64_t numel() const;
    std::string str() const;

    friend bool operator==(const Shape& a, const Shape& b) { return a.sizes_ == b.sizes_; }
    friend bool operator!=(const Shape& a, const Shape& b) { return a.sizes_ != b.sizes_; }

private:
    std::vector<std::int64_t> sizes_;
};

std::ostream& operator<<(std::ostream& out, const Shape& shape);

}  // namespace wtconv
