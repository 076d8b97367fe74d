// Owns a loaded vision tower, its backend and compute allocator, and runs batched encodes.
// One encode at a time per encoder (a mutex guards the allocator); the addon queues callers.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "graph_runner.h"
#include "vision_model.h"

namespace mm {

struct VisionEncoderOptions {
  int threads = 4;
  std::string device = "auto";  // "auto" | "cpu" | a ggml device name (devices.h)
};

struct VisionEncoderInfo {
  int image_size, patch_size, tokens_per_tile, embedding_width, vision_width, layers;
  std::string weight_type;
  std::string weight_buffer;  // CPU, CPU_REPACK, AMX or the GPU's (Vulkan0, CUDA0): where ggml keeps the block matrices
  std::string device;         // the device the graph runs on: "CPU", "Vulkan0", ...
  std::string device_note;    // why the CPU is used when a GPU was asked for or found ("" otherwise)
  std::array<float, 3> image_mean, image_std;
};

class VisionEncoder {
 public:
  static std::unique_ptr<VisionEncoder> load(const std::string& mmproj_path, const VisionEncoderOptions& opts);
  ~VisionEncoder();
  VisionEncoder(const VisionEncoder&) = delete;
  VisionEncoder& operator=(const VisionEncoder&) = delete;

  VisionEncoderInfo info() const;

  // tiles: planar f32 [count, 3, S, S]; out: [count * tokens_per_tile, embedding_width].
  // `cancel` (optional) is polled between graph nodes; when set the call throws Aborted.
  void encode(const float* tiles, size_t n_floats, int count, std::vector<float>& out,
              const std::atomic<bool>* cancel = nullptr);

  // Bytes of compute memory an encode of `count` tiles needs (measured on the graph).
  size_t compute_bytes(int count);

 private:
  VisionEncoder() = default;
  struct Graph;
  std::unique_ptr<Graph> build(int count);

  std::unique_ptr<GraphRunner> runner_;
  std::unique_ptr<VisionModel> model_;
  std::mutex mu_;
};

}  // namespace mm
