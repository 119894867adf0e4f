// ComparatorReporter: the summary that STYLE.md asks every benchmark to end with.
#include "support/comparator_report.h"

#include <cstdio>
#include <ostream>
#include <unistd.h>
#include <utility>

namespace wtconv::bench {

namespace {

// Google Benchmark 1.7 (Debian 12) marks a failed run with error_occurred; 1.8 (the GPU machine)
// replaced it with skipped. Either spelling compiles.
template <class R>
auto run_failed_impl(const R& run, int) -> decltype(static_cast<bool>(run.error_occurred)) {
    return run.error_occurred;
}
template <class R>
bool run_failed_impl(const R& run, long) {
    return static_cast<bool>(run.skipped);
}
template <class R>
bool run_failed(const R& run) {
    return run_failed_impl(run, 0);
}

// Colour only on a terminal, as the library's own default reporter does; counters as columns,
// because every row carries the same floor counters.
benchmark::ConsoleReporter::OutputOptions console_options() {
    return isatty(fileno(stdout)) != 0 ? benchmark::ConsoleReporter::OO_ColorTabular
                                       : benchmark::ConsoleReporter::OO_Tabular;
}

double counter_or(const benchmark::UserCounters& counters, const char* name, double fallback) {
    const auto it = counters.find(name);
    return it == counters.end() ? fallback : it->second.value;
}

}  // namespace

ComparatorReporter::ComparatorReporter(std::string comparator)
    : benchmark::ConsoleReporter(console_options()), comparator_(std::move(comparator)) {}

ComparatorReporter::Problem& ComparatorReporter::problem_of(const std::string& family,
                                                            const std::string& problem) {
    for (Problem& p : problems_) {
        if (p.family == family && p.problem == problem) {
            return p;
        }
    }
    problems_.push_back(Problem{family, problem, {}, {}});
    return problems_.back();
}

void ComparatorReporter::ReportRuns(const std::vector<Run>& runs) {
    benchmark::ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
        const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
        if (run_failed(run) || (run.run_type == Run::RT_Aggregate && !median)) {
            continue;
        }
        // function_name is the registered name, without the /real_time and /iterations suffixes.
        const std::string& name = run.run_name.function_name;
        const std::size_t first = name.find('/');
        const std::size_t second = first == std::string::npos ? first : name.find('/', first + 1);
        if (second == std::string::npos) {
            continue;  // not <family>/<impl>/<problem>: nothing to compare it with
        }
        Problem& p = problem_of(name.substr(0, first), name.substr(second + 1));
        const std::string impl = name.substr(first + 1, second - first - 1);
        const double seconds =
            run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
        const auto found = p.by_impl.find(impl);
        if (found == p.by_impl.end()) {
            p.impl_order.push_back(impl);
            p.by_impl[impl] = Result{seconds, median, run.counters};
        } else if (median || (!found->second.median && seconds < found->second.seconds)) {
            found->second = Result{seconds, median, run.counters};
        }
    }
}

void ComparatorReporter::Finalize() {
    std::ostream& out = GetOutputStream();
    char line[512];
    std::snprintf(line, sizeof(line), "\n%-16s %-22s %-16s %10s %9s %12s %8s %12s %10s %9s\n",
                  "summary", "problem", "impl", "time_ms", "GFLOP/s", "frac_of_peak", "x_floor",
                  (comparator_ + "_ms").c_str(), "ratio", "rel_l2");
    out << line;
    for (const Problem& p : problems_) {
        const auto comp = p.by_impl.find(comparator_);
        for (const std::string& impl : p.impl_order) {
            if (impl == comparator_) {
                continue;
            }
            const Result& r = p.by_impl.at(impl);
            // ratio: how many times faster than the comparator; rel_l2: the comparator's check of
            // this implementation's output on the same inputs.
            const double comp_ms = comp == p.by_impl.end() ? 0 : comp->second.seconds * 1e3;
            const double ratio = comp_ms > 0 ? comp_ms / (r.seconds * 1e3) : 0;
            const double rel_l2 =
                comp == p.by_impl.end() ? -1 : counter_or(comp->second.counters, "rel_l2_err", -1);
            std::snprintf(line, sizeof(line),
                          "%-16s %-22s %-16s %10.3f %9.1f %12.4f %8.2f %12.1f %9.1fx %9.2e\n",
                          p.family.c_str(), p.problem.c_str(), impl.c_str(), r.seconds * 1e3,
                          counter_or(r.counters, "GFLOP/s", 0),
                          counter_or(r.counters, "frac_of_peak", 0),
                          counter_or(r.counters, "x_floor", 0), comp_ms, ratio, rel_l2);
            out << line;
        }
    }
    out.flush();
    benchmark::ConsoleReporter::Finalize();
}

}  // namespace wtconv::bench
