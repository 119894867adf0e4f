// Shared test helpers (see test_support.h).
#include "support/test_support.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace wtconv::test {

std::string golden_dir() {
    const char* env = std::getenv("WTCONV_GOLDEN_DIR");
    return env != nullptr && *env != '\0' ? std::string(env)
                                          : std::string(WTCONV_DEFAULT_GOLDEN_DIR);
}

ref::FilterBank reference_filter_bank(const std::string& wavelet) {
    static std::mutex mutex;
    static std::map<std::string, ref::FilterBank> cache;  // parsing 330 kB once is enough
    const std::lock_guard<std::mutex> lock(mutex);
    if (cache.empty()) {
        std::ifstream in(golden_dir() + "/wavelets.json");
        WTCONV_CHECK_CODE(in.good(), ErrorCode::kIo, "test: cannot open ", golden_dir(),
                          "/wavelets.json");
        const nlohmann::json j = nlohmann::json::parse(in);
        for (const auto& [name, bank] : j.items()) {
            cache[name] = ref::FilterBank{bank.at("dec_lo").get<std::vector<double>>(),
                                          bank.at("dec_hi").get<std::vector<double>>(),
                                          bank.at("rec_lo").get<std::vector<double>>(),
                                          bank.at("rec_hi").get<std::vector<double>>()};
        }
    }
    const auto it = cache.find(wavelet);
    WTCONV_CHECK(it != cache.end(), "test: wavelets.json has no wavelet \"", wavelet, "\"");
    return it->second;
}

Tensor random_normal(Rng& rng, const Shape& shape, DType dtype, Device device) {
    std::vector<double> v(static_cast<std::size_t>(shape.numel()));
    for (double& e : v) {
        e = rng.normal();
    }
    const Tensor host = Tensor::from_vector(v, shape).to(dtype);
    return device.is_cpu() ? host : host.to(device);
}

ref::Array to_ref(const Tensor& t) {
    Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
    if (host.dtype() == DType::kFloat16 || host.dtype() == DType::kBFloat16) {
        host = host.to(DType::kFloat64);  // exact: every 16-bit value is a double
    }
    ref::Array a;
    a.shape = host.shape().sizes();
    a.data = host.to_vector();
    return a;
}

Tensor from_ref(const ref::Array& a, DType dtype, Device device) {
    const Tensor host = Tensor::from_vector(a.data, Shape(a.shape)).to(dtype);
    return device.is_cpu() ? host : host.to(device);
}

double rel_l2_error(const std::vector<double>& got, const std::vector<double>& want) {
    WTCONV_CHECK(got.size() == want.size(), "rel_l2_error: sizes differ: ", got.size(), " vs ",
                 want.size());
    double diff = 0.0;
    double norm = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        diff += (got[i] - want[i]) * (got[i] - want[i]);
        norm += want[i] * want[i];
    }
    // A NaN anywhere (an unwritten, poisoned element) makes the error NaN, and NaN < tol fails.
    return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

double rel_l2_error(const Tensor& got, const ref::Array& want) {
    WTCONV_CHECK(got.shape().sizes() == want.shape, "rel_l2_error: shape ", got.shape(),
                 " differs from the reference's");
    return rel_l2_error(to_ref(got).data, want.data);
}

std::vector<bool> nan_mask(const Tensor& t) {
    const std::vector<double> v = to_ref(t).data;
    std::vector<bool> mask(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        mask[i] = std::isnan(v[i]);
    }
    return mask;
}

std::string host_bytes(const Tensor& t) {
    if (!t.defined()) {
        return std::string();
    }
    const Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
    return std::string(static_cast<const char*>(host.raw_data()), host.nbytes());
}

void expect_error(const std::function<void()>& fn, ErrorCode code, const std::string& words) {
    expect_error_all(fn, code, {words});
}

void expect_error_all(const std::function<void()>& fn,
                      ErrorCode code,
                      const std::vector<std::string>& words) {
    try {
        fn();
        ADD_FAILURE() << "expected Error(" << error_code_name(code) << ") mentioning \""
                      << (words.empty() ? std::string() : words.front())
                      << "\", nothing was thrown";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        for (const std::string& w : words) {
            EXPECT_NE(std::string(e.what()).find(w), std::string::npos)
                << "message \"" << e.what() << "\" lacks \"" << w << "\"";
        }
    }
}

bool cuda_present() {
    return cuda_device_count() > 0;
}

int random_case_count(int count) {
    const char* env = std::getenv("WTCONV_TEST_RANDOM_CASES");
    return env != nullptr && *env != '\0' ? std::atoi(env) : count;
}

}  // namespace wtconv::test
