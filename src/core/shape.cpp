// Shape arithmetic and printing.
#include <limits>
#include <sstream>

#include <wtconv/error.h>
#include <wtconv/shape.h>

namespace wtconv {

std::int64_t Shape::numel() const {
    std::int64_t n = 1;
    for (const std::int64_t s : sizes_) {
        WTCONV_CHECK(s >= 0, "shape: sizes must be >= 0, got ", *this);
        WTCONV_CHECK(s == 0 || n <= std::numeric_limits<std::int64_t>::max() / s,
                     "shape: element count must fit in int64, got ", *this);
        n *= s;
    }
    return n;
}

std::string Shape::str() const {
    std::ostringstream out;
    out << *this;
    return out.str();
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) {
    out << '(';
    for (int d = 0; d < shape.rank(); ++d) {
        out << (d > 0 ? ", " : "") << shape[d];
    }
    return out << (shape.rank() == 1 ? ",)" : ")");
}

}  // namespace wtconv
