// Tensor storage, construction, copies between devices and dtypes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include <wtconv/tensor.h>

#include "core/memory.h"

namespace wtconv {

namespace detail {
struct Storage {
    Storage(Device d, std::size_t n) : device(d), bytes(n), ptr(allocate(d, n)) {}
    ~Storage() { deallocate(device, ptr, bytes); }
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    Device device;
    std::size_t bytes;
    void* ptr;
};
}  // namespace detail

namespace {

void check_shape_valid(const Shape& shape) {
    WTCONV_CHECK(shape.rank() <= Shape::kMaxRank, "tensor: rank must be <= ", Shape::kMaxRank,
                 ", got ", shape.rank(), " for shape ", shape);
    shape.numel();  // throws on a negative size or an overflowing element count
}

// f(T{}) with T the storage type of dtype; no default, so -Wswitch names this place when DType
// grows.
template <class F>
void with_storage_type(DType dtype, F&& f) {
    switch (dtype) {
        case DType::kFloat32:
            f(float{});
            return;
        case DType::kFloat64:
            f(double{});
            return;
        case DType::kFloat16:
            f(Half{});
            return;
        case DType::kBFloat16:
            f(BFloat16{});
            return;
        case DType::kInt8:
            f(std::int8_t{});
            return;
        case DType::kUInt8:
            f(std::uint8_t{});
            return;
        case DType::kInt32:
            f(std::int32_t{});
            return;
    }
}

// Every stored value widens exactly to its compute type: float for the 16-bit types.
float widen(float v) {
    return v;
}
double widen(double v) {
    return v;
}
float widen(Half v) {
    return half_to_float(v);
}
float widen(BFloat16 v) {
    return bfloat16_to_float(v);
}
// Integers widen to double, where every int32 is exact.
double widen(std::int8_t v) {
    return v;
}
double widen(std::uint8_t v) {
    return v;
}
double widen(std::int32_t v) {
    return v;
}

// The nearest To of a float or double, rounded once: double goes to the 16-bit types directly,
// never through float. Integers: nearest with ties to even, saturated to the type's range, NaN
// to 0 (quantised tensors are made by explicit ops; this only has to be total and exact).
template <class To, class From>
To round_to(From v) {
    static_assert(std::is_same_v<From, float> || std::is_same_v<From, double>);
    if constexpr (std::is_integral_v<To>) {
        if (std::isnan(v)) {
            return To{0};
        }
        const double lo = static_cast<double>(std::numeric_limits<To>::min());
        const double hi = static_cast<double>(std::numeric_limits<To>::max());
        return static_cast<To>(std::nearbyint(std::clamp(static_cast<double>(v), lo, hi)));
    } else if constexpr (std::is_same_v<To, Half>) {
        if constexpr (std::is_same_v<From, double>) {
            return double_to_half(v);
        } else {
            return float_to_half(v);
        }
    } else if constexpr (std::is_same_v<To, BFloat16>) {
        if constexpr (std::is_same_v<From, double>) {
            return double_to_bfloat16(v);
        } else {
            return float_to_bfloat16(v);
        }
    } else {
        return static_cast<To>(v);
    }
}

template <class To, class From>
void convert_host(const void* src, void* dst, std::int64_t n) {
    const From* s = static_cast<const From*>(src);
    To* d = static_cast<To*>(dst);
    for (std::int64_t i = 0; i < n; ++i) {
        d[i] = round_to<To>(widen(s[i]));
    }
}

template <class T>
void combine_host(void* dst, const void* src, std::int64_t n, cuda::Combine op) {
    T* d = static_cast<T*>(dst);
    const T* s = static_cast<const T*>(src);
    for (std::int64_t i = 0; i < n; ++i) {
        d[i] = round_to<T>(op == cuda::Combine::kMultiply ? widen(d[i]) * widen(s[i])
                                                          : widen(d[i]) + widen(s[i]));
    }
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    check_shape_valid(shape);
    WTCONV_CHECK(device.index >= 0, "tensor: device index must be >= 0, got ", device.index);
    Tensor t;
    t.shape_ = shape;
    t.numel_ = shape.numel();
    t.dtype_ = dtype;
    t.device_ = device;
    const std::size_t item = dtype_size(dtype);
    WTCONV_CHECK(static_cast<std::uint64_t>(t.numel_) <= SIZE_MAX / item,
                 "tensor: byte count must fit in size_t, got shape ", shape);
    t.storage_ = std::make_shared<detail::Storage>(device, t.nbytes());
    return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
    return full(shape, 0.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    t.fill(value);
    return t;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
    check_shape_valid(shape);
    WTCONV_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(),
                 "tensor: from_vector needs ", shape.numel(), " values for shape ", shape, ", got ",
                 values.size());
    Tensor t = empty(shape, dtype_of<T>);
    if (!values.empty()) {
        std::memcpy(t.raw_data(), values.data(), t.nbytes());
    }
    return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector<Half>(const std::vector<Half>&, const Shape&);
template Tensor Tensor::from_vector<BFloat16>(const std::vector<BFloat16>&, const Shape&);
template Tensor Tensor::from_vector<std::int8_t>(const std::vector<std::int8_t>&, const Shape&);
template Tensor Tensor::from_vector<std::uint8_t>(const std::vector<std::uint8_t>&, const Shape&);
template Tensor Tensor::from_vector<std::int32_t>(const std::vector<std::int32_t>&, const Shape&);

std::int64_t Tensor::size(int dim) const {
    const int d = dim < 0 ? dim + shape_.rank() : dim;
    WTCONV_CHECK(d >= 0 && d < shape_.rank(), "tensor: dim must be in [", -shape_.rank(), ", ",
                 shape_.rank(), "), got ", dim);
    return shape_[d];
}

template <class T>
T* Tensor::data() {
    WTCONV_CHECK(defined(), "tensor: data() of an undefined tensor");
    WTCONV_CHECK(dtype_ == dtype_of<T>, "tensor: data<", dtype_name(dtype_of<T>),
                 ">() must match the dtype ", dtype_name(dtype_), ", got a request for ",
                 dtype_name(dtype_of<T>));
    return static_cast<T*>(storage_->ptr);
}
template <class T>
const T* Tensor::data() const {
    return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template Half* Tensor::data<Half>();
template BFloat16* Tensor::data<BFloat16>();
template const Half* Tensor::data<Half>() const;
template const BFloat16* Tensor::data<BFloat16>() const;
template std::int8_t* Tensor::data<std::int8_t>();
template std::uint8_t* Tensor::data<std::uint8_t>();
template std::int32_t* Tensor::data<std::int32_t>();
template const std::int8_t* Tensor::data<std::int8_t>() const;
template const std::uint8_t* Tensor::data<std::uint8_t>() const;
template const std::int32_t* Tensor::data<std::int32_t>() const;

void* Tensor::raw_data() {
    return storage_ ? storage_->ptr : nullptr;
}
const void* Tensor::raw_data() const {
    return storage_ ? storage_->ptr : nullptr;
}

Tensor Tensor::to(Device device) const {
    WTCONV_CHECK(defined(), "tensor: to(device) of an undefined tensor");
    Tensor t = empty(shape_, dtype_, device);
    t.copy_from(*this);
    return t;
}

Tensor Tensor::to(DType dtype) const {
    WTCONV_CHECK(defined(), "tensor: to(dtype) of an undefined tensor");
    WTCONV_CHECK_CODE(device_.is_cpu(), ErrorCode::kNotSupported,
                      "tensor: to(dtype) needs a cpu tensor, got one on ", device_);
    Tensor t = empty(shape_, dtype, device_);
    const void* src = raw_data();
    void* dst = t.raw_data();
    if (dtype == dtype_) {
        std::memcpy(dst, src, nbytes());
    } else {
        const std::int64_t n = numel_;
        with_storage_type(dtype_, [&](auto from) {
            with_storage_type(
                dtype, [&](auto to) { convert_host<decltype(to), decltype(from)>(src, dst, n); });
        });
    }
    return t;
}

Tensor Tensor::clone() const {
    return to(device_);
}

Tensor Tensor::reshape(const Shape& shape) const {
    check_shape_valid(shape);
    WTCONV_CHECK(shape.numel() == numel_, "tensor: reshape must keep ", numel_,
                 " elements, got shape ", shape, " for a tensor of shape ", shape_);
    Tensor t = *this;
    t.shape_ = shape;
    return t;
}

void Tensor::copy_from(const Tensor& src) {
    WTCONV_CHECK(defined() && src.defined(), "tensor: copy_from needs two defined tensors");
    WTCONV_CHECK(src.shape_ == shape_, "tensor: copy_from source must have shape ", shape_,
                 ", got ", src.shape_);
    WTCONV_CHECK(src.dtype_ == dtype_, "tensor: copy_from source must be ", dtype_name(dtype_),
                 ", got ", dtype_name(src.dtype_));
    detail::copy_bytes(raw_data(), device_, src.raw_data(), src.device_, nbytes());
}

void Tensor::fill(double value) {
    WTCONV_CHECK(defined(), "tensor: fill of an undefined tensor");
    with_storage_type(dtype_, [&](auto zero) {
        using T = decltype(zero);
        // Rounded on the host for either device, so a CUDA fill writes the bits a host fill does.
        const T v = round_to<T>(value);
        switch (device_.type) {
            case DeviceType::kCpu: {
                T* p = static_cast<T*>(raw_data());
                for (std::int64_t i = 0; i < numel_; ++i) {
                    p[i] = v;
                }
                break;
            }
            case DeviceType::kCuda:
                cuda::fill_pattern(device_.index, raw_data(), static_cast<std::size_t>(numel_),
                                   sizeof(T), &v);
                break;
        }
    });
}

void Tensor::combine_(const Tensor& other, int op, const char* what) {
    WTCONV_CHECK(defined(), "tensor: ", what, " to an undefined tensor");
    WTCONV_CHECK(other.defined(), "tensor: ", what, " other must be a tensor of shape ", shape_,
                 ", got an undefined tensor");
    WTCONV_CHECK(other.shape_ == shape_, "tensor: ", what, " other must have shape ", shape_,
                 ", got ", other.shape_);
    WTCONV_CHECK(other.dtype_ == dtype_, "tensor: ", what, " other must be ", dtype_name(dtype_),
                 ", got ", dtype_name(other.dtype_));
    WTCONV_CHECK(other.device_ == device_, "tensor: ", what, " other must be on ", device_,
                 ", got ", other.device_);
    const auto combine = static_cast<cuda::Combine>(op);
    switch (device_.type) {
        case DeviceType::kCpu:
            with_storage_type(dtype_, [&](auto zero) {
                combine_host<decltype(zero)>(raw_data(), other.raw_data(), numel_, combine);
            });
            break;
        case DeviceType::kCuda:
            cuda::combine_inplace(device_.index, raw_data(), other.raw_data(),
                                  static_cast<std::size_t>(numel_), dtype_, combine);
            break;
    }
}

void Tensor::add_(const Tensor& other) {
    combine_(other, static_cast<int>(cuda::Combine::kAdd), "add_");
}

void Tensor::mul_(const Tensor& other) {
    combine_(other, static_cast<int>(cuda::Combine::kMultiply), "mul_");
}

std::vector<double> Tensor::to_vector() const {
    WTCONV_CHECK(defined(), "tensor: to_vector of an undefined tensor");
    WTCONV_CHECK_CODE(device_.is_cpu(), ErrorCode::kNotSupported,
                      "tensor: to_vector needs a cpu tensor, got one on ", device_);
    std::vector<double> out(static_cast<std::size_t>(numel_));
    with_storage_type(dtype_, [&](auto zero) {
        using T = decltype(zero);
        const T* p = static_cast<const T*>(raw_data());
        for (std::int64_t i = 0; i < numel_; ++i) {
            out[static_cast<std::size_t>(i)] = static_cast<double>(widen(p[i]));
        }
    });
    return out;
}

void check_device(const char* op, const char* name, const Tensor& t, Device device) {
    WTCONV_CHECK(t.device() == device, op, ": ", name, " must be on ", device, ", got ",
                 t.device());
}

void check_dtype(const char* op, const char* name, const Tensor& t, DType dtype) {
    WTCONV_CHECK(t.dtype() == dtype, op, ": ", name, " must be ", dtype_name(dtype), ", got ",
                 dtype_name(t.dtype()));
}

void check_shape(const char* op, const char* name, const Tensor& t, const Shape& shape) {
    WTCONV_CHECK(t.defined(), op, ": ", name, " must be a tensor of shape ", shape,
                 ", got an undefined tensor");
    WTCONV_CHECK(t.shape() == shape, op, ": ", name, " must have shape ", shape, ", got ",
                 t.shape());
}

}  // namespace wtconv
