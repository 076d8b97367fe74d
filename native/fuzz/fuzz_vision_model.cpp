// libFuzzer harness (b): a vision projector (mmproj) GGUF through VisionModel's validation and
// VisionEncoder::load, then one encode of a tile when it loads, as the addon does for a user's
// file. It must never abort: a bad file is an mm::Error. See fuzz_common.h for what is a finding.
//   build-fuzz/fuzz_vision_model CORPUS -max_total_time=60   (scripts/ci-hardening.mjs)
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <vector>

#include "fuzz_common.h"
#include "vision_encoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = mm_fuzz::input_path(data, size);
  mm_fuzz::expect_typed_errors([&] {
    mm::VisionEncoderOptions opts;
    opts.threads = 1;
    auto enc = mm::VisionEncoder::load(path, opts);
    const mm::VisionEncoderInfo info = enc->info();
    if (getenv("MINIMONKEY_FUZZ_NO_ENCODE")) return;
    // One tile of the size the file declares; its cost is bounded by the weights the file holds.
    const size_t n = 3ull * static_cast<size_t>(info.image_size) * static_cast<size_t>(info.image_size);
    std::vector<float> tile(n, 0.25f), out;
    enc->encode(tile.data(), tile.size(), 1, out);
    const size_t want = static_cast<size_t>(info.tokens_per_tile) * static_cast<size_t>(info.embedding_width);
    if (out.size() != want) mm_fuzz::finding("encode returned the wrong number of floats");
  });
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return mm_fuzz::mutate_header_first(data, size, max_size, seed);
}
