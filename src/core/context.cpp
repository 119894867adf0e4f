// Context and the per-thread default contexts: the one piece of implicit state in the library.
#include <map>
#include <utility>

#include <omp.h>

#include <wtconv/context.h>

namespace wtconv {

Context::Context(Device device, ContextOptions options) : device_(device), options_(options) {}

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
