// wtconv1d on every backend against the double reference: edge shapes, then at least 200 seeded
// random configurations; NaN poisoning and propagation; bitwise determinism.
#include <cmath>

#include <gtest/gtest.h>

#include <wtconv/ops/wtconv1d.h>

#include "support/wtconv_check.h"

namespace wtconv::test {
namespace {

Context poisoned_cpu_context() {
    ContextOptions o;
    o.poison_outputs = true;  // every output starts as NaN, so an unwritten element fails
    return Context(Device::cpu(), o);
}

class WTConv1dVsReference : public testing::TestWithParam<WTConvCase> {};

TEST_P(WTConv1dVsReference, CpuMatchesForwardAndEveryGradient) {
    Context ctx = poisoned_cpu_context();
    expect_matches_reference(ctx, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Edge,
                         WTConv1dVsReference,
                         testing::ValuesIn(wtconv_edge_cases(1)),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Random,
                         WTConv1dVsReference,
                         testing::ValuesIn(wtconv_random_cases(1, 220)),
                         param_name);

}  // namespace
}  // namespace wtconv::test
