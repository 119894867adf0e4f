#pragma once
// The short table the CUDA benchmark prints after all rows have run: per configuration the median
// ms of every implementation, forward and forward+backward, our fused algorithm's speed-up over
// the comparator and over the fast public implementation (the targets), and x_floor.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cuda/gpu_work.h"

namespace wtconv::bench {

class GpuSummary {
public:
    // pass: "fwd" or "fwdbwd"; impl: "fused", "direct", "cudnn", "fused_bf16".
    void record(const std::string& problem,
                const std::string& pass,
                const std::string& impl,
                double ms,
                double x_floor);
    // NaN when the row has not run or failed.
    double ms(const std::string& problem, const std::string& pass, const std::string& impl) const;
    void print(std::FILE* out) const;

private:
    struct Row {
        double ms;
        double x_floor;
    };
    std::map<std::string, Row> rows_;  // key: problem/pass/impl
};

}  // namespace wtconv::bench
