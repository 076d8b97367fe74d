#include "vision_model.h"

#include <cstring>
#include <vector>

#include "errors.h"
#include "gguf_file.h"
#include "weight_types.h"

namespace mm {

namespace {

enum class Kind { Matrix, Vector, Patch };

std::string shape_str(const int64_t* ne) {
  return "[" + std::to_string(ne[0]) + "," + std::to_string(ne[1]) + "," + std::to_string(ne[2]) + "," +
         std::to_string(ne[3]) + "]";
}

// Creates weight tensors (no data yet) after checking shape and type against the file, each in
// the buffer type the runner picks for it.
class Loader {
 public:
  Loader(const GgufFile& file, const GraphRunner& runner, WeightGroups& groups) : file_(file), runner_(runner), groups_(groups) {}

  ggml_tensor* take(const std::string& name, Kind kind, std::initializer_list<int64_t> shape) {
    ggml_tensor* meta = file_.find_tensor(name.c_str());
    if (!meta) throw Error(ErrorCode::ModelLoad, file_.path() + ": missing tensor '" + name + "'");
    int64_t want[4] = {1, 1, 1, 1};
    int i = 0;
    for (int64_t d : shape) want[i++] = d;
    for (int d = 0; d < 4; ++d) {
      if (meta->ne[d] != want[d]) {
        throw Error(ErrorCode::ModelLoad, file_.path() + ": tensor '" + name + "' has shape " + shape_str(meta->ne) +
                                              ", expected " + shape_str(want));
      }
    }
    const ggml_type t = meta->type;
    const bool ok = kind == Kind::Matrix ? matrix_type_ok(t)
                    : kind == Kind::Patch ? (t == GGML_TYPE_F32 || t == GGML_TYPE_F16)
                                          : t == GGML_TYPE_F32;
    if (!ok) {
      throw Error(ErrorCode::Unsupported, file_.path() + ": tensor '" + name + "' has unsupported type " +
                                              ggml_type_name(t));
    }
    // The patch kernel is multiplied as a [3*P*P, H] matrix: on a GPU it is placed as one, on the
    // CPU it stays out of the repacked layouts (im2col reads it as a 4-D kernel).
    const bool matrix = kind == Kind::Matrix || (kind == Kind::Patch && runner_.on_gpu());
    ggml_backend_buffer_type_t buft = runner_.weight_buffer_type(meta, matrix, /*allow_amx=*/true);
    if (kind == Kind::Matrix) matrix_buft_ = buft;
    ggml_tensor* t_new = groups_.add(meta, name, buft);
    tensors_.push_back(t_new);
    return t_new;
  }

  const std::vector<ggml_tensor*>& tensors() const { return tensors_; }
  ggml_backend_buffer_type_t matrix_buft() const { return matrix_buft_; }

 private:
  const GgufFile& file_;
  const GraphRunner& runner_;
  WeightGroups& groups_;
  ggml_backend_buffer_type_t matrix_buft_ = nullptr;
  std::vector<ggml_tensor*> tensors_;
};

int checked_int(const GgufFile& f, const char* key, int lo, int hi) {
  const uint64_t v = f.get_uint(key);
  if (v < static_cast<uint64_t>(lo) || v > static_cast<uint64_t>(hi)) {
    throw Error(ErrorCode::ModelLoad, f.path() + ": key '" + key + "' = " + std::to_string(v) + " is out of range [" +
                                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(v);
}

VisionHparams read_hparams(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != "clip") throw Error(ErrorCode::ModelLoad, f.path() + ": general.architecture is '" + arch + "', expected 'clip' (a vision projector file)");
  if (!f.get_bool("clip.has_vision_encoder", true)) throw Error(ErrorCode::ModelLoad, f.path() + ": file has no vision encoder");
  const std::string proj = f.get_string("clip.projector_type");
  if (proj != "internvl") throw Error(ErrorCode::Unsupported, f.path() + ": projector type '" + proj + "' is not supported (expected 'internvl')");

  VisionHparams hp;
  hp.image_size = checked_int(f, "clip.vision.image_size", 14, 4096);
  hp.patch_size = checked_int(f, "clip.vision.patch_size", 1, 256);
  hp.n_embd = checked_int(f, "clip.vision.embedding_length", 1, 65536);
  hp.n_ff = checked_int(f, "clip.vision.feed_forward_length", 1, 262144);
  hp.n_layer = checked_int(f, "clip.vision.block_count", 0, 1024);
  hp.n_head = checked_int(f, "clip.vision.attention.head_count", 1, 1024);
  hp.proj_dim = checked_int(f, "clip.vision.projection_dim", 1, 65536);
  hp.scale_factor = static_cast<int>(f.get_uint("clip.vision.projector.scale_factor", 2));
  const double eps = f.get_float("clip.vision.attention.layer_norm_epsilon", 1e-6);
  if (!(eps > 0 && eps < 1)) throw Error(ErrorCode::ModelLoad, f.path() + ": layer_norm_epsilon out of range");
  hp.eps = static_cast<float>(eps);

  if (hp.image_size % hp.patch_size != 0) throw Error(ErrorCode::ModelLoad, f.path() + ": image_size is not a multiple of patch_size");
  if (hp.scale_factor != 2) throw Error(ErrorCode::Unsupported, f.path() + ": only pixel-shuffle scale factor 2 is supported");
  if (hp.grid() % hp.scale_factor != 0) throw Error(ErrorCode::ModelLoad, f.path() + ": patch grid is not divisible by the scale factor");
  if (hp.n_embd % hp.n_head != 0) throw Error(ErrorCode::ModelLoad, f.path() + ": embedding_length is not divisible by head_count");
  // The InternViT variants llama.cpp's converter writes under projector 'internvl'. We run the 300M
  // tower (InternVL2, and InternVL2.5 / 3 up to 8B: layer norm, GELU, no qk norm, layer scale). The
  // 6B tower (InternVL2.5 / 3 26B+) has RMS norm, which llama.cpp infers from its shape
  // (tools/mtmd/models/internvl.cpp: n_embd 3200, 45 layers), and qk norm tensors.
  if (f.get_bool("clip.use_silu", false)) throw Error(ErrorCode::Unsupported, f.path() + ": a SiLU vision tower is not supported (InternViT uses GELU)");
  if (hp.n_embd == 3200 && hp.n_layer == 45) {
    throw Error(ErrorCode::Unsupported, f.path() + ": the InternViT-6B tower (RMS norm, qk norm; InternVL2.5 / 3 26B and larger) is not supported, only the 300M one");
  }
  if (f.find_tensor("v.blk.0.attn_q_norm.weight") || f.find_tensor("v.blk.0.attn_k_norm.weight")) {
    throw Error(ErrorCode::Unsupported, f.path() + ": a vision tower with qk normalisation (InternViT-6B style) is not supported");
  }

  const std::array<float, 3> imagenet_mean{0.485f, 0.456f, 0.406f}, imagenet_std{0.229f, 0.224f, 0.225f};
  hp.image_mean = imagenet_mean;
  hp.image_std = imagenet_std;
  if (f.has_key("clip.vision.image_mean")) {
    auto m = f.get_float_array("clip.vision.image_mean");
    auto s = f.get_float_array("clip.vision.image_std");
    if (m.size() != 3 || s.size() != 3) throw Error(ErrorCode::ModelLoad, f.path() + ": image_mean/image_std must have 3 values");
    for (int c = 0; c < 3; ++c) {
      if (!(s[c] > 0)) throw Error(ErrorCode::ModelLoad, f.path() + ": image_std must be positive");
      hp.image_mean[c] = static_cast<float>(m[c]);
      hp.image_std[c] = static_cast<float>(s[c]);
    }
  }
  return hp;
}

}  // namespace

std::unique_ptr<VisionModel> VisionModel::load(const std::string& path, const GraphRunner& runner) {
  GgufFile file(path);
  std::unique_ptr<VisionModel> m(new VisionModel());
  m->hp = read_hparams(file);
  const VisionHparams& hp = m->hp;

  const size_t n_tensors = 10 + static_cast<size_t>(hp.n_layer) * 18;  // exactly what Loader::take creates below
  m->weights_ = std::make_unique<WeightGroups>(n_tensors);
  Loader L(file, runner, *m->weights_);
  const int64_t H = hp.n_embd, P = hp.patch_size, F = hp.n_ff, E = hp.proj_dim;
  m->patch_w = L.take("v.patch_embd.weight", Kind::Patch, {P, P, 3, H});
  m->patch_b = L.take("v.patch_embd.bias", Kind::Vector, {H});
  m->class_embd = L.take("v.class_embd", Kind::Vector, {H});
  m->pos_embd = L.take("v.position_embd.weight", Kind::Vector, {H, hp.n_patches() + 1});
  for (int i = 0; i < hp.n_layer; ++i) {
    const std::string b = "v.blk." + std::to_string(i) + ".";
    VisionLayer l{};
    l.ln1_w = L.take(b + "ln1.weight", Kind::Vector, {H});
    l.ln1_b = L.take(b + "ln1.bias", Kind::Vector, {H});
    l.ln2_w = L.take(b + "ln2.weight", Kind::Vector, {H});
    l.ln2_b = L.take(b + "ln2.bias", Kind::Vector, {H});
    l.q_w = L.take(b + "attn_q.weight", Kind::Matrix, {H, H});
    l.q_b = L.take(b + "attn_q.bias", Kind::Vector, {H});
    l.k_w = L.take(b + "attn_k.weight", Kind::Matrix, {H, H});
    l.k_b = L.take(b + "attn_k.bias", Kind::Vector, {H});
    l.v_w = L.take(b + "attn_v.weight", Kind::Matrix, {H, H});
    l.v_b = L.take(b + "attn_v.bias", Kind::Vector, {H});
    l.o_w = L.take(b + "attn_out.weight", Kind::Matrix, {H, H});
    l.o_b = L.take(b + "attn_out.bias", Kind::Vector, {H});
    l.up_w = L.take(b + "ffn_up.weight", Kind::Matrix, {H, F});
    l.up_b = L.take(b + "ffn_up.bias", Kind::Vector, {F});
    l.down_w = L.take(b + "ffn_down.weight", Kind::Matrix, {F, H});
    l.down_b = L.take(b + "ffn_down.bias", Kind::Vector, {H});
    l.ls1 = L.take(b + "ls1.weight", Kind::Vector, {H});
    l.ls2 = L.take(b + "ls2.weight", Kind::Vector, {H});
    m->layers.push_back(l);
  }
  const int64_t H4 = H * hp.scale_factor * hp.scale_factor;
  m->mlp0_w = L.take("mm.model.mlp.0.weight", Kind::Vector, {H4});
  m->mlp0_b = L.take("mm.model.mlp.0.bias", Kind::Vector, {H4});
  m->mlp1_w = L.take("mm.model.mlp.1.weight", Kind::Matrix, {H4, E});
  m->mlp1_b = L.take("mm.model.mlp.1.bias", Kind::Vector, {E});
  m->mlp3_w = L.take("mm.model.mlp.3.weight", Kind::Matrix, {E, E});
  m->mlp3_b = L.take("mm.model.mlp.3.bias", Kind::Vector, {E});
  m->weight_type = hp.n_layer > 0 ? ggml_type_name(m->layers[0].q_w->type) : ggml_type_name(m->mlp1_w->type);

  m->weights_->allocate(path + ": the vision weights");
  m->weight_buffer = ggml_backend_buft_name(L.matrix_buft());
  read_weights(file, L.tensors());
  return m;
}

VisionModel::~VisionModel() = default;

}  // namespace mm
