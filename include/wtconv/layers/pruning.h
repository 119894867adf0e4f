#pragma once
// Pruning a network's layers (COMPRESSION.md 2): one-shot magnitude pruning, the iterative
// schedule that holds a sparsity for several epochs before raising it, keeping pruned weights at
// zero through training, and the per-layer sparsity report. The mask math is in ops/prune.h.
#include <cstdint>
#include <string>
#include <vector>

#include <wtconv/layer.h>

namespace wtconv {

// A layer of a network under the name a report shows (e.g. "layer1.0.conv1").
struct NamedLayer {
    std::string name;
    Layer* layer;
};

// The layers pruning visits: every Prunable one (dynamic_cast), in order.
std::vector<std::pair<std::string, Prunable*>> prunable_layers(const std::vector<NamedLayer>& net);

// One-shot magnitude pruning at a target sparsity in [0, 1). Unstructured: per layer, the k =
// floor(numel s) smallest |w| go (ties at the threshold go too). Structured: per layer, the
// floor(O s) output channels (or Linear output features) with the smallest L2 norm go.
class MagnitudePruner {
public:
    explicit MagnitudePruner(double sparsity, bool structured = false);
    // A fresh mask from every prunable layer's current weights, set on the layer (which zeroes
    // the pruned weights).
    void apply(const std::vector<NamedLayer>& net) const;
    double sparsity() const { return sparsity_; }
    bool structured() const { return structured_; }

private:
    double sparsity_;
    bool structured_;
};

// Iterative pruning: prune_step(net, epoch) at the start of every epoch re-prunes from scratch on
// epochs that are multiples of epochs_per_iteration, at the sparsity of COMPRESSION.md 2.5 (the
// seed's schedule bit for bit). Throws when (num_iterations + 1) / epochs_per_iteration - 1 <= 0.
class IterativePruner {
public:
    IterativePruner(double initial_sparsity = 0.0,
                    double final_sparsity = 0.9,
                    int num_iterations = 14,
                    int epochs_per_iteration = 3,
                    bool structured = false);
    // The sparsity in force during epoch (>= 0).
    double sparsity_at(int epoch) const;
    // True when this epoch re-pruned.
    bool prune_step(const std::vector<NamedLayer>& net, int epoch) const;

private:
    double initial_, final_;
    int iterations_, epochs_per_iteration_;
    bool structured_;
};

// After every optimiser step: pruned weights back to exactly 0.
void apply_masks(const std::vector<NamedLayer>& net);
// Bakes the masks in (the weights keep their zeros) and drops them.
void remove_pruning(const std::vector<NamedLayer>& net);

struct LayerSparsity {
    std::string name;  // the layer's, or "global" for the last entry
    std::int64_t zeros = 0, numel = 0;
    double sparsity = 0;  // zeros / numel
};
// Exact zeros of every prunable layer's weight (pruned or not), then a "global" entry over all.
std::vector<LayerSparsity> sparsity_report(const std::vector<NamedLayer>& net);

}  // namespace wtconv
