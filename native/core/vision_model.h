// The InternViT-300M vision tower + mlp1 projector, loaded from a llama.cpp-layout mmproj GGUF
// (facts §5.1). Loading validates every key, shape and type before any ggml op can see them.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"
#include "graph_runner.h"
#include "weight_groups.h"

namespace mm {

struct VisionHparams {
  int image_size = 0;   // tile side in pixels (448)
  int patch_size = 0;   // 14
  int n_embd = 0;       // ViT hidden (1024)
  int n_ff = 0;         // ViT MLP (4096)
  int n_layer = 0;      // 24
  int n_head = 0;       // 16
  float eps = 1e-6f;    // ViT LayerNorm
  float proj_eps = 1e-5f;  // mlp1.0 LayerNorm (PyTorch default, not in the GGUF)
  int proj_dim = 0;     // text embedding width (2048)
  int scale_factor = 2; // pixel shuffle: 1 / downsample_ratio
  std::array<float, 3> image_mean{};
  std::array<float, 3> image_std{};

  int grid() const { return image_size / patch_size; }
  int n_patches() const { return grid() * grid(); }
  int tokens_per_tile() const { return n_patches() / (scale_factor * scale_factor); }
};

struct VisionLayer {
  ggml_tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  ggml_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
  ggml_tensor *up_w, *up_b, *down_w, *down_b;
  ggml_tensor *ls1, *ls2;
};

class VisionModel {
 public:
  // Throws mm::Error(ModelLoad | Unsupported) on anything unexpected.
  // Weights go where `runner` places them (its device, or the CPU's fastest layouts).
  static std::unique_ptr<VisionModel> load(const std::string& path, const GraphRunner& runner);
  ~VisionModel();
  VisionModel(const VisionModel&) = delete;
  VisionModel& operator=(const VisionModel&) = delete;

  VisionHparams hp;
  ggml_tensor *patch_w = nullptr, *patch_b = nullptr, *class_embd = nullptr, *pos_embd = nullptr;
  std::vector<VisionLayer> layers;
  ggml_tensor *mlp0_w = nullptr, *mlp0_b = nullptr, *mlp1_w = nullptr, *mlp1_b = nullptr,
              *mlp3_w = nullptr, *mlp3_b = nullptr;
  std::string weight_type;    // type of the block matrices, for info
  std::string weight_buffer;  // where the block matrices live: CPU, CPU_REPACK, AMX, Vulkan0, CUDA0 (ggml's names)

 private:
  VisionModel() = default;
  std::unique_ptr<WeightGroups> weights_;
};

}  // namespace mm
