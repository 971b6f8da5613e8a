// Tokenizer factory (GGUF metadata -> TokenizerVocab -> SPM or BPE), the
// vocabulary tables both algorithms share, and Decode.
#include "models/tokenizer.h"

#include <algorithm>
#include <cctype>

#include "models/tokenizer_vocab.h"

namespace skv {
namespace tokenizer_internal {
namespace {

// llama.cpp's token types (tokenizer.ggml.token_type).
uint32_t AttrFromType(int32_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return 0;  // undefined
  }
}

// Texts llama.cpp treats as end-of-turn / end-of-generation markers even when
// the metadata does not name them (ref. llama.cpp issue 9606).
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<\uff5cend\u2581of\u2581sentence\uff5c>",
    "<end_of_utterance>"};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
    "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
    "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
    "<turn|>", "<|tool_response>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "[e~["};

bool IsAsciiSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

StatusOr<std::unique_ptr<Vocab>> Vocab::Build(const TokenizerVocab& in,
                                              bool is_spm,
                                              bool default_add_bos) {
  const std::string where = in.source.empty() ? "vocabulary" : in.source;
  const size_t n = in.tokens.size();
  if (n == 0) return Status::Error(where + ": tokenizer.ggml.tokens is empty");
  if (n >= (1u << 31)) return Status::Error(where + ": tokenizer.ggml.tokens is too large");
  if (!in.scores.empty() && in.scores.size() < n) {
    return Status::Error(where + ": tokenizer.ggml.scores has " +
                         std::to_string(in.scores.size()) + " entries for " +
                         std::to_string(n) + " tokens");
  }
  if (!in.token_types.empty() && in.token_types.size() < n) {
    return Status::Error(where + ": tokenizer.ggml.token_type has " +
                         std::to_string(in.token_types.size()) + " entries for " +
                         std::to_string(n) + " tokens");
  }
  std::unique_ptr<Vocab> v(new Vocab());
  v->model = in.model;
  v->pre = in.pre.empty() ? "default" : in.pre;

  size_t total = 0;
  for (const auto& t : in.tokens) total += t.empty() ? 24 : t.size();
  v->arena_.reserve(total);
  v->offsets_.reserve(n + 1);
  for (size_t i = 0; i < n; ++i) {
    v->offsets_.push_back(static_cast<uint32_t>(v->arena_.size()));
    // llama.cpp renames empty tokens so that the index stays one-to-one.
    if (in.tokens[i].empty()) {
      v->arena_ += "[EMPTY_" + std::to_string(i) + "]";
    } else {
      v->arena_ += in.tokens[i];
    }
  }
  v->offsets_.push_back(static_cast<uint32_t>(v->arena_.size()));
  v->scores_.assign(n, 0.0f);
  if (!in.scores.empty()) std::copy_n(in.scores.begin(), n, v->scores_.begin());
  v->attrs_.assign(n, kAttrNormal);
  if (!in.token_types.empty()) {
    for (size_t i = 0; i < n; ++i) v->attrs_[i] = AttrFromType(in.token_types[i]);
  }
  v->index_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto [it, inserted] = v->index_.emplace(v->text(i), static_cast<int32_t>(i));
    if (!inserted) {
      return Status::Error(where + ": tokenizer.ggml.tokens has duplicate token '" +
                           std::string(v->text(i)) + "' (ids " +
                           std::to_string(it->second) + " and " + std::to_string(i) + ")");
    }
  }

  // Special ids: llama.cpp's per-model defaults, then the metadata.
  auto pick = [&](const std::optional<int64_t>& meta, int32_t def) {
    if (def >= static_cast<int64_t>(n)) def = -1;
    if (meta.has_value() && *meta >= 0 && *meta < static_cast<int64_t>(n)) {
      return static_cast<int32_t>(*meta);
    }
    return def;
  };
  v->bos = pick(in.bos, is_spm ? 1 : 11);
  v->eos = pick(in.eos, is_spm ? 2 : 11);
  v->unk = pick(in.unk, is_spm ? 0 : -1);
  v->eot = pick(in.eot, -1);
  v->eom = pick(in.eom, -1);
  v->pad = pick(in.pad, -1);
  v->add_bos = in.add_bos.value_or(is_spm ? true : default_add_bos);
  v->add_eos = in.add_eos.value_or(false);
  v->add_space_prefix = is_spm ? in.add_space_prefix.value_or(true) : false;
  if (v->add_bos && v->bos < 0) {
    return Status::Error(where + ": tokenizer.ggml.add_bos_token is true, but "
                                 "tokenizer.ggml.bos_token_id is not set");
  }
  if (v->add_eos && v->eos < 0) {
    return Status::Error(where + ": tokenizer.ggml.add_eos_token is true, but "
                                 "tokenizer.ggml.eos_token_id is not set");
  }

  // Markers found by text become control tokens, as in llama.cpp, which also
  // makes them parse only with parse_special.
  if (v->eot < 0) {
    for (std::string_view t : kEotTexts) {
      if (int32_t id = v->Find(t); id >= 0) {
        v->eot = id;
        v->attrs_[id] |= kAttrControl;
        break;
      }
    }
  }
  if (v->eom < 0) {
    if (int32_t id = v->Find("<|eom_id|>"); id >= 0) {
      v->eom = id;
      v->attrs_[id] |= kAttrControl;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if ((v->attrs_[i] & kAttrControl) && v->text(i).find("unused") != std::string_view::npos) {
      v->attrs_[i] |= kAttrUnused;
    }
  }
  for (std::string_view t : kEogTexts) {
    if (int32_t id = v->Find(t); id >= 0) {
      v->eog_.insert(id);
      v->attrs_[id] |= kAttrControl;
    }
  }
  for (int32_t id : {v->eos, v->eot, v->eom}) {
    if (id >= 0) v->eog_.insert(id);
  }
  // llama.cpp's exceptions: gpt-oss / solar-open use <|end|> mid-answer, and
  // Gemma 4 uses </s> as text.
  auto has_eog = [&](std::string_view t) {
    const int32_t id = v->Find(t);
    return id >= 0 && v->eog_.count(id) > 0;
  };
  if (has_eog("<|end|>") && ((has_eog("<|return|>") && has_eog("<|call|>")) ||
                             (has_eog("<|calls|>") && has_eog("<|flush|>")))) {
    const int32_t id = v->Find("<|end|>");
    v->eog_.erase(id);
    v->attrs_[id] = kAttrUserDefined;
  }
  if (has_eog("<|tool_response>") && has_eog("</s>")) {
    const int32_t id = v->Find("</s>");
    v->eog_.erase(id);
    v->attrs_[id] = kAttrNormal;
  }

  // Special tokens, longest first; ties by id so the order is deterministic.
  for (size_t i = 0; i < n; ++i) {
    if (v->attrs_[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      v->specials_.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(v->specials_.begin(), v->specials_.end(), [&](int32_t a, int32_t b) {
    return v->text(a).size() > v->text(b).size();
  });
  v->special_rank_.assign(n, -1);
  v->trie_.emplace_back();
  for (size_t r = 0; r < v->specials_.size(); ++r) {
    const int32_t id = v->specials_[r];
    v->special_rank_[id] = static_cast<int32_t>(r);
    int32_t node = 0;
    for (char c : v->text(id)) {
      auto& ch = v->trie_[node].children;
      const uint8_t b = static_cast<uint8_t>(c);
      auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1}));
      if (it != ch.end() && it->first == b) {
        node = it->second;
      } else {
        const int32_t child = static_cast<int32_t>(v->trie_.size());
        ch.insert(it, {b, child});
        v->trie_.emplace_back();  // invalidates `ch`; not used again
        node = child;
      }
    }
    v->trie_[node].token = id;
  }

  // Phi-3 strips whitespace after its special tokens (llama.cpp keys this on
  // general.name, since GGUF has no per-token strip attributes).
  std::string name = in.general_name;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : v->specials_) v->attrs_[id] |= kAttrRstrip;
    if (int32_t id = v->Find("</s>"); id >= 0) v->attrs_[id] |= kAttrRstrip;
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (int32_t id = v->Find(t); id >= 0) v->attrs_[id] &= ~kAttrRstrip;
    }
  }
  return v;
}

std::vector<int32_t> Vocab::SpecialsPresent(std::string_view text) const {
  std::vector<int32_t> found;
  if (specials_.empty()) return found;
  const auto& root = trie_[0].children;
  // Direct table for the first byte: most positions stop here.
  int32_t first[256];
  std::fill(std::begin(first), std::end(first), -1);
  for (const auto& [b, child] : root) first[b] = child;
  for (size_t i = 0; i < text.size(); ++i) {
    int32_t node = first[static_cast<uint8_t>(text[i])];
    for (size_t j = i + 1; node >= 0; ++j) {
      if (trie_[node].token >= 0) found.push_back(trie_[node].token);
      if (j >= text.size()) break;
      const auto& ch = trie_[node].children;
      const uint8_t b = static_cast<uint8_t>(text[j]);
      auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t{-1}));
      node = (it != ch.end() && it->first == b) ? it->second : -1;
    }
  }
  std::sort(found.begin(), found.end(), [&](int32_t a, int32_t b) {
    return special_rank_[a] < special_rank_[b];
  });
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

std::vector<Fragment> Vocab::Partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t id : SpecialsPresent(text)) {
    const uint32_t a = attrs_[id];
    // User-defined tokens split even without parse_special (as HF does).
    if (!parse_special && (a & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view tok = this->text(id);
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.offset;
      size_t len = f.length;
      while (len > 0) {
        const size_t match = text.substr(0, off + len).find(tok, off);
        if (match == std::string_view::npos) {
          next.push_back({-1, off, len});
          break;
        }
        size_t left_len = match - off;
        if (a & kAttrLstrip) {
          while (left_len > 0 && IsAsciiSpace(text[off + left_len - 1])) --left_len;
        }
        if (left_len > 0) next.push_back({-1, off, left_len});
        next.push_back({id, match, tok.size()});
        size_t right_off = match + tok.size();
        size_t right_len = off + len - right_off;
        if (a & kAttrRstrip) {
          while (right_len > 0 && IsAsciiSpace(text[right_off])) {
            ++right_off;
            --right_len;
          }
        }
        off = right_off;
        len = right_len;
      }
    }
    frags.swap(next);
  }
  return frags;
}

}  // namespace tokenizer_internal

namespace {

StatusOr<std::optional<int64_t>> OptionalId(const GgufFile& file, std::string_view key) {
  if (file.Find(key) == nullptr) return std::optional<int64_t>();
  SKV_ASSIGN_OR_RETURN(int64_t v, file.GetInt(key));
  return std::optional<int64_t>(v);
}

StatusOr<std::optional<bool>> OptionalBool(const GgufFile& file, std::string_view key) {
  if (file.Find(key) == nullptr) return std::optional<bool>();
  SKV_ASSIGN_OR_RETURN(bool v, file.GetBool(key));
  return std::optional<bool>(v);
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file) {
  TokenizerVocab v;
  v.source = file.path();
  SKV_ASSIGN_OR_RETURN(v.model, file.GetString("tokenizer.ggml.model"));
  SKV_ASSIGN_OR_RETURN(v.pre, file.GetStringOr("tokenizer.ggml.pre", ""));
  SKV_ASSIGN_OR_RETURN(v.general_name, file.GetStringOr("general.name", ""));
  SKV_ASSIGN_OR_RETURN(const std::vector<std::string_view>* tokens,
                       file.GetStringArray("tokenizer.ggml.tokens"));
  v.tokens.assign(tokens->begin(), tokens->end());
  if (file.Find("tokenizer.ggml.scores") != nullptr) {
    SKV_ASSIGN_OR_RETURN(v.scores, file.GetF32Array("tokenizer.ggml.scores"));
  }
  if (file.Find("tokenizer.ggml.token_type") != nullptr) {
    SKV_ASSIGN_OR_RETURN(std::vector<int64_t> types,
                         file.GetIntArray("tokenizer.ggml.token_type"));
    v.token_types.assign(types.begin(), types.end());
  }
  if (v.model == "gpt2") {
    SKV_ASSIGN_OR_RETURN(const std::vector<std::string_view>* merges,
                         file.GetStringArray("tokenizer.ggml.merges"));
    v.merges.assign(merges->begin(), merges->end());
  }
  SKV_ASSIGN_OR_RETURN(v.bos, OptionalId(file, "tokenizer.ggml.bos_token_id"));
  SKV_ASSIGN_OR_RETURN(v.eos, OptionalId(file, "tokenizer.ggml.eos_token_id"));
  SKV_ASSIGN_OR_RETURN(v.unk, OptionalId(file, "tokenizer.ggml.unknown_token_id"));
  SKV_ASSIGN_OR_RETURN(v.eot, OptionalId(file, "tokenizer.ggml.eot_token_id"));
  SKV_ASSIGN_OR_RETURN(v.eom, OptionalId(file, "tokenizer.ggml.eom_token_id"));
  SKV_ASSIGN_OR_RETURN(v.pad, OptionalId(file, "tokenizer.ggml.padding_token_id"));
  SKV_ASSIGN_OR_RETURN(v.add_bos, OptionalBool(file, "tokenizer.ggml.add_bos_token"));
  SKV_ASSIGN_OR_RETURN(v.add_eos, OptionalBool(file, "tokenizer.ggml.add_eos_token"));
  SKV_ASSIGN_OR_RETURN(v.add_space_prefix,
                       OptionalBool(file, "tokenizer.ggml.add_space_prefix"));
  return FromVocab(std::move(v));
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromVocab(TokenizerVocab vocab) {
  if (vocab.model == "llama") return tokenizer_internal::MakeSpmTokenizer(vocab);
  if (vocab.model == "gpt2") return tokenizer_internal::MakeBpeTokenizer(vocab);
  return Status::Error((vocab.source.empty() ? "vocabulary" : vocab.source) +
                       ": unsupported tokenizer.ggml.model '" + vocab.model +
                       "' (supported: llama, gpt2)");
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, bool special) const {
  std::string t;
  bool remove_space = strip_first_space();
  for (int32_t id : ids) {
    std::string piece = TokenToPiece(id, special);
    if (remove_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    remove_space = false;
    t += piece;
  }
  if (!clean_spaces() || t.size() < 2) return t;
  // The three in-place passes of llama.cpp's detokenize, in its order.
  size_t n = t.size();
  size_t total = 1;
  for (size_t i = 1; i < n; ++i) {  // " ?", " !", " .", " ,"
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  n = total;
  total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {  // " ' " -> "'"
    const char x = t[i];
    if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';
    }
    t[total++] = x;
  }
  n = total;
  total = n ? 1 : 0;
  for (size_t i = 1; i < n; ++i) {  // " 's", " 'm", " 're", " 've"
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (i + 2 < n) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' || x1 == 'v') && x2 == 'e') --total;
      }
    }
    t[total++] = x;
  }
  t.resize(total);
  return t;
}

}  // namespace skv
