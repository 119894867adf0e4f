// Golden cases of prune: not implemented yet (issue 5), reported as skipped by name.
#include "golden_ops/golden_support.h"

namespace wtconv::test {

bool register_golden_prune(const std::string& /*op*/, const std::vector<std::string>& /*paths*/) {
    return false;
}

}  // namespace wtconv::test
