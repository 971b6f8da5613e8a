// Byte-level BPE ("gpt2" tokenizer model) as llama.cpp runs it: the
// pre-tokenizer regexes split the text into words, each word's bytes map to
// GPT-2's printable alphabet, and adjacent symbols merge by merge rank
// (lowest first, leftmost on ties) until no ranked pair is left.
#include <queue>
#include <unordered_map>

#include "models/pretokenize.h"
#include "models/tokenizer_vocab.h"
#include "models/unicode_utf8.h"

namespace skv::tokenizer_internal {
namespace {

class BpeTokenizer final : public VocabTokenizer {
 public:
  BpeTokenizer(std::unique_ptr<Vocab> vocab, std::unique_ptr<PreTokenizer> pre,
               std::unordered_map<std::string, int32_t> ranks)
      : VocabTokenizer(std::move(vocab)), pre_(std::move(pre)), ranks_(std::move(ranks)) {}

  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override {
    const Vocab& v = *vocab_;
    std::vector<int32_t> out;
    if (add_special && v.add_bos) out.push_back(v.bos);
    std::string clean;
    for (const Fragment& f : v.Partition(text, parse_special)) {
      if (f.token >= 0) {
        out.push_back(f.token);
        continue;
      }
      std::string_view raw = text.substr(f.offset, f.length);
      // Invalid UTF-8 becomes U+FFFD first, as llama.cpp's splitter does.
      if (unicode::SanitizeUtf8(raw, &clean)) raw = clean;
      Scratch scratch;
      for (const auto& [off, len] : pre_->Split(raw)) {
        EncodeWord(raw.substr(off, len), &scratch, &out);
      }
    }
    if (add_special && v.add_eos) out.push_back(v.eos);
    return out;
  }

  std::string TokenToPiece(int32_t id, bool special) const override {
    if (id < 0 || id >= vocab_->size()) return "";
    const uint32_t a = vocab_->attr(id);
    if (!special && (a & (kAttrUnknown | kAttrControl))) return "";
    const std::string_view text = vocab_->text(id);
    if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return std::string(text);
    if (!(a & kAttrNormal)) return "";
    // Map GPT-2's alphabet back to bytes; llama.cpp's marker for the rest.
    std::string out;
    for (size_t i = 0; i < text.size();) {
      const size_t start = i;
      const uint32_t cp = unicode::DecodeCodepoint(text, &i);
      const int byte = unicode::Gpt2ToByte(cp);
      if (byte >= 0) {
        out.push_back(static_cast<char>(byte));
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "[UNK_BYTE_0x";
        for (size_t k = start; k < i; ++k) {
          const uint8_t c = static_cast<uint8_t>(text[k]);
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        }
        out += std::string(text) + "]";
      }
    }
    return out;
  }

 protected:
  bool clean_spaces() const override { return pre_->clean_spaces(); }

 private:
  struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t offset;  // into the byte-encoded word
    uint32_t size;    // bytes; 0 once merged into the left neighbour
  };
  struct Bigram {
    int32_t left;
    int32_t right;
    int32_t rank;
    uint32_t size;
  };
  struct BigramGreater {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
    }
  };
  // Reused buffers for one Encode call.
  struct Scratch {
    std::string word;
    std::string key;
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;
  };

  void TryAddBigram(int32_t left, int32_t right, Scratch* s) const {
    if (left < 0 || right < 0) return;
    const Symbol& l = s->symbols[left];
    const Symbol& r = s->symbols[right];
    s->key.assign(s->word, l.offset, l.size);
    s->key.push_back(' ');
    s->key.append(s->word, r.offset, r.size);
    auto it = ranks_.find(s->key);
    if (it == ranks_.end()) return;
    s->heap.push_back({left, right, it->second, l.size + r.size});
    std::push_heap(s->heap.begin(), s->heap.end(), BigramGreater());
  }

  void EncodeWord(std::string_view raw, Scratch* s, std::vector<int32_t>* out) const {
    s->word.clear();
    for (char c : raw) s->word += unicode::ByteToGpt2(static_cast<uint8_t>(c));
    const std::string_view word = s->word;
    if (word.empty()) return;
    if (pre_->ignore_merges()) {
      if (int32_t id = vocab_->Find(word); id >= 0) {
        out->push_back(id);
        return;
      }
    }
    s->symbols.clear();
    for (size_t off = 0; off < word.size();) {
      const size_t len = std::min(unicode::Utf8SeqLen(word[off]), word.size() - off);
      const int32_t index = static_cast<int32_t>(s->symbols.size());
      s->symbols.push_back({index - 1, off + len == word.size() ? -1 : index + 1,
                            static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
      off += len;
    }
    s->heap.clear();
    for (int32_t i = 1; i < static_cast<int32_t>(s->symbols.size()); ++i) {
      TryAddBigram(i - 1, i, s);
    }
    while (!s->heap.empty()) {
      std::pop_heap(s->heap.begin(), s->heap.end(), BigramGreater());
      const Bigram b = s->heap.back();
      s->heap.pop_back();
      Symbol& left = s->symbols[b.left];
      Symbol& right = s->symbols[b.right];
      // Stale entry: one side was merged since it was queued.
      if (left.size == 0 || right.size == 0 || left.size + right.size != b.size) continue;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next >= 0) s->symbols[right.next].prev = b.left;
      TryAddBigram(left.prev, b.left, s);
      TryAddBigram(b.left, left.next, s);
    }
    for (int32_t i = 0; i != -1; i = s->symbols[i].next) {
      const std::string_view piece = word.substr(s->symbols[i].offset, s->symbols[i].size);
      const int32_t id = vocab_->Find(piece);
      if (id >= 0) {
        out->push_back(id);
        continue;
      }
      // llama.cpp looks each byte of the encoded piece up as a one-byte
      // token; bytes that are not tokens are dropped.
      for (char c : piece) {
        const int32_t byte_id = vocab_->Find(std::string_view(&c, 1));
        if (byte_id >= 0) out->push_back(byte_id);
      }
    }
  }

  std::unique_ptr<PreTokenizer> pre_;
  // "left right" -> rank (index in tokenizer.ggml.merges).
  std::unordered_map<std::string, int32_t> ranks_;
};

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> MakeBpeTokenizer(const TokenizerVocab& in) {
  const std::string where = in.source.empty() ? "vocabulary" : in.source;
  const std::string pre_name = in.pre.empty() ? "default" : in.pre;
  auto pre = PreTokenizer::ForPreType(pre_name);
  if (!pre.ok()) return pre.status().Annotate(where + ": tokenizer.ggml.pre");
  if (in.merges.empty()) {
    return Status::Error(where + ": tokenizer.ggml.merges is missing or empty");
  }
  std::unordered_map<std::string, int32_t> ranks;
  ranks.reserve(in.merges.size());
  for (size_t i = 0; i < in.merges.size(); ++i) {
    const std::string& m = in.merges[i];
    // llama.cpp splits at the first space after the first byte.
    const size_t pos = m.find(' ', 1);
    if (pos == std::string::npos) continue;
    ranks.emplace(m, static_cast<int32_t>(i));
  }
  SKV_ASSIGN_OR_RETURN(auto vocab, Vocab::Build(in, /*is_spm=*/false,
                                                (*pre)->add_bos_default()));
  return std::unique_ptr<Tokenizer>(
      new BpeTokenizer(std::move(vocab), std::move(*pre), std::move(ranks)));
}

}  // namespace skv::tokenizer_internal
