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

// A layer whose weight pruning may mask (nn::Conv2d; Linear layers later). With a mask set, the
// layer multiplies its weight gradient by the mask in backward, so optimiser state of pruned
// entries stays zero; after each optimiser step apply_mask() sets pruned weights back to exactly 0.
class Prunable {
public:
    virtual ~Prunable() = default;
    virtual Tensor& prunable_weight() = 0;
    // True for convolutions (structured pruning ranks their output channels).
    virtual bool is_convolution() const = 0;

    // mask: 0/1 values shaped and typed like the weight, on its device; the weight is multiplied by
    // it at once. An undefined mask removes pruning (the weight keeps its zeros).
    void set_mask(const Tensor& mask);
    const Tensor& mask() const { return mask_; }
    bool pruned() const { return mask_.defined(); }
    void apply_mask();  // weight *= mask; nothing without a mask

protected:
    void mask_gradient(Tensor& dweight) const;  // dweight *= mask; nothing without a mask

private:
    Tensor mask_;
};

// Options every layer constructor takes last: storage type, device, and the seed of its
// initialisation (the same seed gives the same parameters).
struct LayerOptions {
    DType dtype = DType::kFloat32;
    Device device = Device::cpu();
    unsigned long long seed = 0;
};

}  // namespace wtconv
