#pragma once
// The CPU conv2d comparator: oneDNN's convolution primitives (forward training, backward data,
// backward weights) with the layouts oneDNN picks for itself ("any"), data reordered into them
// once before timing, so only the primitives are timed, as in a network kept in oneDNN layouts.
#include <memory>
#include <string>
#include <vector>

#include "support/conv2d_work.h"

namespace wtconv::bench {

// "2.6.3"
std::string onednn_version();

class OnednnConv2d {
public:
    // x (N, C, H, W), w (O, C, k, k), b (O), dy (N, O, Ho, Wo), all NCHW float32, copied in.
    OnednnConv2d(
        const Conv2dProblem& p, const float* x, const float* w, const float* b, const float* dy);
    ~OnednnConv2d();
    OnednnConv2d(const OnednnConv2d&) = delete;
    OnednnConv2d& operator=(const OnednnConv2d&) = delete;

    void forward();                      // y = conv(x, w) + b, waits for the stream
    void backward();                     // dx, dw and db from dy, waits for the stream
    std::vector<float> y_nchw();         // after forward()
    std::vector<float> dx_nchw();        // after backward()
    std::string implementation() const;  // oneDNN's kernel names, e.g. "brg:avx512_core"

private:
    struct State;
    std::unique_ptr<State> s_;
};

}  // namespace wtconv::bench
