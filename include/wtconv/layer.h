#pragma once
// Layer: a module that owns parameters and their gradients. forward(x) keeps what backward needs;
// backward(dy) returns dx and ADDS the parameter gradients to grad (zero_grad clears them).
#include <string>
#include <vector>

#include <wtconv/tensor.h>

namespace wtconv {

// One trainable parameter, under the name the reference PyTorch module's state_dict uses.
struct NamedParameter {
    std::string name;
    Tensor* value;
    Tensor* grad;
};

class Layer {
public:
    virtual ~Layer() = default;
    virtual Tensor forward(const Tensor& x) = 0;
    virtual Tensor backward(const Tensor& dy) = 0;
    virtual std::vector<NamedParameter> named_parameters() = 0;
    void zero_grad();
};

// Options every layer constructor takes last: storage type, device, and the seed of its
// initialisation (the same seed gives the same parameters).
struct LayerOptions {
    DType dtype = DType::kFloat32;
    Device device = Device::cpu();
    unsigned long long seed = 0;
};

}  // namespace wtconv
