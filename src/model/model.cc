#include "model/model.h"

namespace parley {

StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadProgress& progress) {
  std::unique_ptr<Model> m(new Model());
  PARLEY_ASSIGN_OR_RETURN(m->gguf_, GgufFile::Open(path));
  auto config = ReadModelConfig(*m->gguf_);
  if (!config.ok()) return config.status().WithContext(path);
  m->config_ = std::move(config).value();
  auto weights = LoadWeights(*m->gguf_, m->config_);
  if (!weights.ok()) return weights.status().WithContext(path);
  m->weights_ = std::move(weights).value();
  if (progress) PrefaultWeights(*m->gguf_, progress);
  return m;
}

}  // namespace parley
