#include "vision_graph.h"

#include <cmath>

namespace mm {

namespace {

ggml_tensor* layer_norm(ggml_context* ctx, ggml_tensor* x, ggml_tensor* w, ggml_tensor* b, float eps) {
  x = ggml_norm(ctx, x, eps);
  return ggml_add(ctx, ggml_mul(ctx, x, w), b);
}

// A weight in a repacked or AMX buffer is multiplied by kernels that take a 2-D input (AMX reads
// only the first matrix of a 3-D one), so every input is flattened to [in, rows] and back.
ggml_tensor* linear(ggml_context* ctx, ggml_tensor* x, ggml_tensor* w, ggml_tensor* b) {
  const int64_t rows = ggml_nrows(x);
  ggml_tensor* y = ggml_mul_mat(ctx, w, ggml_reshape_2d(ctx, x, x->ne[0], rows));
  y = ggml_add(ctx, y, b);
  return ggml_reshape_4d(ctx, y, w->ne[1], x->ne[1], x->ne[2], x->ne[3]);
}

}  // namespace

size_t vision_graph_max_nodes(const VisionModel& m) { return 256 + static_cast<size_t>(m.hp.n_layer) * 96; }

ggml_tensor* build_vision_graph(ggml_context* ctx, const VisionModel& m, ggml_tensor* tiles) {
  const VisionHparams& hp = m.hp;
  const int64_t T = tiles->ne[3];
  const int64_t H = hp.n_embd, G = hp.grid(), NP = hp.n_patches(), NT = NP + 1;
  const int64_t n_head = hp.n_head, d_head = H / n_head;

  // Patch embedding as im2col + one matmul (conv k=stride=patch), landing directly in
  // [H, NP, T] with patches row-major (y*G + x) and no transpose copy.
  const int64_t K = 3 * int64_t(hp.patch_size) * hp.patch_size;
  ggml_tensor* cols = ggml_im2col(ctx, m.patch_w, tiles, hp.patch_size, hp.patch_size, 0, 0, 1, 1, true, m.patch_w->type);
  ggml_tensor* x = ggml_mul_mat(ctx, ggml_reshape_2d(ctx, m.patch_w, K, H), ggml_reshape_2d(ctx, cols, K, NP * T));
  x = ggml_add(ctx, ggml_reshape_3d(ctx, x, H, NP, T), m.patch_b);

  // CLS goes first (llama.cpp appends it last; the reference prepends it), then the position table.
  ggml_tensor* cls = ggml_repeat(ctx, ggml_reshape_3d(ctx, m.class_embd, H, 1, 1), ggml_new_tensor_3d(ctx, GGML_TYPE_F32, H, 1, T));
  x = ggml_concat(ctx, cls, x, 1);  // [H, NT, T]
  x = ggml_add(ctx, x, ggml_reshape_2d(ctx, m.pos_embd, H, NT));

  const float scale = 1.0f / std::sqrt(static_cast<float>(d_head));
  for (const VisionLayer& l : m.layers) {
    ggml_tensor* h = layer_norm(ctx, x, l.ln1_w, l.ln1_b, hp.eps);
    ggml_tensor* q = ggml_reshape_4d(ctx, linear(ctx, h, l.q_w, l.q_b), d_head, n_head, NT, T);
    ggml_tensor* k = ggml_reshape_4d(ctx, linear(ctx, h, l.k_w, l.k_b), d_head, n_head, NT, T);
    ggml_tensor* v = ggml_reshape_4d(ctx, linear(ctx, h, l.v_w, l.v_b), d_head, n_head, NT, T);
    // ggml's tiled flash attention: no [NT x NT] score matrix in memory, f32 throughout (K/V stay
    // f32, so it matches the reference to float precision), and it reads the permuted views as is.
    q = ggml_permute(ctx, q, 0, 2, 1, 3);  // [d, NT, heads, T]
    k = ggml_permute(ctx, k, 0, 2, 1, 3);
    v = ggml_permute(ctx, v, 0, 2, 1, 3);
    ggml_tensor* kqv = ggml_flash_attn_ext(ctx, q, k, v, nullptr, scale, 0.0f, 0.0f);  // [d, heads, NT, T]
    ggml_flash_attn_ext_set_prec(kqv, GGML_PREC_F32);
    ggml_tensor* attn = linear(ctx, ggml_reshape_3d(ctx, kqv, H, NT, T), l.o_w, l.o_b);
    x = ggml_add(ctx, x, ggml_mul(ctx, attn, l.ls1));

    h = layer_norm(ctx, x, l.ln2_w, l.ln2_b, hp.eps);
    h = linear(ctx, ggml_gelu_erf(ctx, linear(ctx, h, l.up_w, l.up_b)), l.down_w, l.down_b);
    x = ggml_add(ctx, x, ggml_mul(ctx, h, l.ls2));
  }

  // Drop CLS: [H, G(x), G(y), T].
  x = ggml_view_4d(ctx, x, H, G, G, T, x->nb[1], x->nb[1] * G, x->nb[2], x->nb[1]);
  // Pixel shuffle v2. Token (r, q) = X[2r,2q] | X[2r,2q+1] | X[2r+1,2q] | X[2r+1,2q+1]:
  // merging x pairs into channels gives [2H, G/2, G, T]; then the y pair joins the channels.
  const int64_t G2 = G / 2;
  x = ggml_reshape_4d(ctx, ggml_cont(ctx, x), 2 * H, G2, G, T);
  x = ggml_reshape_4d(ctx, x, 2 * H, G2, 2, G2 * T);       // [2H, q, dy, r*T]
  x = ggml_cont(ctx, ggml_permute(ctx, x, 0, 2, 1, 3));    // [2H, dy, q, r*T]
  x = ggml_reshape_2d(ctx, x, 4 * H, G2 * G2 * T);         // [4H, tokens]: t = r*G2 + q, tile-major

  // mlp1: LayerNorm -> Linear -> GELU(erf) -> Linear.
  x = layer_norm(ctx, x, m.mlp0_w, m.mlp0_b, hp.proj_eps);
  x = linear(ctx, x, m.mlp1_w, m.mlp1_b);
  x = ggml_gelu_erf(ctx, x);
  x = linear(ctx, x, m.mlp3_w, m.mlp3_b);
  return x;
}

}  // namespace mm
