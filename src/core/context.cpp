// Context and the per-thread default contexts: the one piece of implicit state in the library.
#include <cstdlib>
#include <map>
#include <utility>

#include <omp.h>

#include <wtconv/context.h>
#include <wtconv/error.h>

namespace wtconv {

namespace detail {

// One aligned block that only grows; freed with the context.
class HostWorkspace {
public:
    ~HostWorkspace() { std::free(data_); }
    void* get(std::size_t bytes) {
        if (bytes > bytes_) {
            // 64 bytes: one AVX-512 packet and one cache line; aligned_alloc wants a multiple.
            const std::size_t rounded = (bytes + 63) / 64 * 64;
            void* fresh = std::aligned_alloc(64, rounded);
            if (fresh == nullptr) {
                throw Error(ErrorCode::kOutOfMemory,
                            concat("context: host workspace of ", rounded, " bytes failed"));
            }
            std::free(data_);
            data_ = fresh;
            bytes_ = rounded;
        }
        return data_;
    }
    std::size_t bytes() const { return bytes_; }

private:
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace detail

Context::Context(Device device, ContextOptions options) : device_(device), options_(options) {}
Context::Context(const Context& other) : device_(other.device_), options_(other.options_) {}
Context& Context::operator=(const Context& other) {
    device_ = other.device_;
    options_ = other.options_;
    return *this;
}
Context::Context(Context&& other) noexcept = default;
Context& Context::operator=(Context&& other) noexcept = default;
Context::~Context() = default;

void* Context::host_workspace(std::size_t bytes) {
    if (!workspace_) {
        workspace_ = std::make_unique<detail::HostWorkspace>();
    }
    return workspace_->get(bytes);
}

std::size_t Context::host_workspace_bytes() const {
    return workspace_ ? workspace_->bytes() : 0;
}

int Context::num_threads() const {
    return options_.num_threads > 0 ? options_.num_threads : omp_get_max_threads();
}

Context& default_context(Device device) {
    // One per thread and device, so concurrent callers never share a context's settings.
    thread_local std::map<std::pair<int, int>, Context> contexts;
    const std::pair<int, int> key{static_cast<int>(device.type), device.index};
    auto it = contexts.find(key);
    if (it == contexts.end()) {
        it = contexts.emplace(key, Context(device)).first;
    }
    return it->second;
}

}  // namespace wtconv
