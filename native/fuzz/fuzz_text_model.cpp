// libFuzzer harness (a): a text-model GGUF through our validation and libllama's loader, as
// TextModel::load sees a user's file, then what a chat does with a model that loaded: tokenize the
// prompt template, render pieces, make a small context and decode. It must never abort: a bad file
// is an mm::Error (MODEL_LOAD / UNSUPPORTED ...). See fuzz_common.h for what counts as a finding.
//   build-fuzz/fuzz_text_model CORPUS -max_total_time=60   (scripts/ci-hardening.mjs)
#include <cstdint>
#include <cstdlib>
#include <functional>

#include "fuzz_common.h"
#include "llm_sequences.h"
#include "text_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = mm_fuzz::input_path(data, size);
  mm_fuzz::expect_typed_errors([&] {
    mm::TextModelOptions opts;
    auto model = mm::TextModel::load(path, opts, nullptr, {});
    const mm::TextModelInfo& info = model->info();
    std::vector<int32_t> ids = model->tokenize("<|im_start|>user\n<img><IMG_CONTEXT></img>\nhello<|im_end|>", info.special.add_bos, true);
    for (int32_t id : ids) (void)model->piece(id, true);
    for (int32_t id = 0; id < info.n_vocab && id < 64; ++id) {
      (void)model->piece(id, false);
      (void)model->is_end_of_generation(id);
    }
    if (getenv("MINIMONKEY_FUZZ_NO_DECODE")) return;
    mm::SequenceOptions copts;
    copts.n_seq = 1;
    copts.n_ctx_seq = 256;
    copts.n_batch = 32;
    copts.threads = 1;
    auto ctx = mm::SequenceContext::create(model, copts);
    mm::PromptPart part;
    part.tokens = ids;
    if (part.tokens.empty()) part.tokens.push_back(0);
    ctx->prefill(0, {part}, true, nullptr, {});
    ctx->set_sampling(0, mm::SamplingOptions{});
    const std::atomic<bool>* no_cancel = nullptr;
    (void)ctx->step({0}, {no_cancel});
    (void)ctx->step({0}, {no_cancel});
  });
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return mm_fuzz::mutate_header_first(data, size, max_size, seed);
}
