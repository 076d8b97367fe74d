#include "sequence_state.h"

#include <cstring>
#include <string>

#include "errors.h"
#include "ggml.h"

namespace mm {

namespace {

// libllama's sequence blob opens with its magic, the sequence id and the stream count; a
// one-stream blob's cell section follows at once.
constexpr size_t kLlamaHeader = 12;
// Bounds that no real model reaches; past them the bytes are not a state.
constexpr uint64_t kMaxRowBytes = uint64_t(1) << 26;
constexpr uint32_t kMaxEmbd = uint32_t(1) << 20;

Error bad(const std::string& why) { return Error(ErrorCode::InvalidArgument, "not a KV state of this model: " + why); }

// Bounds-checked little-endian reads over a byte range (the hosts we build for are little-endian,
// as libllama's own state format assumes).
struct Reader {
  const uint8_t* p;
  size_t n;
  size_t off;

  template <typename T>
  T get(const char* what) {
    if (n - off < sizeof(T)) throw bad(std::string("truncated at the ") + what);
    T v;
    std::memcpy(&v, p + off, sizeof(T));
    off += sizeof(T);
    return v;
  }
  void skip(uint64_t bytes, const char* what) {
    if (bytes > n - off) throw bad(std::string("truncated in the ") + what);
    off += static_cast<size_t>(bytes);
  }
};

void check_type(int32_t type) {
  if (type < 0 || type >= GGML_TYPE_COUNT || ggml_type_size(static_cast<ggml_type>(type)) == 0) throw bad("unknown tensor type " + std::to_string(type));
}

// Walks one stream section (cell count, cells, then keys and values of every layer) from r.off,
// as llama_kv_cache::state_write writes it for one sequence without cell extensions. Returns the
// cell count. The cells' positions must be exactly 0..count-1, in any order of cells.
uint32_t walk_section(Reader& r, uint32_t n_layer, uint32_t max_cells) {
  const uint32_t cells = r.get<uint32_t>("cell count");
  if (cells == 0 || cells > max_cells) throw bad(std::to_string(cells) + " cells where at most " + std::to_string(max_cells) + " fit");
  std::vector<bool> seen(cells, false);
  for (uint32_t i = 0; i < cells; ++i) {
    const int32_t pos = r.get<int32_t>("cell position");
    const uint32_t n_seq = r.get<uint32_t>("cell sequences");
    r.get<int32_t>("cell sequence id");
    if (n_seq != 1) throw bad("a cell shared by several sequences");
    if (pos < 0 || static_cast<uint32_t>(pos) >= cells || seen[static_cast<size_t>(pos)]) throw bad("the positions are not 0.." + std::to_string(cells - 1));
    seen[static_cast<size_t>(pos)] = true;
  }
  const uint32_t v_trans = r.get<uint32_t>("V layout");
  const uint32_t layers = r.get<uint32_t>("layer count");
  if (v_trans > 1) throw bad("unknown V layout");
  if (layers != n_layer) throw bad(std::to_string(layers) + " layers, the model has " + std::to_string(n_layer));
  for (uint32_t l = 0; l < layers; ++l) {
    check_type(r.get<int32_t>("K type"));
    const uint64_t row = r.get<uint64_t>("K row size");
    if (row == 0 || row > kMaxRowBytes) throw bad("K row size");
    r.skip(row * cells, "K data");
  }
  for (uint32_t l = 0; l < layers; ++l) {
    const int32_t type = r.get<int32_t>("V type");
    check_type(type);
    if (!v_trans) {
      const uint64_t row = r.get<uint64_t>("V row size");
      if (row == 0 || row > kMaxRowBytes) throw bad("V row size");
      r.skip(row * cells, "V data");
    } else {
      const uint32_t el = r.get<uint32_t>("V element size");
      const uint32_t embd = r.get<uint32_t>("V width");
      if (el != ggml_type_size(static_cast<ggml_type>(type)) || embd == 0 || embd > kMaxEmbd) throw bad("V element size or width");
      r.skip(uint64_t(el) * embd * cells, "V data");
    }
  }
  return cells;
}

uint32_t layer_count(llama_context* ctx) { return static_cast<uint32_t>(llama_model_n_layer(llama_get_model(ctx))); }

// libllama's blob of an empty sequence: its header, from which the stream count is taken (the
// sequence is empty, so every stream's cell count must be 0; anything else is another memory
// layout: a sliding-window pair, a recurrent state).
std::vector<uint8_t> empty_header(llama_context* ctx, llama_seq_id seq) {
  const size_t size = llama_state_seq_get_size(ctx, seq);
  if (size < kLlamaHeader + 4 || (size - kLlamaHeader) % 4 != 0) throw Error(ErrorCode::Unsupported, "this context's memory is not a plain KV cache");
  std::vector<uint8_t> h(size);
  if (llama_state_seq_get_data(ctx, h.data(), h.size(), seq) != size) throw Error(ErrorCode::Internal, "libllama could not describe the sequence's state");
  uint32_t n_stream;
  std::memcpy(&n_stream, h.data() + 8, 4);
  bool zeros = true;
  for (size_t i = kLlamaHeader; i < size; ++i) zeros = zeros && h[i] == 0;
  if (n_stream != (size - kLlamaHeader) / 4 || !zeros) throw Error(ErrorCode::Unsupported, "this context's memory is not a plain KV cache");
  return h;
}

}  // namespace

std::vector<uint8_t> save_sequence_state(llama_context* ctx, llama_seq_id seq, int n_past) {
  if (n_past < 1) throw Error(ErrorCode::InvalidArgument, "nothing to save: the sequence is empty");
  llama_memory_t mem = llama_get_memory(ctx);
  if (llama_memory_seq_pos_min(mem, seq) != 0 || llama_memory_seq_pos_max(mem, seq) != n_past - 1) {
    throw Error(ErrorCode::Internal, "the sequence's cells do not match its position");
  }
  const size_t size = llama_state_seq_get_size(ctx, seq);
  std::vector<uint8_t> blob(size);
  if (size < kLlamaHeader || llama_state_seq_get_data(ctx, blob.data(), blob.size(), seq) != size) {
    throw Error(ErrorCode::Internal, "libllama could not copy the sequence's state");
  }
  // Find the one non-empty stream's section; the walk also proves the layout is the one we load.
  Reader r{blob.data(), blob.size(), 8};
  const uint32_t n_stream = r.get<uint32_t>("stream count");
  size_t begin = 0, end = 0;
  try {
    for (uint32_t s = 0; s < n_stream; ++s) {
      const size_t at = r.off;
      if (r.get<uint32_t>("cell count") == 0) continue;
      if (end != 0) throw bad("cells in two streams");
      r.off = at;
      if (walk_section(r, layer_count(ctx), static_cast<uint32_t>(n_past)) != static_cast<uint32_t>(n_past)) throw bad("cell count");
      begin = at;
      end = r.off;
    }
    if (end == 0 || r.off != blob.size()) throw bad("unexpected layout");
  } catch (const Error& e) {
    throw Error(ErrorCode::Unsupported, std::string("this context's KV state cannot be kept: ") + e.what());
  }
  // Rewritten in place as a one-stream blob (a shared context writes one stream per sequence).
  if (n_stream != 1) {
    const uint32_t one = 1;
    std::memcpy(blob.data() + 8, &one, 4);
    std::memmove(blob.data() + kLlamaHeader, blob.data() + begin, end - begin);
    blob.resize(kLlamaHeader + (end - begin));
  }
  return blob;
}

void load_sequence_state(llama_context* ctx, llama_seq_id seq, const uint8_t* data, size_t size, int n_positions, int n_ctx_seq) {
  if (n_positions < 1 || n_positions > n_ctx_seq) throw Error(ErrorCode::InvalidArgument, "the state's positions do not fit this context");
  llama_memory_t mem = llama_get_memory(ctx);
  if (llama_memory_seq_pos_max(mem, seq) >= 0) throw Error(ErrorCode::InvalidArgument, "a state is restored into an empty sequence only");
  // This context's own header (magic, stream count), from libllama itself.
  const std::vector<uint8_t> head = empty_header(ctx, seq);
  uint32_t magic;
  std::memcpy(&magic, head.data(), 4);
  Reader r{data, size, 0};
  if (r.get<uint32_t>("magic") != magic) throw bad("wrong magic");
  r.get<int32_t>("sequence id");  // libllama reads it and goes by the sequence it is given
  if (r.get<uint32_t>("stream count") != 1) throw bad("not a one-stream state");
  if (walk_section(r, layer_count(ctx), static_cast<uint32_t>(n_positions)) != static_cast<uint32_t>(n_positions)) throw bad("another cell count");
  if (r.off != size) throw bad("trailing bytes");

  const size_t n_stream = (head.size() - kLlamaHeader) / 4;
  size_t read = 0, expect = size;
  if (n_stream == 1) {
    read = llama_state_seq_set_data(ctx, data, size, seq);  // read in place: a page's state is hundreds of MB
  } else {
    // A shared context: its stream count, the section in the first stream (it lands in the
    // sequence's own stream whichever slot carries it), the other streams empty.
    const size_t section = size - kLlamaHeader;
    std::vector<uint8_t> blob(kLlamaHeader + section + 4 * (n_stream - 1), 0);
    std::memcpy(blob.data(), head.data(), kLlamaHeader);
    std::memcpy(blob.data() + kLlamaHeader, data + kLlamaHeader, section);
    expect = blob.size();
    read = llama_state_seq_set_data(ctx, blob.data(), blob.size(), seq);
  }
  if (read != expect || llama_memory_seq_pos_min(mem, seq) != 0 || llama_memory_seq_pos_max(mem, seq) != n_positions - 1) {
    llama_memory_seq_rm(mem, seq, -1, -1);
    throw bad("libllama refused it (another tensor type or width)");
  }
}

}  // namespace mm
