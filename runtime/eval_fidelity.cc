#include "runtime/eval_fidelity.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "runtime/compress_prefill.h"
#include "runtime/session.h"

namespace skv {
namespace {

// log-softmax of one row into `out` [n] (double: KL of near-equal rows
// subtracts close numbers).
void LogSoftmax(const float* row, int64_t n, std::vector<double>& out) {
  out.resize(n);
  double max = row[0];
  for (int64_t v = 1; v < n; ++v) max = std::max<double>(max, row[v]);
  double sum = 0;
  for (int64_t v = 0; v < n; ++v) sum += std::exp(row[v] - max);
  const double lse = max + std::log(sum);
  for (int64_t v = 0; v < n; ++v) out[v] = row[v] - lse;
}

int64_t ArgmaxRow(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t v = 1; v < n; ++v) {
    if (row[v] > row[best]) best = v;
  }
  return best;
}

// Everything the uncompressed run produced for one prompt.
struct Reference {
  std::vector<float> logits;                // [C][n_vocab]
  std::vector<std::vector<float>> att;      // [L][C * n_heads * head_dim_v]
};

// Teacher-forces `cont` after whatever `session` holds, capturing logits and
// each layer's attention output.
Status Continue(Session& session, const std::vector<int32_t>& cont, Reference& out) {
  const int64_t L = session.model().config().n_layers;
  out.att.assign(L, {});
  AttentionProbe probe;
  probe.on_attention_output = [&](int64_t layer, const float* att, const int32_t*, int64_t rows) {
    // Rows arrive batch by batch; one batch here (C <= n_batch) but append
    // anyway so that the order is the continuation's.
    const int64_t width = session.model().config().n_heads * session.model().config().head_dim_v;
    out.att[layer].insert(out.att[layer].end(), att, att + rows * width);
  };
  return session.Evaluate(cont, /*all_logits=*/true, &out.logits, &probe);
}

std::string FidelityKey(const EvalConfig& c, int64_t length, int64_t index, int64_t cont,
                        const MethodRun& r) {
  const MethodOptions& o = c.method_options;
  return fmt::format("fid1|{}|{}|{}|cont={}|{}|{:.4g}|seed={}|hay={}|w={}|pk={}|sr={:.4g}|"
                     "pivot={}|lambda={:.4g}|pq={}",
                     c.model_name, length, index, cont, r.method, r.budget, c.seed, c.haystack,
                     o.window, o.pool_kernel, o.struct_rate, o.pivot, o.lambda, o.probe_queries);
}

}  // namespace

FidelityMetrics CompareLogits(std::span<const float> full, std::span<const float> comp,
                              int64_t n_vocab, std::span<const int32_t> targets) {
  FidelityMetrics m;
  const int64_t C = static_cast<int64_t>(full.size()) / n_vocab;
  SKV_CHECK(static_cast<int64_t>(comp.size()) == C * n_vocab);
  SKV_CHECK(static_cast<int64_t>(targets.size()) == C);
  std::vector<double> lf, lc, kls;
  int64_t agree = 0, scored = 0;
  double nll_f = 0, nll_c = 0;
  for (int64_t i = 0; i < C; ++i) {
    const float* rf = full.data() + i * n_vocab;
    const float* rc = comp.data() + i * n_vocab;
    LogSoftmax(rf, n_vocab, lf);
    LogSoftmax(rc, n_vocab, lc);
    double kl = 0;
    for (int64_t v = 0; v < n_vocab; ++v) kl += std::exp(lf[v]) * (lf[v] - lc[v]);
    kls.push_back(std::max(0.0, kl));  // rounding can give -1e-17
    const int64_t af = ArgmaxRow(rf, n_vocab), ac = ArgmaxRow(rc, n_vocab);
    agree += af == ac ? 1 : 0;
    if (targets[i] >= 0) {
      ++scored;
      nll_f -= lf[targets[i]];
      nll_c -= lc[targets[i]];
      const bool right_f = af == targets[i], right_c = ac == targets[i];
      m.flips_lost += right_f && !right_c ? 1 : 0;
      m.flips_gained += !right_f && right_c ? 1 : 0;
    }
  }
  m.positions = C;
  if (C == 0) return m;
  double sum = 0;
  for (double k : kls) sum += k;
  m.kl_mean = sum / C;
  std::vector<double> sorted = kls;
  std::sort(sorted.begin(), sorted.end());
  // Nearest-rank percentile.
  const int64_t rank = static_cast<int64_t>(std::ceil(0.99 * C)) - 1;
  m.kl_p99 = sorted[std::clamp<int64_t>(rank, 0, C - 1)];
  m.kl_max = sorted.back();
  m.top1_agreement = static_cast<double>(agree) / C;
  if (scored > 0) {
    m.nll_full = nll_f / scored;
    m.nll_comp = nll_c / scored;
    m.ppl_ratio = std::exp(m.nll_comp - m.nll_full);
  }
  return m;
}

double RelativeError(std::span<const float> full, std::span<const float> comp) {
  SKV_CHECK(full.size() == comp.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    const double d = static_cast<double>(comp[i]) - full[i];
    num += d * d;
    den += static_cast<double>(full[i]) * full[i];
  }
  if (den == 0) return num == 0 ? 0.0 : INFINITY;
  return std::sqrt(num / den);
}

Status RunFidelity(const Model& model, const EvalConfig& c, int64_t continuation) {
  SKV_RETURN_IF_ERROR(ValidateEvalConfig(c));
  if (continuation < 2) return Status::Error("--continuation must be >= 2 tokens");
  SKV_ASSIGN_OR_RETURN(Haystack prose, LoadHaystack(c.haystack_dir, c.haystack));
  SKV_ASSIGN_OR_RETURN(ResultStore store, ResultStore::Open(c.out_dir + "/fidelity.jsonl"));
  const std::vector<MethodRun> runs = PlanMethodRuns(c);
  int64_t total = 0, done = 0;
  for (int64_t len : c.lengths) {
    for (int64_t i = 0; i < c.samples; ++i) {
      for (const MethodRun& r : runs) {
        ++total;
        done += store.Done(FidelityKey(c, len, i, continuation, r)) ? 1 : 0;
      }
    }
  }
  fmt::print(stderr, "fidelity: {} comparisons planned, {} already in {}; haystack {}\n", total,
             done, store.path(), prose.source);
  ProgressBar progress(total, done);
  const Tokenizer& tok = model.tokenizer();
  const ModelConfig& mc = model.config();
  const int64_t n_sent = static_cast<int64_t>(prose.sentences.size());
  for (int64_t len : c.lengths) {
    for (int64_t i = 0; i < c.samples; ++i) {
      bool pending = false;
      for (const MethodRun& r : runs) pending = pending || !store.Done(FidelityKey(c, len, i, continuation, r));
      if (!pending) continue;
      // Held-out text: consecutive sentences from a seeded offset, tokenized
      // once and cut into prefix [len] and continuation [continuation].
      EvalRng rng(DeriveSeed(c.seed, "fidelity", i, len));
      const int64_t offset = rng.Uniform(n_sent);
      std::string text;
      std::vector<int32_t> ids;
      for (int64_t s = 0; static_cast<int64_t>(ids.size()) < len + continuation; s += 64) {
        for (int64_t k = s; k < s + 64; ++k) text += prose.sentences[(offset + k) % n_sent] + " ";
        ids = tok.Encode(text, true, false);
        if (s > 16 * n_sent) return Status::Error("fidelity: the haystack is too small");
      }
      const std::vector<int32_t> prefix(ids.begin(), ids.begin() + len);
      const std::vector<int32_t> cont(ids.begin() + len, ids.begin() + len + continuation);
      std::vector<int32_t> targets(continuation, -1);  // [C] token after each position
      for (int64_t j = 0; j + 1 < continuation; ++j) targets[j] = cont[j + 1];
      SessionOptions so;
      so.n_ctx = len + continuation;
      Reference ref;
      {
        SKV_ASSIGN_OR_RETURN(Session session, Session::Create(model, so));
        SKV_RETURN_IF_ERROR(session.Evaluate(prefix, false, nullptr));
        SKV_RETURN_IF_ERROR(Continue(session, cont, ref));
      }
      for (const MethodRun& r : runs) {
        const std::string key = FidelityKey(c, len, i, continuation, r);
        if (store.Done(key)) continue;
        MethodOptions mo = c.method_options;
        mo.budget.ratio = r.budget;
        mo.budget.tokens = 0;
        SKV_ASSIGN_OR_RETURN(std::unique_ptr<KvMethod> method, CreateKvMethod(r.method, mo));
        SKV_ASSIGN_OR_RETURN(Session session, Session::Create(model, so));
        SKV_ASSIGN_OR_RETURN(CompressionReport report,
                             PrefillAndCompress(session, prefix, *method, continuation));
        Reference got;
        SKV_RETURN_IF_ERROR(Continue(session, cont, got));
        const FidelityMetrics m = CompareLogits(ref.logits, got.logits, mc.n_vocab, targets);
        std::vector<double> att_err(mc.n_layers);
        for (int64_t l = 0; l < mc.n_layers; ++l) att_err[l] = RelativeError(ref.att[l], got.att[l]);
        nlohmann::json row = {
            {"key", key},
            {"kind", "fidelity"},
            {"model", c.model_name},
            {"length", len},
            {"index", i},
            {"continuation", continuation},
            {"method", r.method},
            {"budget", r.budget},
            {"seed", c.seed},
            {"haystack", prose.name},
            {"haystack_source", prose.source},
            {"kl_mean", m.kl_mean},
            {"kl_p99", m.kl_p99},
            {"kl_max", m.kl_max},
            {"top1_agreement", m.top1_agreement},
            {"flips_lost", m.flips_lost},
            {"flips_gained", m.flips_gained},
            {"scored_positions", continuation - 1},
            {"nll_full", m.nll_full},
            {"nll_comp", m.nll_comp},
            {"ppl_ratio", m.ppl_ratio},
            {"att_rel_err", att_err},
            {"compression_ratio", report.compression_ratio()},
            {"kv_bytes_kept", report.kv_bytes_kept},
            {"kv_bytes_full", report.kv_bytes_full},
            {"prefill_s", report.seconds},
        };
        SKV_RETURN_IF_ERROR(store.Append(row));
        progress.Advance(fmt::format("L={} #{} {}@{:.4g} KL={:.3g} top1={:.3f}", len, i, r.method,
                                     r.budget, m.kl_mean, m.top1_agreement));
      }
    }
  }
  progress.Finish();
  // Summary: mean over samples per (length, method, budget).
  std::map<std::tuple<std::string, int64_t, std::string, double>, std::vector<const nlohmann::json*>> groups;
  for (const nlohmann::json& r : store.rows()) {
    groups[{r.value("model", ""), r.value("length", int64_t{0}), r.value("method", ""),
            r.value("budget", 1.0)}]
        .push_back(&r);
  }
  std::string csv = "model,length,method,budget,n,kl_mean,kl_p99,kl_max,top1_agreement,"
                    "flips_lost,flips_gained,ppl_ratio,att_rel_err_mean\n";
  for (const auto& [k, rows] : groups) {
    const auto& [model_name, len, method, budget] = k;
    double kl = 0, p99 = 0, mx = 0, top1 = 0, lost = 0, gained = 0, ppl = 0, att = 0;
    for (const nlohmann::json* r : rows) {
      kl += r->value("kl_mean", 0.0);
      p99 += r->value("kl_p99", 0.0);
      mx = std::max(mx, r->value("kl_max", 0.0));
      top1 += r->value("top1_agreement", 0.0);
      lost += r->value("flips_lost", 0.0);
      gained += r->value("flips_gained", 0.0);
      ppl += r->value("ppl_ratio", 1.0);
      double a = 0;
      const auto& errs = (*r)["att_rel_err"];
      for (const auto& e : errs) a += e.get<double>();
      att += errs.empty() ? 0.0 : a / errs.size();
    }
    const double n = static_cast<double>(rows.size());
    csv += fmt::format("{},{},{},{:.4g},{},{:.5g},{:.5g},{:.5g},{:.4f},{:.2f},{:.2f},{:.4f},{:.4f}\n",
                       model_name, len, method, budget, rows.size(), kl / n, p99 / n, mx, top1 / n,
                       lost / n, gained / n, ppl / n, att / n);
  }
  SKV_RETURN_IF_ERROR(WriteFileAtomically(c.out_dir + "/fidelity_summary.csv", csv));
  fmt::print(stderr, "fidelity: wrote {} and {}/fidelity_summary.csv\n", store.path(), c.out_dir);
  return Status::Ok();
}

}  // namespace skv
