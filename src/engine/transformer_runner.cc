#include "engine/transformer_runner.h"

namespace parley {

TransformerRunner::TransformerRunner(const Model& model, int32_t threads, ActivationMode mode)
    : model_(model), pool_(threads), transformer_(model.config(), model.weights(), &pool_, mode) {}

std::vector<int32_t> TransformerRunner::LayerWindows() const {
  std::vector<int32_t> windows;
  for (const LayerConfig& l : model_.config().layers) windows.push_back(l.window);
  return windows;
}

std::vector<int32_t> TransformerRunner::KvOwners() const {
  std::vector<int32_t> owners = model_.config().kv_owners;
  if (owners.empty()) {
    for (int32_t l = 0; l < model_.config().num_layers; ++l) owners.push_back(l);
  }
  return owners;
}

}  // namespace parley
