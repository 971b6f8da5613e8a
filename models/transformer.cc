#include "models/transformer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/check.h"
#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/attention.h"
#include "simd/matmul.h"
#include "simd/ops.h"
#include "simd/quant.h"

namespace skv {
namespace {

MatrixRef Matrix(const WeightTensor& w) {
  MatrixRef m;
  m.data = w.data;
  m.type = w.type;
  m.rows = w.rows;
  m.cols = w.cols;
  m.row_bytes = w.row_bytes;
  return m;
}

// y[T][w.rows] = x[T][w.cols] * W^T (+ bias).
void Project(const WeightTensor& w, const WeightTensor& bias, const float* x,
             int64_t T, float* y) {
  MatMul(Matrix(w), x, w.cols, T, y, w.rows);
  if (bias.present()) {
    ParallelFor(T, [&](int64_t t) { AddInPlace(y + t * w.rows, bias.f32(), w.rows); });
  }
}

// Normalises T rows of n floats: out[t] = RmsNorm(x[t]) * weight.
void NormRows(const float* x, const WeightTensor& weight, float eps, int64_t T,
              int64_t n, float* out) {
  ParallelFor(T, [&](int64_t t) {
    RmsNorm(x + t * n, weight.f32(), eps, n, out + t * n);
  });
}

// Scratch of one sub-batch of rows (the whole batch, or one chunk of a
// chunked layer). Shapes use T = the most rows it serves; the residual
// stream lives outside, for every row of the batch.
struct Activations {
  explicit Activations(const ModelConfig& c, int64_t T)
      : h(T * c.n_embd), q(T * c.q_dim()),
        k(T * c.kv_dim()), v(T * c.v_dim()), att(T * c.q_dim()),
        o(T * c.n_embd), gate(T * c.n_ff), up(T * c.n_ff) {}
  std::vector<float> h;     // [T][n_embd] normalised input of a sub-block
  std::vector<float> q;     // [T][n_heads][head_dim]
  std::vector<float> k;     // [T][n_kv_heads][head_dim]
  std::vector<float> v;     // [T][n_kv_heads][head_dim_v]
  std::vector<float> att;   // [T][n_heads][head_dim_v]
  std::vector<float> o;     // [T][n_embd] sub-block output
  std::vector<float> gate;  // [T][n_ff]
  std::vector<float> up;    // [T][n_ff]
};

// x: [T][n_embd] the rows' residual stream, updated in place. The probe's
// window scores are emitted only when emit_scores (the batch's last rows).
void AttentionBlock(const ModelConfig& c, int64_t layer, const LayerConfig& lc,
                    const LayerWeights& w, std::span<const int32_t> pos,
                    LayerKv& layer_kv, float* x, Activations& a,
                    const AttentionProbe* probe, bool emit_scores) {
  const int64_t T = static_cast<int64_t>(pos.size());
  NormRows(x, w.attn_norm, c.norm_eps, T, c.n_embd, a.h.data());
  Project(w.wq, w.bq, a.h.data(), T, a.q.data());
  Project(w.wk, w.bk, a.h.data(), T, a.k.data());
  Project(w.wv, w.bv, a.h.data(), T, a.v.data());
  if (w.q_norm.present()) {
    RmsNormRows(a.q.data(), T * c.n_heads, c.head_dim, c.head_dim,
                w.q_norm.f32(), c.norm_eps);
  }
  if (w.k_norm.present()) {
    RmsNormRows(a.k.data(), T * c.n_kv_heads, c.head_dim, c.head_dim,
                w.k_norm.f32(), c.norm_eps);
  }
  ParallelFor(T, [&](int64_t t) {
    float* q = a.q.data() + t * c.q_dim();
    Rope(q, c.n_heads, c.head_dim, pos[t], lc.rope);
    // Like ggml's K.Q product, the query meets the keys in the cache's type
    // (f16, bf16, or q8_0 blocks), so scores match llama.cpp's.
    RoundActivations(layer_kv.type(), q, q, c.q_dim());
    Rope(a.k.data() + t * c.kv_dim(), c.n_kv_heads, c.head_dim, pos[t],
         lc.rope);
  });
  layer_kv.Append(a.k.data(), a.v.data(), pos.data(), T);

  AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim};
  AttentionMask mask;
  mask.sliding_window = lc.sliding_window;
  mask.softcap = c.attn_softcap;
  const KvView view = layer_kv.View();
  if (probe != nullptr && probe->on_layer && emit_scores) {
    const int64_t w = std::min(probe->window, T);
    std::vector<float> scores(c.n_heads * view.n);  // [n_heads][n_kv]
    std::vector<float> rows(probe->want_rows ? c.n_heads * w * view.n : 0);
    std::vector<float> last(probe->want_last_logits ? c.n_heads * view.n : 0);
    WindowSaliency saliency{w, scores.data(), probe->reduce_max,
                            rows.empty() ? nullptr : rows.data(),
                            last.empty() ? nullptr : last.data()};
    Attention(shape, mask, c.attn_scale, a.q.data(), pos.data(), T, view,
              a.att.data(), &saliency);
    LayerAttention out;
    out.layer = layer;
    out.n_kv = view.n;
    out.scores = scores.data();
    out.window_rows = rows.empty() ? 0 : w;
    out.rows = saliency.rows;
    out.last_logits = saliency.last_logits;
    probe->on_layer(out);
  } else {
    Attention(shape, mask, c.attn_scale, a.q.data(), pos.data(), T, view,
              a.att.data());
  }
  if (probe != nullptr && probe->on_attention_output) {
    probe->on_attention_output(layer, a.att.data(), pos.data(), T);
  }
  Project(w.wo, WeightTensor{}, a.att.data(), T, a.o.data());
  if (w.post_attn_norm.present()) {
    NormRows(a.o.data(), w.post_attn_norm, c.norm_eps, T, c.n_embd,
             a.o.data());
  }
  ParallelFor(T, [&](int64_t t) {
    AddInPlace(x + t * c.n_embd, a.o.data() + t * c.n_embd, c.n_embd);
  });
}

// x: [T][n_embd] as for AttentionBlock.
void FeedForwardBlock(const ModelConfig& c, const LayerWeights& w, int64_t T,
                      float* x, Activations& a) {
  NormRows(x, w.ffn_norm, c.norm_eps, T, c.n_embd, a.h.data());
  Project(w.w_gate, WeightTensor{}, a.h.data(), T, a.gate.data());
  Project(w.w_up, WeightTensor{}, a.h.data(), T, a.up.data());
  ParallelFor(T, [&](int64_t t) {
    float* g = a.gate.data() + t * c.n_ff;
    const float* u = a.up.data() + t * c.n_ff;
    if (c.activation == FfnActivation::kGeluTanh) {
      GeluTanhMul(g, u, c.n_ff, g);
    } else {
      SiluMul(g, u, c.n_ff, g);
    }
  });
  Project(w.w_down, WeightTensor{}, a.gate.data(), T, a.o.data());
  if (w.post_ffn_norm.present()) {
    NormRows(a.o.data(), w.post_ffn_norm, c.norm_eps, T, c.n_embd,
             a.o.data());
  }
  ParallelFor(T, [&](int64_t t) {
    AddInPlace(x + t * c.n_embd, a.o.data() + t * c.n_embd, c.n_embd);
  });
}

// End of the chunk of a layer's rows that starts at c0: `chunk` rows, except
// that the last chunk takes at least `window` rows (the probe's window rows
// must be in one attention call) by absorbing a short tail.
int64_t ChunkEnd(int64_t c0, int64_t rows, int64_t chunk, int64_t window) {
  const int64_t c1 = std::min(rows, c0 + chunk);
  return rows - c1 < window ? rows : c1;
}

}  // namespace

void Forward(const Model& model, std::span<const int32_t> tokens,
             std::span<const int32_t> positions, KvStore& kv,
             std::span<const int64_t> logit_rows, float* logits,
             const AttentionProbe* probe) {
  const ModelConfig& c = model.config();
  const ModelWeights& w = model.weights();
  const int64_t T = static_cast<int64_t>(tokens.size());
  SKV_CHECK(positions.size() == tokens.size());
  SKV_CHECK(kv.n_layers() == c.n_layers);
  if (T == 0) return;
  // Layer-major over chunks: a one-batch prefill computes each layer like
  // batches of `chunk` rows would (same GEMM and attention shapes), and its
  // scratch holds one chunk.
  const int64_t window =
      probe != nullptr ? std::clamp<int64_t>(probe->window, 0, T) : 0;
  const int64_t chunk =
      probe != nullptr && probe->layer_chunk > 0 ? std::min(T, probe->layer_chunk) : T;
  std::vector<float> x(T * c.n_embd);  // [T][n_embd] residual stream
  Activations a(c, std::min(T, chunk + window));

  const auto* embd = static_cast<const uint8_t*>(w.token_embd.data);
  ParallelFor(T, [&](int64_t t) {
    SKV_CHECK(tokens[t] >= 0 && tokens[t] < c.n_vocab);
    float* row = x.data() + t * c.n_embd;
    DequantizeRow(w.token_embd.type, embd + tokens[t] * w.token_embd.row_bytes,
                  row, c.n_embd);
    if (c.embd_scale != 1.f) ScaleInPlace(row, c.embd_scale, c.n_embd);
  });

  std::vector<int32_t> pos(positions.begin(), positions.end());  // [T]
  std::vector<int64_t> row_of(T);  // [T] current row of each batch row, -1 if dropped
  for (int64_t t = 0; t < T; ++t) row_of[t] = t;
  int64_t rows = T;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    for (int64_t c0 = 0; c0 < rows;) {
      const int64_t c1 = ChunkEnd(c0, rows, chunk, window);
      float* xc = x.data() + c0 * c.n_embd;
      AttentionBlock(c, l, c.layers[l], w.layers[l], std::span(pos).subspan(c0, c1 - c0),
                     kv.layer(l), xc, a, probe, /*emit_scores=*/c1 == rows);
      FeedForwardBlock(c, w.layers[l], c1 - c0, xc, a);
      c0 = c1;
    }
    if (probe != nullptr && probe->last_layer == l) return;
    if (probe == nullptr || !probe->rows_after_layer) continue;
    const std::vector<int64_t> keep = probe->rows_after_layer(l);
    if (keep.empty()) continue;
    // Gather the surviving residual rows to the front (ascending, so the
    // copy never overwrites a row still to be read).
    for (int64_t i = 0; i < static_cast<int64_t>(keep.size()); ++i) {
      const int64_t r = keep[i];
      SKV_CHECK(r >= i && r < rows && (i == 0 || r > keep[i - 1]));
      std::copy_n(x.data() + r * c.n_embd, c.n_embd, x.data() + i * c.n_embd);
      pos[i] = pos[r];
    }
    for (int64_t t = 0; t < T; ++t) {
      if (row_of[t] < 0) continue;
      const auto it = std::lower_bound(keep.begin(), keep.end(), row_of[t]);
      row_of[t] = (it != keep.end() && *it == row_of[t]) ? it - keep.begin() : -1;
    }
    rows = static_cast<int64_t>(keep.size());
  }

  const int64_t n_out = static_cast<int64_t>(logit_rows.size());
  if (n_out == 0) return;
  std::vector<float> final_rows(n_out * c.n_embd);  // [n_out][n_embd]
  ParallelFor(n_out, [&](int64_t i) {
    SKV_CHECK(logit_rows[i] >= 0 && logit_rows[i] < T && row_of[logit_rows[i]] >= 0);
    RmsNorm(x.data() + row_of[logit_rows[i]] * c.n_embd, w.output_norm.f32(),
            c.norm_eps, c.n_embd, final_rows.data() + i * c.n_embd);
  });
  MatMul(Matrix(w.output), final_rows.data(), c.n_embd, n_out, logits,
         c.n_vocab);
  if (c.final_softcap > 0.f) {
    const float cap = c.final_softcap;
    ParallelFor(n_out, [&](int64_t i) {
      float* row = logits + i * c.n_vocab;
      for (int64_t j = 0; j < c.n_vocab; ++j) row[j] = cap * std::tanh(row[j] / cap);
    });
  }
}

}  // namespace skv
