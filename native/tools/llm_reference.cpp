// Reference harness for the chat tests: drives libllama directly, in the most obvious way, on a
// prompt given as the reference's *string* (facts §3.4) plus image embeddings, and prints the
// greedy continuation's token ids. The string is tokenized whole, special tokens parsed, as the
// reference tokenizer does; each <IMG_CONTEXT> token's position takes the next embedding row.
//
//   mm-llm-reference <model.gguf> <prompt.txt> <embeddings.f32 | -> <max_new_tokens> [threads]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "llama.h"

static void quiet(enum ggml_log_level, const char*, void*) {}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s model.gguf prompt.txt embeddings.f32|- max_new [threads]\n", argv[0]);
    return 2;
  }
  const int max_new = std::atoi(argv[4]);
  const int threads = argc > 5 ? std::atoi(argv[5]) : 2;
  llama_log_set(quiet, nullptr);
  llama_backend_init();

  std::ifstream pf(argv[2], std::ios::binary);
  std::stringstream ss;
  ss << pf.rdbuf();
  const std::string prompt = ss.str();
  std::vector<float> embd;
  if (std::string(argv[3]) != "-") {
    std::ifstream ef(argv[3], std::ios::binary | std::ios::ate);
    embd.resize(static_cast<size_t>(ef.tellg()) / sizeof(float));
    ef.seekg(0);
    ef.read(reinterpret_cast<char*>(embd.data()), embd.size() * sizeof(float));
  }

  llama_model* model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (!model) return 1;
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_embd = llama_model_n_embd(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);

  std::vector<llama_token> toks(prompt.size() + 16);
  const int n = llama_tokenize(vocab, prompt.data(), (int)prompt.size(), toks.data(), (int)toks.size(), true, true);
  if (n < 0) return 1;
  toks.resize(n);
  llama_token img_context = -1;
  {
    llama_token t[4];
    if (llama_tokenize(vocab, "<IMG_CONTEXT>", 13, t, 4, false, true) == 1) img_context = t[0];
  }

  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = n + max_new + 16;
  cp.n_batch = cp.n_ctx;
  cp.n_ubatch = cp.n_ctx;
  cp.n_threads = cp.n_threads_batch = threads;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) return 1;

  // One batch per run of plain tokens or of image rows; logits for the very last position only.
  size_t row = 0;
  int pos = 0;
  for (int i = 0; i < n;) {
    const bool image = toks[i] == img_context;
    int j = i;
    while (j < n && (toks[j] == img_context) == image) j++;
    const int len = j - i;
    llama_batch b = llama_batch_init(len, image ? n_embd : 0, 1);
    b.n_tokens = len;
    for (int k = 0; k < len; k++) {
      if (image) {
        if ((row + 1) * n_embd > embd.size()) return 3;  // fewer embedding rows than <IMG_CONTEXT> tokens
        for (int c = 0; c < n_embd; c++) b.embd[k * n_embd + c] = embd[row * n_embd + c];
        row++;
      } else {
        b.token[k] = toks[i + k];
      }
      b.pos[k] = pos + k;
      b.n_seq_id[k] = 1;
      b.seq_id[k][0] = 0;
      b.logits[k] = (i + k == n - 1);
    }
    if (llama_decode(ctx, b) != 0) return 1;
    llama_batch_free(b);
    pos += len;
    i = j;
  }
  if (row * n_embd != embd.size()) return 3;  // rows left over

  std::vector<llama_token> out;
  for (int step = 0; step < max_new; step++) {
    const float* logits = llama_get_logits_ith(ctx, -1);
    llama_token best = 0;
    for (llama_token t = 1; t < n_vocab; t++) if (logits[t] > logits[best]) best = t;
    if (llama_vocab_is_eog(vocab, best)) break;
    out.push_back(best);
    llama_batch b = llama_batch_init(1, 0, 1);
    b.n_tokens = 1;
    b.token[0] = best;
    b.pos[0] = pos++;
    b.n_seq_id[0] = 1;
    b.seq_id[0][0] = 0;
    b.logits[0] = 1;
    if (llama_decode(ctx, b) != 0) return 1;
    llama_batch_free(b);
  }
  for (size_t i = 0; i < out.size(); i++) std::printf("%s%d", i ? " " : "", out[i]);
  std::printf("\n");
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
