#pragma once
// What every CPU benchmark reports the same way: the machine's measured limits, and a timed loop
// that sets the floor counters from its own wall time per iteration (timed_seconds alone for the
// benchmarks whose rows have no floor).
#include <algorithm>
#include <chrono>

#include <benchmark/benchmark.h>

namespace wtconv::bench {

struct Machine {
    double peak_gflops = 0;  // float32 FMA peak over the benchmark's threads
    double copy_gbs = 0;     // DRAM copy bandwidth over the same threads
};

// A problem's work: FLOPs and the bytes of the memory floor.
struct Work {
    double flops = 0;
    double bytes = 0;
};

// Runs step() as the timed loop; returns its wall time per iteration, the same span UseRealTime
// reports.
template <class Step>
double timed_seconds(benchmark::State& state, Step&& step) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    for (auto _ : state) {
        step();
    }
    return std::chrono::duration<double>(Clock::now() - start).count() /
           static_cast<double>(std::max<benchmark::IterationCount>(1, state.iterations()));
}

// Runs step() as the timed loop, then sets the counters from the loop's own wall time per
// iteration. Plain values rather than the library's rate counters, which the console would print
// as "14/s". The floors belong to the problem, so the comparator rows carry the same ones as ours.
template <class Step>
void timed_loop(benchmark::State& state, const Work& work, const Machine& m, Step&& step) {
    const double seconds = timed_seconds(state, step);
    const double floor_s = work.flops * 1e-9 / m.peak_gflops;
    state.counters["GFLOP/s"] = work.flops * 1e-9 / seconds;
    state.counters["frac_of_peak"] = floor_s / seconds;  // = achieved / peak
    state.counters["floor_ms"] = floor_s * 1e3;
    state.counters["x_floor"] = seconds / floor_s;
    state.counters["mem_floor_ms"] = work.bytes / (m.copy_gbs * 1e9) * 1e3;
}

}  // namespace wtconv::bench
