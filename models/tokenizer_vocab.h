// Internal to the tokenizers: the vocabulary tables shared by the
// SentencePiece and BPE implementations (token texts, attributes, the
// text -> id index, special ids, and the special-token partition that runs
// before either algorithm). Immutable after Build; thread-safe to read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "models/tokenizer.h"

namespace skv::tokenizer_internal {

// llama.cpp's token attributes (llama_token_attr), derived from token types.
enum TokenAttr : uint32_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
};

// A piece of input text: raw text to run through the algorithm, or a special
// token that was split out of it.
struct Fragment {
  int32_t token = -1;  // -1: raw text [offset, offset + length)
  size_t offset = 0;
  size_t length = 0;
};

class Vocab {
 public:
  // `is_spm` picks llama.cpp's per-model defaults (special ids, add_bos).
  // `default_add_bos`: the default when the metadata has no add_bos key.
  static StatusOr<std::unique_ptr<Vocab>> Build(const TokenizerVocab& in,
                                                bool is_spm,
                                                bool default_add_bos);

  int32_t size() const { return static_cast<int32_t>(scores_.size()); }
  std::string_view text(int32_t id) const {
    return std::string_view(arena_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  float score(int32_t id) const { return scores_[id]; }
  uint32_t attr(int32_t id) const { return attrs_[id]; }
  int32_t Find(std::string_view text) const {
    auto it = index_.find(text);
    return it == index_.end() ? -1 : it->second;
  }

  // Splits special-token texts out of `text` exactly as llama.cpp's
  // tokenizer_st_partition: tokens in order of decreasing length, each one
  // splitting every raw fragment at all its occurrences. Control and unknown
  // tokens only when parse_special; user-defined tokens always.
  std::vector<Fragment> Partition(std::string_view text, bool parse_special) const;

  bool IsEog(int32_t id) const { return eog_.count(id) > 0; }

  int32_t bos = -1, eos = -1, unk = -1, eot = -1, eom = -1, pad = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;
  std::string model;
  std::string pre;

 private:
  Vocab() = default;
  // Ids of specials (of any kind) whose text occurs in `text`, in partition
  // order; a cheap trie scan so that Gemma's ~6k specials cost nothing when
  // absent.
  std::vector<int32_t> SpecialsPresent(std::string_view text) const;

  std::string arena_;              // all token texts back to back
  std::vector<uint32_t> offsets_;  // [n_vocab + 1] into arena_
  std::vector<float> scores_;      // [n_vocab]
  std::vector<uint32_t> attrs_;    // [n_vocab]
  std::unordered_map<std::string_view, int32_t> index_;  // views into arena_
  std::unordered_set<int32_t> eog_;
  // Special tokens (control, user-defined, unknown) by decreasing length.
  std::vector<int32_t> specials_;
  std::vector<int32_t> special_rank_;  // [n_vocab] position in specials_, -1
  // Byte trie over the special texts: node 0 is the root.
  struct TrieNode {
    int32_t token = -1;
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
  };
  std::vector<TrieNode> trie_;
};

// Shared parts of the SentencePiece and BPE tokenizers.
class VocabTokenizer : public Tokenizer {
 public:
  explicit VocabTokenizer(std::unique_ptr<Vocab> vocab) : vocab_(std::move(vocab)) {}
  int32_t n_vocab() const override { return vocab_->size(); }
  int32_t bos() const override { return vocab_->bos; }
  int32_t eos() const override { return vocab_->eos; }
  bool IsEndOfGeneration(int32_t id) const override { return vocab_->IsEog(id); }
  int32_t FindToken(std::string_view text) const override { return vocab_->Find(text); }
  std::string model_name() const override { return vocab_->model; }
  std::string pre_name() const override { return vocab_->pre; }
  const Vocab& vocab() const { return *vocab_; }

 protected:
  std::unique_ptr<Vocab> vocab_;
};

StatusOr<std::unique_ptr<Tokenizer>> MakeSpmTokenizer(const TokenizerVocab& in);
StatusOr<std::unique_ptr<Tokenizer>> MakeBpeTokenizer(const TokenizerVocab& in);

}  // namespace skv::tokenizer_internal
