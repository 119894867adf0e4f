#pragma once
// Tensor: an owning, contiguous, row-major array of rank 0..6 on one device. Copying a Tensor
// shares its storage (like a shared_ptr); data moves between devices or dtypes only through the
// explicit to(), clone() and copy_from() calls.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <wtconv/device.h>
#include <wtconv/dtype.h>
#include <wtconv/error.h>
#include <wtconv/shape.h>

namespace wtconv {

namespace detail {
struct Storage;  // bytes on one device, freed when the last Tensor sharing them goes
}

class Tensor {
public:
    Tensor() = default;  // undefined: defined() is false, numel() is 0

    // Uninitialised memory. Ops that allocate outputs may poison it (Context::poison_outputs).
    static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
    static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu());
    static Tensor full(const Shape& shape,
                       double value,
                       DType dtype,
                       Device device = Device::cpu());
    // A host tensor holding a copy of values; values.size() must equal shape.numel().
    // T: float, double, Half, BFloat16, std::int8_t, std::uint8_t or std::int32_t.
    template <class T>
    static Tensor from_vector(const std::vector<T>& values, const Shape& shape);

    bool defined() const { return storage_ != nullptr; }
    const Shape& shape() const { return shape_; }
    int dim() const { return shape_.rank(); }
    std::int64_t size(int dim) const;  // negative dims count from the end
    std::int64_t numel() const { return numel_; }
    DType dtype() const { return dtype_; }
    Device device() const { return device_; }
    std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }

    // Typed pointer (host or device memory, per device()); throws unless T matches dtype().
    template <class T>
    T* data();
    template <class T>
    const T* data() const;
    void* raw_data();
    const void* raw_data() const;

    // A new tensor with the same values on another device (always copies).
    Tensor to(Device device) const;
    // A new tensor with the values converted to dtype (always copies; host tensors only). Each
    // value is rounded once, to nearest with ties to even; beyond the range of float16 or
    // bfloat16 it becomes +-Inf, and NaN stays NaN.
    Tensor to(DType dtype) const;
    Tensor clone() const;
    // Same storage viewed with another shape of equal numel.
    Tensor reshape(const Shape& shape) const;
    // Copies src's values into this tensor: same shape and dtype, any pair of devices.
    void copy_from(const Tensor& src);
    // Sets every element to value, rounded once to dtype() (host or CUDA). On CUDA it is queued on
    // the legacy default stream (inside an op on a non-blocking stream: that stream) and the call
    // returns before it runs: copies, frees and ops on that stream or on blocking streams see it;
    // work on a cudaStreamNonBlocking stream must be synchronised by the caller first.
    void fill(double value);
    // this += other, element by element: same shape, dtype and device (host or CUDA, queued like
    // fill). float16 and bfloat16 add in float and round once, which equals the exactly rounded
    // sum. other may share this tensor's storage.
    void add_(const Tensor& other);
    // this *= other, element by element, under the same rules as add_ (pruning masks use it).
    void mul_(const Tensor& other);
    // Host tensors only: the values as doubles (exact for every dtype), for tests and printing.
    std::vector<double> to_vector() const;

private:
    void combine_(const Tensor& other, int op, const char* what);

    std::shared_ptr<detail::Storage> storage_;
    Shape shape_;
    std::int64_t numel_ = 0;
    DType dtype_ = DType::kFloat32;
    Device device_;
};

// Throws Error(kBadArgument) "<op>: <name> must be on <device>, got <other>" and friends.
void check_device(const char* op, const char* name, const Tensor& t, Device device);
void check_dtype(const char* op, const char* name, const Tensor& t, DType dtype);
void check_shape(const char* op, const char* name, const Tensor& t, const Shape& shape);

}  // namespace wtconv
