#include "scm_graph.h"

#include <algorithm>
#include <cmath>

#include "errors.h"

namespace mm {

namespace {

constexpr size_t kMaxNodes = 2048;

struct Builder {
  ggml_context* ctx;
  const ScmHparams& hp;
  ggml_tensor* pos;
  ggml_tensor* freqs;
  int n;

  ggml_tensor* norm(ggml_tensor* x, ggml_tensor* w) const { return ggml_mul(ctx, ggml_rms_norm(ctx, x, hp.rms_eps), w); }

  ggml_tensor* linear(ggml_tensor* w, ggml_tensor* x, ggml_tensor* b) const {
    ggml_tensor* y = ggml_mul_mat(ctx, w, x);
    return b ? ggml_add(ctx, y, b) : y;
  }

  ggml_tensor* rope(ggml_tensor* t) const {
    // ext_factor 0, attn_factor 1, beta 32/1: libllama's values for a model without YaRN.
    return ggml_rope_ext(ctx, t, pos, freqs, hp.head_dim, hp.rope_mode, hp.n_ctx_train, hp.rope_freq_base, hp.rope_freq_scale,
                         0.0f, 1.0f, 32.0f, 1.0f);
  }

  // Q [hd, heads, n] and K [hd, kv, n] roped, V [hd, kv, n] (only when `want_v`), from the normed input.
  void qkv(const ScmLayer& l, ggml_tensor* h, ggml_tensor** q, ggml_tensor** k, ggml_tensor** v) const {
    const int64_t hd = hp.head_dim, E = hp.n_embd, G = hd * hp.n_head_kv;
    if (l.wqkv) {
      // Fused rows: Q, then K, then V (libllama's split of attn_qkv).
      ggml_tensor* t = linear(l.wqkv, h, l.bqkv);
      const size_t f = ggml_element_size(t);
      *q = ggml_view_3d(ctx, t, hd, hp.n_head, n, hd * f, t->nb[1], 0);
      *k = ggml_view_3d(ctx, t, hd, hp.n_head_kv, n, hd * f, t->nb[1], E * f);
      if (v) *v = ggml_view_3d(ctx, t, hd, hp.n_head_kv, n, hd * f, t->nb[1], (E + G) * f);
    } else {
      *q = ggml_reshape_3d(ctx, linear(l.wq, h, l.bq), hd, hp.n_head, n);
      *k = ggml_reshape_3d(ctx, linear(l.wk, h, l.bk), hd, hp.n_head_kv, n);
      if (v) *v = ggml_reshape_3d(ctx, linear(l.wv, h, l.bv), hd, hp.n_head_kv, n);
    }
    *q = rope(*q);
    *k = rope(*k);
  }

  // Appends this chunk's rows to a cache at position a; returns the cache's first `b` positions.
  ggml_tensor* append(ggml_cgraph* gf, ggml_tensor* cache, ggml_tensor* t, int a, int b) const {
    ggml_tensor* slot = ggml_view_3d(ctx, cache, cache->ne[0], cache->ne[1], n, cache->nb[1], cache->nb[2], a * cache->nb[2]);
    // Expanded before anything reads the cache: ggml runs nodes in the order they were added.
    ggml_build_forward_expand(gf, ggml_cpy(ctx, t, slot));
    return ggml_view_3d(ctx, cache, cache->ne[0], cache->ne[1], b, cache->nb[1], cache->nb[2], 0);
  }

  // Softmax over each row's causal range of (Q K^T) / sqrt(hd): [b, n, heads].
  ggml_tensor* probs(ggml_tensor* q, ggml_tensor* keys, ggml_tensor* mask) const {
    ggml_tensor* kq = ggml_mul_mat(ctx, ggml_permute(ctx, keys, 0, 2, 1, 3), ggml_permute(ctx, q, 0, 2, 1, 3));
    return ggml_soft_max_ext(ctx, kq, mask, 1.0f / std::sqrt(static_cast<float>(hp.head_dim)), 0.0f);
  }
};

}  // namespace

ScmChunkGraph build_scm_chunk(const ScmWeights& w, const ScmCaches& caches, int a, int n, const std::vector<ScmBlock>& blocks) {
  const ScmHparams& hp = w.hp();
  const int b = a + n;  // keys 0..b-1 are visible to this chunk
  ScmChunkGraph g;
  ggml_init_params ip{ggml_tensor_overhead() * kMaxNodes + ggml_graph_overhead_custom(kMaxNodes, false), nullptr, true};
  g.ctx.reset(ggml_init(ip));
  if (!g.ctx) throw Error(ErrorCode::OutOfMemory, "cannot create the SCM graph context");
  ggml_context* ctx = g.ctx.get();
  g.gf = ggml_new_graph_custom(ctx, kMaxNodes, false);

  g.x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, hp.n_embd, n);
  g.pos = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, n);
  g.mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, b, n);
  for (ggml_tensor* t : {g.x, g.pos, g.mask}) ggml_set_input(t);
  Builder B{ctx, hp, g.pos, w.rope_freqs(), n};

  // Layer 0, complete.
  const ScmLayer& l0 = w.layer(0);
  ggml_tensor *q, *k, *v;
  B.qkv(l0, B.norm(g.x, l0.attn_norm), &q, &k, &v);
  ggml_tensor* keys = B.append(g.gf, caches.k0, k, a, b);
  ggml_tensor* values = B.append(g.gf, caches.v0, v, a, b);
  ggml_tensor* p = B.probs(q, keys, g.mask);
  ggml_tensor* vt = ggml_cont(ctx, ggml_permute(ctx, values, 1, 2, 0, 3));     // [b, hd, kv]
  ggml_tensor* o = ggml_cont(ctx, ggml_permute(ctx, ggml_mul_mat(ctx, vt, p), 0, 2, 1, 3));  // [hd, heads, n]
  ggml_tensor* attn = B.linear(l0.wo, ggml_reshape_2d(ctx, o, hp.n_embd, n), l0.bo);
  ggml_tensor* h1 = ggml_add(ctx, g.x, attn);
  ggml_tensor* m = B.norm(h1, l0.ffn_norm);
  ggml_tensor* ffn = B.linear(l0.down, ggml_mul(ctx, ggml_silu(ctx, B.linear(l0.gate, m, nullptr)), B.linear(l0.up, m, nullptr)), nullptr);
  g.out0 = ggml_add(ctx, h1, ffn);
  ggml_set_output(g.out0);
  ggml_build_forward_expand(g.gf, g.out0);

  // Layer 1 up to its roped Q and K.
  const ScmLayer& l1 = w.layer(1);
  B.qkv(l1, B.norm(g.out0, l1.attn_norm), &q, &k, nullptr);
  keys = B.append(g.gf, caches.k1, k, a, b);

  // Rows that score a block: those at or after its end. Sum their probabilities on its columns.
  g.colsum.assign(blocks.size(), nullptr);
  g.rows.assign(blocks.size(), 0);
  ggml_tensor* p1 = nullptr;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const int first_row = std::max(blocks[i].start + blocks[i].length, a) - a;
    if (first_row >= n) continue;
    if (!p1) p1 = B.probs(q, keys, g.mask);
    const int rows = n - first_row, H = blocks[i].length;
    ggml_tensor* part = ggml_view_3d(ctx, p1, H, rows, hp.n_head, p1->nb[1], p1->nb[2],
                                     blocks[i].start * p1->nb[0] + first_row * p1->nb[1]);
    // [rows, H, heads] so that sum_rows adds over the query rows.
    ggml_tensor* s = ggml_sum_rows(ctx, ggml_cont(ctx, ggml_permute(ctx, part, 1, 0, 2, 3)));
    ggml_set_output(s);
    ggml_build_forward_expand(g.gf, s);
    g.colsum[i] = s;
    g.rows[i] = rows;
  }
  return g;
}

}  // namespace mm
