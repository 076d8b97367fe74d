// A piece of a prompt as the native side receives it: token ids, or image embedding rows.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace mm {

// Either a run of token ids or rows of embeddings (n_embd floats each) that stand in for tokens.
struct PromptPart {
  std::vector<int32_t> tokens;
  std::shared_ptr<const std::vector<float>> embeddings;

  size_t length(int n_embd) const { return embeddings ? embeddings->size() / static_cast<size_t>(n_embd) : tokens.size(); }
};

}  // namespace mm
