#include "vision_encoder.h"

#include <cstring>

#include "errors.h"
#include "mm_limits.h"
#include "cpu_backend.h"
#include "ggml_log.h"
#include "vision_graph.h"

namespace mm {

namespace {

// Attention scores take 4·heads·(P+1)² bytes per tile (67 MB at full size), so one graph is
// capped; callers split larger batches. Mini-Monkey's largest preset uses 30 tiles.
constexpr int kMaxTilesPerEncode = 64;

}  // namespace

struct VisionEncoder::Graph {
  ggml_context* ctx = nullptr;
  ggml_cgraph* gf = nullptr;
  ggml_tensor* tiles = nullptr;
  ggml_tensor* out = nullptr;
  ~Graph() {
    if (ctx) ggml_free(ctx);
  }
};

std::unique_ptr<VisionEncoder> VisionEncoder::load(const std::string& mmproj_path, const VisionEncoderOptions& opts) {
  install_log_sink();
  if (opts.threads < 1 || opts.threads > limits::kMaxThreads) throw Error(ErrorCode::InvalidArgument, "threads out of range");
  std::unique_ptr<VisionEncoder> enc(new VisionEncoder());
  enc->runner_ = std::make_unique<GraphRunner>(choose_device(opts.device), opts.threads);
  enc->model_ = VisionModel::load(mmproj_path, *enc->runner_);
  return enc;
}

VisionEncoder::~VisionEncoder() {
  runner_.reset();  // the scheduler holds graph memory of the backends; weights are freed after it
  model_.reset();
}

VisionEncoderInfo VisionEncoder::info() const {
  const VisionHparams& hp = model_->hp;
  return VisionEncoderInfo{hp.image_size,         hp.patch_size,           hp.tokens_per_tile(),    hp.proj_dim,
                           hp.n_embd,             hp.n_layer,              model_->weight_type,     model_->weight_buffer,
                           runner_->device().name, runner_->device().note, hp.image_mean,           hp.image_std};
}

std::unique_ptr<VisionEncoder::Graph> VisionEncoder::build(int count) {
  const VisionHparams& hp = model_->hp;
  const size_t max_nodes = vision_graph_max_nodes(*model_);
  auto g = std::make_unique<Graph>();
  ggml_init_params ip{ggml_tensor_overhead() * max_nodes + ggml_graph_overhead_custom(max_nodes, false), nullptr, true};
  g->ctx = ggml_init(ip);
  if (!g->ctx) throw Error(ErrorCode::OutOfMemory, "cannot create the graph context");
  g->tiles = ggml_new_tensor_4d(g->ctx, GGML_TYPE_F32, hp.image_size, hp.image_size, 3, count);
  ggml_set_input(g->tiles);
  g->out = build_vision_graph(g->ctx, *model_, g->tiles);
  ggml_set_output(g->out);
  g->gf = ggml_new_graph_custom(g->ctx, max_nodes, false);
  ggml_build_forward_expand(g->gf, g->out);
  return g;
}

size_t VisionEncoder::compute_bytes(int count) {
  if (count < 1 || count > kMaxTilesPerEncode) throw Error(ErrorCode::InvalidArgument, "tile count out of range");
  std::lock_guard<std::mutex> lock(mu_);
  auto g = build(count);
  return runner_->measure(g->gf);
}

void VisionEncoder::encode(const float* tiles, size_t n_floats, int count, std::vector<float>& out,
                           const std::atomic<bool>* cancel) {
  const VisionHparams& hp = model_->hp;
  if (count < 1) throw Error(ErrorCode::InvalidArgument, "tile count must be at least 1");
  if (count > kMaxTilesPerEncode) {
    throw Error(ErrorCode::InvalidArgument, "at most " + std::to_string(kMaxTilesPerEncode) + " tiles per encode (got " +
                                                std::to_string(count) + "); split the batch");
  }
  const size_t per_tile = size_t(3) * hp.image_size * hp.image_size;
  if (n_floats != per_tile * static_cast<size_t>(count)) {
    throw Error(ErrorCode::InvalidArgument, "tile buffer holds " + std::to_string(n_floats) + " floats; " +
                                                std::to_string(count) + " tiles of 3x" + std::to_string(hp.image_size) + "x" +
                                                std::to_string(hp.image_size) + " need " + std::to_string(per_tile * count));
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (!runner_->fits({count})) runner_->reserve(build(count)->gf, {count});
  auto g = build(count);
  runner_->alloc(g->gf, {count}, (std::to_string(count) + " tiles").c_str());
  ggml_backend_tensor_set(g->tiles, tiles, 0, n_floats * sizeof(float));
  runner_->compute(g->gf, cancel, "encode");

  out.resize(ggml_nelements(g->out));
  ggml_backend_tensor_get(g->out, out.data(), 0, out.size() * sizeof(float));
}

}  // namespace mm
