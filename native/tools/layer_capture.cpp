// Second oracle for SCM's layer 0: libllama's own intermediate tensor `l_out-0` (the output of
// decoder layer 0), captured through its public eval callback while it prefills a prompt.
// KV cache in f32 and no flash attention, so the only differences left are summation order.
//
//   mm-layer-capture <model.gguf> <prompt.bin> <out.f32> [threads]
//
// prompt.bin: records of int32 kind (0 = token ids, 1 = embedding rows), int32 count, then count
// int32 ids or count * n_embd f32 values. out.f32: [positions, n_embd] f32.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "llama.h"

static void quiet(enum ggml_log_level, const char*, void*) {}

struct Capture {
  std::vector<float> rows;
};

static bool on_eval(ggml_tensor* t, bool ask, void* user) {
  const bool wanted = std::strcmp(t->name, "l_out-0") == 0;
  if (ask) return wanted;
  if (wanted) {
    auto* c = static_cast<Capture*>(user);
    const size_t n = static_cast<size_t>(ggml_nelements(t));
    const size_t at = c->rows.size();
    c->rows.resize(at + n);
    ggml_backend_tensor_get(t, c->rows.data() + at, 0, n * sizeof(float));
  }
  return true;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s model.gguf prompt.bin out.f32 [threads]\n", argv[0]);
    return 2;
  }
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  llama_log_set(quiet, nullptr);
  llama_backend_init();
  llama_model* model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (!model) return 1;
  const int n_embd = llama_model_n_embd(model);

  struct Part {
    int kind;
    std::vector<int32_t> ids;
    std::vector<float> rows;
  };
  std::vector<Part> parts;
  int total = 0;
  std::ifstream in(argv[2], std::ios::binary);
  int32_t head[2];
  while (in.read(reinterpret_cast<char*>(head), sizeof head)) {
    Part p{head[0], {}, {}};
    if (p.kind == 0) {
      p.ids.resize(head[1]);
      in.read(reinterpret_cast<char*>(p.ids.data()), head[1] * sizeof(int32_t));
    } else {
      p.rows.resize(static_cast<size_t>(head[1]) * n_embd);
      in.read(reinterpret_cast<char*>(p.rows.data()), p.rows.size() * sizeof(float));
    }
    if (!in) return 3;
    total += head[1];
    parts.push_back(std::move(p));
  }

  Capture cap;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = cp.n_batch = cp.n_ubatch = total + 16;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.type_k = cp.type_v = GGML_TYPE_F32;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.cb_eval = on_eval;
  cp.cb_eval_user_data = &cap;
  llama_context* ctx = llama_init_from_model(model, cp);
  if (!ctx) return 1;

  int pos = 0;
  for (const Part& p : parts) {
    const int len = p.kind == 0 ? static_cast<int>(p.ids.size()) : static_cast<int>(p.rows.size() / n_embd);
    llama_batch b = llama_batch_init(len, p.kind == 0 ? 0 : n_embd, 1);
    b.n_tokens = len;
    if (p.kind == 0) std::memcpy(b.token, p.ids.data(), len * sizeof(int32_t));
    else std::memcpy(b.embd, p.rows.data(), p.rows.size() * sizeof(float));
    for (int k = 0; k < len; k++) {
      b.pos[k] = pos + k;
      b.n_seq_id[k] = 1;
      b.seq_id[k][0] = 0;
      b.logits[k] = 0;
    }
    if (llama_decode(ctx, b) != 0) return 1;
    llama_batch_free(b);
    pos += len;
  }
  if (cap.rows.size() != static_cast<size_t>(total) * n_embd) return 4;
  std::ofstream out(argv[3], std::ios::binary);
  out.write(reinterpret_cast<const char*>(cap.rows.data()), cap.rows.size() * sizeof(float));
  llama_free(ctx);
  llama_model_free(model);
  return out ? 0 : 1;
}
