#pragma once
// A console reporter that prints the usual table, then one summary line per problem: each
// implementation's time and floor counters beside the comparator's time and the ratio of the two.
// Benchmark names read <family>/<impl>/<problem> (wtconv2d_fwd/cpu_planewise/N16_C64_64x64_K5_L1).
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace wtconv::bench {

class ComparatorReporter : public benchmark::ConsoleReporter {
public:
    // comparator: the <impl> part of the comparator's names, e.g. "reference".
    explicit ComparatorReporter(std::string comparator);

    void ReportRuns(const std::vector<Run>& runs) override;
    void Finalize() override;

private:
    // One implementation's result: the median when repetitions were aggregated, else the fastest.
    struct Result {
        double seconds = 0;
        bool median = false;
        benchmark::UserCounters counters;
    };
    struct Problem {
        std::string family, problem;
        std::map<std::string, Result> by_impl;
        std::vector<std::string> impl_order;  // as registered, for a stable summary
    };

    Problem& problem_of(const std::string& family, const std::string& problem);

    std::string comparator_;
    std::vector<Problem> problems_;  // in the order they first ran
};

}  // namespace wtconv::bench
