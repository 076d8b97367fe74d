// The InternViT forward as a ggml graph over a batch of tiles, faithful to the reference
// (facts §1.2-1.4): CLS first, erf GELU, no final norm, pixel shuffle v2, mlp1.
#pragma once
#include "ggml.h"
#include "vision_model.h"

namespace mm {

// tiles: f32 [S, S, 3, T] (planar, tile-major, already normalized).
// Returns f32 [proj_dim, tokens_per_tile * T], tile-major.
ggml_tensor* build_vision_graph(ggml_context* ctx, const VisionModel& m, ggml_tensor* tiles);

// Upper bound on graph nodes, to size the graph.
size_t vision_graph_max_nodes(const VisionModel& m);

}  // namespace mm
