// Network-level pruning: which layers, masks set from ops/prune.h, the iterative schedule, the
// sparsity report.
#include <wtconv/layers/pruning.h>
#include <wtconv/ops/prune.h>

namespace wtconv {

namespace {

Tensor mask_for(Prunable& layer, double sparsity, bool structured) {
    Tensor& w = layer.prunable_weight();
    // Masks are computed on the host from the weights' values; the layer keeps them on its
    // device.
    const Tensor host = w.device().is_cpu() ? w : w.to(Device::cpu());
    Tensor mask = structured ? structured_mask(host, sparsity, 0) : magnitude_mask(host, sparsity);
    return w.device().is_cpu() ? mask : mask.to(w.device());
}

void check_sparsity(const char* who, double s) {
    WTCONV_CHECK(s >= 0.0 && s < 1.0, who, ": sparsity must be in [0, 1), got ", s);
}

}  // namespace

std::vector<std::pair<std::string, Prunable*>> prunable_layers(const std::vector<NamedLayer>& net) {
    std::vector<std::pair<std::string, Prunable*>> out;
    for (const NamedLayer& l : net) {
        WTCONV_CHECK(l.layer != nullptr, "prune: layer \"", l.name, "\" must not be null");
        if (auto* p = dynamic_cast<Prunable*>(l.layer)) {
            out.emplace_back(l.name, p);
        }
    }
    return out;
}

MagnitudePruner::MagnitudePruner(double sparsity, bool structured)
    : sparsity_(sparsity), structured_(structured) {
    check_sparsity("MagnitudePruner", sparsity);
}

void MagnitudePruner::apply(const std::vector<NamedLayer>& net) const {
    // Every mask is computed before any is set, so a failure leaves the network as it was.
    const auto layers = prunable_layers(net);
    std::vector<Tensor> masks;
    for (const auto& [name, layer] : layers) {
        masks.push_back(mask_for(*layer, sparsity_, structured_));
    }
    for (std::size_t i = 0; i < layers.size(); ++i) {
        layers[i].second->set_mask(masks[i]);
    }
}

IterativePruner::IterativePruner(double initial_sparsity,
                                 double final_sparsity,
                                 int num_iterations,
                                 int epochs_per_iteration,
                                 bool structured)
    : initial_(initial_sparsity),
      final_(final_sparsity),
      iterations_(num_iterations),
      epochs_per_iteration_(epochs_per_iteration),
      structured_(structured) {
    check_sparsity("IterativePruner", initial_sparsity);
    check_sparsity("IterativePruner", final_sparsity);
    sparsity_at(0);  // validates the schedule's parameters (throws as iterative_sparsity does)
}

double IterativePruner::sparsity_at(int epoch) const {
    IterativeScheduleOptions o;
    o.initial_sparsity = initial_;
    o.final_sparsity = final_;
    o.num_iterations = iterations_;
    o.epochs_per_iteration = epochs_per_iteration_;
    return iterative_sparsity(o, epoch);
}

bool IterativePruner::prune_step(const std::vector<NamedLayer>& net, int epoch) const {
    WTCONV_CHECK(epoch >= 0, "IterativePruner: epoch must be >= 0, got ", epoch);
    if (epoch % epochs_per_iteration_ != 0) {
        return false;
    }
    MagnitudePruner(sparsity_at(epoch), structured_).apply(net);
    return true;
}

void apply_masks(const std::vector<NamedLayer>& net) {
    for (const auto& entry : prunable_layers(net)) {
        entry.second->apply_mask();
    }
}

void remove_pruning(const std::vector<NamedLayer>& net) {
    for (const auto& entry : prunable_layers(net)) {
        entry.second->apply_mask();
        entry.second->set_mask(Tensor());
    }
}

std::vector<LayerSparsity> sparsity_report(const std::vector<NamedLayer>& net) {
    std::vector<LayerSparsity> out;
    LayerSparsity global{"global"};
    for (const auto& [name, layer] : prunable_layers(net)) {
        const Tensor& w = layer->prunable_weight();
        const Tensor host = w.device().is_cpu() ? w : w.to(Device::cpu());
        LayerSparsity s{name};
        s.numel = host.numel();
        for (const double v : host.to_vector()) {
            s.zeros += v == 0.0;
        }
        s.sparsity = s.numel > 0 ? static_cast<double>(s.zeros) / s.numel : 0.0;
        global.zeros += s.zeros;
        global.numel += s.numel;
        out.push_back(s);
    }
    global.sparsity = global.numel > 0 ? static_cast<double>(global.zeros) / global.numel : 0.0;
    out.push_back(global);
    return out;
}

}  // namespace wtconv
