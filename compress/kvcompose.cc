// `kvcompose` (arXiv 2509.05165): composite tokens with a layer-adaptive
// global budget (docs/method.md section 3).
// 1. Each query head scores each entry by the max probability it received
//    from the probe queries (the last --probe-queries queries of the prompt,
//    or all of them; the paper re-reads the whole context, which costs a
//    second prefill). Scores are averaged over each GQA group, and the mean
//    over KV heads is added to every head's score (the paper's stabiliser).
// 2. Each KV head ranks its own entries; slot j of a layer holds every head's
//    j-th best entry, so the layer stays dense [G][b_l][D] while heads keep
//    different tokens. The composite score c[l][j] is the mean over heads of
//    the heads' j-th best scores.
// 3. The global budget keeps the top floor(L * budget(N)) composite scores of
//    all layers; layer l keeps b_l of them. Layer 0 is raised to the largest
//    b_l, paid for by the lowest composite scores kept elsewhere, so the
//    total stays exact.
// [ours] The observation window is kept, as in every method here. On
// sliding-window layers only the entries later queries can still see (the
// last window - 1 positions) compete, and the global budget is the ratio of
// the cache the uncompressed model really stores (docs/compression.md), not
// of L * N: otherwise Gemma 3's window-bounded layers would absorb the budget
// with entries nobody can attend to.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Entries of a layer that later queries can still see: all, or on a
// sliding-window layer those at positions > N - window.
int64_t LiveFrom(const LayerScores& layer) {
  if (layer.sliding_window <= 0) return 0;
  const int64_t next = layer.prompt_length();
  int64_t j = 0;
  while (j < layer.n && (layer.positions != nullptr ? layer.positions[j] : j) <=
                            next - layer.sliding_window) {
    ++j;
  }
  return j;
}

// Per-KV-head scores [G][n] (step 1), window entries +inf.
std::vector<float> HeadScores(const LayerScores& layer, int64_t window) {
  const int64_t n = layer.n, G = layer.n_kv_heads, rep = layer.n_heads / G;
  std::vector<float> s(G * n, 0.f);  // [G][n]
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t r = 0; r < rep; ++r) {
      const float* src = layer.scores + (g * rep + r) * n;
      for (int64_t j = 0; j < n; ++j) s[g * n + j] += src[j] / static_cast<float>(rep);
    }
  }
  std::vector<float> mean(n, 0.f);  // [n]
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t j = 0; j < n; ++j) mean[j] += s[g * n + j] / static_cast<float>(G);
  }
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t j = 0; j < n; ++j) {
      s[g * n + j] = j >= n - window ? kInf : s[g * n + j] + mean[j];
    }
  }
  return s;
}

// Each head's entries by descending score (ties: lower index): [G][n].
std::vector<int32_t> RankPerHead(const std::vector<float>& s, int64_t G, int64_t n) {
  std::vector<int32_t> order(G * n);
  for (int64_t g = 0; g < G; ++g) {
    int32_t* o = order.data() + g * n;
    const float* sg = s.data() + g * n;
    std::iota(o, o + n, 0);
    std::stable_sort(o, o + n, [&](int32_t a, int32_t b) { return sg[a] > sg[b]; });
  }
  return order;
}

LayerKeep KeepTop(const std::vector<int32_t>& order, int64_t G, int64_t n,
                  int64_t b) {
  LayerKeep keep(G);
  for (int64_t g = 0; g < G; ++g) {
    keep[g].assign(order.begin() + g * n, order.begin() + g * n + b);
    std::sort(keep[g].begin(), keep[g].end());
  }
  return keep;
}

class KvComposeMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "kvcompose"; }
  ScoreSource scores_needed() const override { return ScoreSource::kProbeMax; }

  // One layer alone: the uniform budget, head-specific token sets.
  LayerKeep Select(const LayerScores& layer) const override {
    const int64_t w = std::min(options_.window, layer.n);
    const int64_t G = layer.n_kv_heads;
    const std::vector<float> s = HeadScores(layer, w);
    return KeepTop(RankPerHead(s, G, layer.n), G, layer.n,
                   std::min(layer.n, options_.budget.Entries(layer.prompt_length(), w)));
  }

  std::vector<LayerKeep> SelectLayers(
      const std::vector<LayerScores>& layers) const override {
    const int64_t L = static_cast<int64_t>(layers.size());
    std::vector<std::vector<int32_t>> order(L);     // [L][G * n_l]
    std::vector<std::vector<float>> composite(L);   // [L][n_l], non-increasing
    std::vector<int64_t> floor_b(L);                // the window, always kept
    int64_t storable = 0, fixed_total = 0;
    for (int64_t l = 0; l < L; ++l) {
      const LayerScores& ls = layers[l];
      const int64_t n = ls.n, G = ls.n_kv_heads;
      floor_b[l] = std::min(options_.window, n);
      std::vector<float> s = HeadScores(ls, floor_b[l]);
      const int64_t live_from = LiveFrom(ls);
      for (int64_t g = 0; g < G; ++g) {
        std::fill_n(s.begin() + g * n, live_from, -kInf);  // nobody can see these
      }
      order[l] = RankPerHead(s, G, n);
      const int64_t live = n - live_from;
      composite[l].assign(live, 0.f);  // ranked slots that can hold a live entry
      for (int64_t j = 0; j < live; ++j) {
        float c = 0.f;
        for (int64_t g = 0; g < G; ++g) c += s[g * n + order[l][g * n + j]];
        composite[l][j] = c / static_cast<float>(G);
      }
      storable += live;
      fixed_total += options_.budget.tokens > 0 ? std::min(live, options_.budget.tokens) : 0;
    }
    // The ratio of what is storable, or the absolute count per layer.
    int64_t total = options_.budget.tokens > 0
                        ? fixed_total
                        : static_cast<int64_t>(std::floor(options_.budget.ratio *
                                                          static_cast<double>(storable)));
    // Global top `total` of all composite scores (ties: lower layer, lower j).
    struct Slot { float c; int32_t l, j; };
    std::vector<Slot> all;
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t j = 0; j < static_cast<int64_t>(composite[l].size()); ++j) {
        all.push_back({composite[l][j], static_cast<int32_t>(l), static_cast<int32_t>(j)});
      }
    }
    auto better = [](const Slot& a, const Slot& b) {
      if (a.c != b.c) return a.c > b.c;
      return a.l != b.l ? a.l < b.l : a.j < b.j;
    };
    total = std::min<int64_t>(total, static_cast<int64_t>(all.size()));
    std::sort(all.begin(), all.end(), better);
    std::vector<int64_t> b(L, 0);
    for (int64_t i = 0; i < total; ++i) ++b[all[i].l];
    // Layer 0 gets the largest budget; the lowest kept slots of the other
    // layers pay for it (never below their window).
    const int64_t want0 = std::min<int64_t>(*std::max_element(b.begin(), b.end()),
                                            static_cast<int64_t>(composite[0].size()));
    int64_t debt = want0 - b[0];
    for (int64_t i = total - 1; i >= 0 && debt > 0; --i) {
      const int32_t l = all[i].l;
      if (l == 0 || b[l] <= floor_b[l]) continue;
      --b[l];
      --debt;
    }
    b[0] = want0 - debt;
    std::vector<LayerKeep> keep(L);
    for (int64_t l = 0; l < L; ++l) {
      const int64_t n = layers[l].n, G = layers[l].n_kv_heads;
      keep[l] = KeepTop(order[l], G, n, std::max(b[l], floor_b[l]));
    }
    return keep;
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateKvComposeMethod(const MethodOptions& options) {
  return std::make_unique<KvComposeMethod>(options);
}

}  // namespace skv
