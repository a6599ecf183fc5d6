// Fuzzes the GGUF reader and everything that reads a GGUF file: open the bytes as a file,
// walk the metadata and tensor infos, then load a model and a tokenizer from it. Errors
// are expected; crashes, sanitizer reports and hangs are bugs.
#include <cstddef>
#include <cstdint>

#include "fuzz_file.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = parley::fuzz::WriteScratchFile("gguf", data, size);
  auto file = parley::GgufFile::Open(path);
  if (!file.ok()) return 0;
  const parley::GgufFile& gguf = **file;
  size_t sink = 0;
  for (const auto& [key, value] : gguf.metadata()) {
    sink += key.size();
    // The typed getters must refuse a wrong type with an error, never misread it.
    (void)gguf.GetInt(key);
    (void)gguf.GetFloat(key);
    (void)gguf.GetBool(key);
    (void)gguf.GetString(key);
    sink += gguf.Find(key) != nullptr;
  }
  for (const parley::GgufTensorInfo& t : gguf.tensors()) {
    sink += t.name.size() + t.ne.size();
    if (gguf.FindTensor(t.name) == nullptr) __builtin_trap();
    // Open validated the tensor against the file: its bytes must be readable.
    if (t.size_bytes > 0 && t.data != nullptr) {
      sink += t.data[0] + t.data[t.size_bytes - 1];
    }
  }
  (void)sink;
  auto tokenizer = parley::Tokenizer::FromGguf(gguf);
  if (tokenizer.ok()) {
    const auto ids = (*tokenizer)->Encode("Hello, world! <bos> héllo", true, true);
    (void)(*tokenizer)->Decode(ids, true);
  }
  (void)parley::Model::Load(path);
  return 0;
}
