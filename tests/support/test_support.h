#pragma once
// Helpers every test shares: the golden folder, random tensors, conversion to the double
// reference's arrays, relative L2 error, NaN masks and raw bytes, and whether a GPU is here.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <wtconv/tensor.h>

#include "reference/wtconv_ref.h"

namespace wtconv::test {

// $WTCONV_GOLDEN_DIR, or the project's tests/golden.
std::string golden_dir();
// The filter bank of a wavelet read from golden_dir()/wavelets.json, not from the library's table,
// so that the reference and the library share no data path.
ref::FilterBank reference_filter_bank(const std::string& wavelet);

// Seeded source of test data.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : engine_(seed) {}
    double normal() { return normal_(engine_); }
    int uniform_int(int lo, int hi) {  // inclusive
        return std::uniform_int_distribution<int>(lo, hi)(engine_);
    }
    std::uint64_t next() { return engine_(); }

private:
    std::mt19937_64 engine_;
    std::normal_distribution<double> normal_{0.0, 1.0};
};

// N(0, 1) values, never all zero.
Tensor random_normal(Rng& rng, const Shape& shape, DType dtype, Device device = Device::cpu());

// Any tensor (host or device, any floating dtype) as the reference's double array.
ref::Array to_ref(const Tensor& t);
Tensor from_ref(const ref::Array& a, DType dtype, Device device = Device::cpu());

// ||got - want|| / ||want||; ||got|| when want is all zeros. Sizes must match.
double rel_l2_error(const std::vector<double>& got, const std::vector<double>& want);
double rel_l2_error(const Tensor& got, const ref::Array& want);

// Which elements are NaN, and the tensor's bytes as stored (any device): what the NaN-propagation
// and bitwise-determinism tests compare.
std::vector<bool> nan_mask(const Tensor& t);
std::string host_bytes(const Tensor& t);

bool cuda_present();

// $WTCONV_TEST_RANDOM_CASES when set (the sanitizer build runs fewer), else count.
int random_case_count(int count);

// Expects fn to throw wtconv::Error with this category and a message containing words.
void expect_error(const std::function<void()>& fn, ErrorCode code, const std::string& words);
// The same, with a message that must contain every one of words (in any order).
void expect_error_all(const std::function<void()>& fn,
                      ErrorCode code,
                      const std::vector<std::string>& words);

}  // namespace wtconv::test
