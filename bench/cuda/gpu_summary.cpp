// The CUDA benchmark's closing table (see gpu_summary.h).
#include "cuda/gpu_summary.h"

#include <cmath>
#include <limits>

namespace wtconv::bench {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string key(const std::string& problem, const std::string& pass, const std::string& impl) {
    return problem + "/" + pass + "/" + impl;
}

// A value in a fixed-width column, "-" when it is missing.
std::string cell(double v, const char* format) {
    if (std::isnan(v)) {
        return "-";
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}

}  // namespace

void GpuSummary::record(const std::string& problem,
                        const std::string& pass,
                        const std::string& impl,
                        double ms,
                        double x_floor) {
    rows_[key(problem, pass, impl)] = Row{ms, x_floor};
}

double GpuSummary::ms(const std::string& problem,
                      const std::string& pass,
                      const std::string& impl) const {
    const auto it = rows_.find(key(problem, pass, impl));
    return it == rows_.end() ? kNaN : it->second.ms;
}

void GpuSummary::print(std::FILE* out) const {
    const char* impls[] = {"fused", "direct", "cudnn", "fused_bf16"};
    const char* passes[] = {"fwd", "fwdbwd"};
    std::fprintf(out,
                 "\nwtconv2d CUDA summary: median ms; speed-ups are the other time over ours fused "
                 "(float32); targets vs fast: >= %.0fx fwd, >= %.0fx f+b\n",
                 kTargetSpeedupForward, kTargetSpeedupForwardBackward);
    std::fprintf(out, "%-22s | %-31s | %-31s | %-13s | %-13s | %-11s\n", "", "forward ms",
                 "forward+backward ms", "vs cudnn", "vs fast", "x_floor");
    std::fprintf(out, "%-22s | %7s %7s %7s %7s | %7s %7s %7s %7s | %6s %6s | %6s %6s | %5s %5s\n",
                 "config", "fused", "direct", "cudnn", "bf16", "fused", "direct", "cudnn", "bf16",
                 "fwd", "f+b", "fwd", "f+b", "fwd", "f+b");
    for (const GpuProblem& p : kGpuProblems) {
        const std::string name = gpu_problem_name(p);
        std::string line;
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%-22s |", name.c_str());
        line += buf;
        for (const char* pass : passes) {
            for (const char* impl : impls) {
                std::snprintf(buf, sizeof(buf), " %7s", cell(ms(name, pass, impl), "%.3f").c_str());
                line += buf;
            }
            line += " |";
        }
        const double fused_fwd = ms(name, "fwd", "fused");
        const double fused_fb = ms(name, "fwdbwd", "fused");
        const double vs[] = {ms(name, "fwd", "cudnn") / fused_fwd,
                             ms(name, "fwdbwd", "cudnn") / fused_fb, p.fast_fwd_ms / fused_fwd,
                             p.fast_fb_ms / fused_fb};
        for (int i = 0; i < 4; ++i) {
            std::snprintf(buf, sizeof(buf), " %6s", cell(vs[i], "%.2fx").c_str());
            line += buf;
            if (i % 2 == 1) {
                line += " |";
            }
        }
        for (const char* pass : passes) {
            const auto it = rows_.find(key(name, pass, "fused"));
            std::snprintf(buf, sizeof(buf), " %5s",
                          cell(it == rows_.end() ? kNaN : it->second.x_floor, "%.1f").c_str());
            line += buf;
        }
        std::fprintf(out, "%s\n", line.c_str());
    }
    std::fflush(out);
}

}  // namespace wtconv::bench
