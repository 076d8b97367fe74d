// One sequence's KV cells as bytes, and back: what the page cache keeps of a page's prompt prefix
// so that another process restores it instead of prefilling it again. Works on any libllama
// context and sequence id (a conversation's own context, or one sequence of a shared one).
//
// The bytes are libllama's own sequence state as a one-stream context writes it (its magic, the
// sequence id, stream count 1, then the cells and every layer's K and V rows). A shared context
// writes one stream per sequence (kv_unified off), so its state is rewritten to one stream on save
// and given its stream count back on load (a copy); a one-stream context reads the bytes in place.
//
// A blob is walked in full before libllama sees it (every count, type and length checked against
// the bytes there are and the model's layer count, the positions exactly 0..n-1): libllama
// asserts, allocates by the counts it reads, or reads past them on some malformed input, and a
// foreign, truncated or corrupt blob must be an mm::Error, never an abort.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "llama.h"

namespace mm {

// The cells of `seq`, which holds exactly positions [0, n_past) (n_past >= 1). Throws
// mm::Error: Unsupported when this context's memory is not a plain KV cache (the layout walked
// here), Internal when libllama cannot copy it.
std::vector<uint8_t> save_sequence_state(llama_context* ctx, llama_seq_id seq, int n_past);

// Puts a save_sequence_state() blob of `n_positions` positions into `seq`, which must be empty
// and hold up to `n_ctx_seq` positions. A blob that is not whole and of this model's layout
// throws mm::Error(InvalidArgument) and leaves `seq` empty; the KV data itself is not checked
// (the page cache's checksum and key are).
void load_sequence_state(llama_context* ctx, llama_seq_id seq, const uint8_t* data, size_t size, int n_positions, int n_ctx_seq);

}  // namespace mm
