// write_tiny_model OUT.gguf [llama|gemma3] [LAYERS HIDDEN]: writes a tiny random model (a
// working tokenizer and chat template, random weights) for tests that start the parley
// binary, e.g. the HTTP end-to-end tests in tests/e2e/. gemma3 gets sliding-window layers
// so the KV cache has two groups; a larger LAYERS/HIDDEN makes a slower model, for tests
// that need a request to still be running a moment later.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gguf/testing/tiny_model.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3 && argc != 5) {
    std::fprintf(stderr, "usage: %s OUT.gguf [llama|gemma3] [LAYERS HIDDEN]\n", argv[0]);
    return 2;
  }
  parley::testing::TinyModelSpec spec;
  spec.arch = argc >= 3 ? argv[2] : "llama";
  if (spec.arch != "llama" && spec.arch != "gemma3") {
    std::fprintf(stderr, "error: unknown architecture '%s' (llama or gemma3)\n", spec.arch.c_str());
    return 2;
  }
  spec.layers = 4;
  spec.context = 2048;
  if (argc == 5) {
    spec.layers = std::atoi(argv[3]);
    spec.hidden = std::atoi(argv[4]);
    if (spec.layers < 1 || spec.hidden < 16 || spec.hidden % 16 != 0) {
      std::fprintf(stderr, "error: LAYERS >= 1, HIDDEN a multiple of 16\n");
      return 2;
    }
    spec.head_dim = spec.hidden / spec.heads;
    spec.ffn = 3 * spec.hidden;
  }
  if (spec.arch == "gemma3") spec.window = 32;
  parley::Status st = parley::testing::WriteTinyModel(spec, argv[1]);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
