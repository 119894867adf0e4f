// Uses the installed headers and library: a WTConv2d layer, forward and backward, shapes checked.
#include <cstdio>

#include <wtconv/wtconv.h>

int main() {
    wtconv::nn::WTConv2d layer(3, 3, 5, 1, true, 2, "db1");
    const wtconv::Tensor x = wtconv::Tensor::full({2, 3, 9, 7}, 0.5, wtconv::DType::kFloat32);
    const wtconv::Tensor y = layer.forward(x);
    const wtconv::Tensor dx = layer.backward(wtconv::Tensor::full(y.shape(), 1.0, y.dtype()));
    const bool ok = y.shape() == x.shape() && dx.shape() == x.shape();
    std::printf("consumer: y %s, dx %s: %s\n", y.shape().str().c_str(), dx.shape().str().c_str(),
                ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
