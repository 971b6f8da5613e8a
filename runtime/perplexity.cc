#include "runtime/perplexity.h"

#include <cmath>
#include <string>

namespace skv {

StatusOr<PerplexityResult> ComputePerplexity(
    Session& session, const std::vector<int32_t>& tokens, int64_t n_chunks_max,
    const std::function<void(int64_t, double)>& on_chunk) {
  const int64_t n_ctx = session.n_ctx();
  const int64_t n_vocab = session.model().config().n_vocab;
  const int32_t bos = session.model().tokenizer().bos();
  const bool add_bos = !tokens.empty() && bos >= 0 && tokens[0] == bos;
  if (static_cast<int64_t>(tokens.size()) < 2 * n_ctx) {
    return Status::Error("perplexity needs at least 2 * -c/--ctx-size = " +
                         std::to_string(2 * n_ctx) + " tokens, the text has " +
                         std::to_string(tokens.size()));
  }
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (n_chunks_max > 0) n_chunks = std::min(n_chunks, n_chunks_max);
  const int64_t first = n_ctx / 2;  // score only the second half
  PerplexityResult r;
  double nll = 0, nll2 = 0;
  std::vector<float> logits;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx,
                               tokens.begin() + (c + 1) * n_ctx);
    if (add_bos) chunk[0] = bos;
    session.Reset();
    SKV_RETURN_IF_ERROR(session.Evaluate(chunk, /*all_logits=*/true, &logits));
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const float* row = logits.data() + j * n_vocab;
      float max = row[0];
      for (int64_t v = 1; v < n_vocab; ++v) max = std::max(max, row[v]);
      double sum = 0;
      for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(double(row[v]) - max);
      const int32_t target = tokens[c * n_ctx + j + 1];
      const double token_nll = -(double(row[target]) - max - std::log(sum));
      nll += token_nll;
      nll2 += token_nll * token_nll;
      ++r.scored_tokens;
    }
    r.chunks = c + 1;
    r.chunk_ppl.push_back(std::exp(nll / r.scored_tokens));
    if (on_chunk) on_chunk(c, r.chunk_ppl.back());
  }
  const double n = static_cast<double>(r.scored_tokens);
  r.mean_nll = nll / n;
  r.ppl = std::exp(r.mean_nll);
  const double var = nll2 / n - r.mean_nll * r.mean_nll;
  // Standard error of the mean NLL, propagated to PPL (d exp(x) = exp(x) dx).
  r.ppl_stderr = n > 1 ? r.ppl * std::sqrt(std::max(var, 0.0) / (n - 1)) : 0.0;
  return r;
}

}  // namespace skv
