// SentencePiece-style BPE ("llama" tokenizer model: llama-spm, phi-3, Gemma)
// as llama.cpp runs it: spaces become U+2581, characters merge pairwise by
// the score of the merged token (highest first, leftmost on ties), and
// whatever is not a token at the end falls back to <0xXX> byte tokens.
#include <cstdlib>
#include <queue>

#include "models/tokenizer_vocab.h"
#include "models/unicode_utf8.h"

namespace skv::tokenizer_internal {
namespace {

constexpr std::string_view kEscapedSpace = "\xE2\x96\x81";  // U+2581

class SpmTokenizer final : public VocabTokenizer {
 public:
  explicit SpmTokenizer(std::unique_ptr<Vocab> vocab) : VocabTokenizer(std::move(vocab)) {
    // llama.cpp: <0xXX> if present, else the byte as a one-character token.
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
      int32_t id = vocab_->Find(std::string_view(name, 6));
      if (id < 0) id = vocab_->Find(std::string(1, static_cast<char>(b)));
      byte_tokens_[b] = id >= 0 ? id : vocab_->unk;
    }
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override {
    const Vocab& v = *vocab_;
    std::vector<int32_t> out;
    if (add_special && v.add_bos) out.push_back(v.bos);
    // llama.cpp prefixes a space to every raw fragment that starts the text
    // or follows a special token.
    bool prev_special = true;
    std::string escaped;
    for (const Fragment& f : v.Partition(text, parse_special)) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      escaped.clear();
      if (v.add_space_prefix && prev_special) escaped += kEscapedSpace;
      for (char c : text.substr(f.offset, f.length)) {
        if (c == ' ') {
          escaped += kEscapedSpace;
        } else {
          escaped.push_back(c);
        }
      }
      Segment(escaped, &out);
      prev_special = false;
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
    if (a & kAttrNormal) {
      std::string out;
      out.reserve(text.size());
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kEscapedSpace.size(), kEscapedSpace) == 0) {
          out.push_back(' ');
          i += kEscapedSpace.size();
        } else {
          out.push_back(text[i++]);
        }
      }
      return out;
    }
    if ((a & kAttrByte) && text.size() == 6) {  // "<0xXX>"
      return std::string(1, static_cast<char>(std::strtol(
                                std::string(text.substr(3, 2)).c_str(), nullptr, 16)));
    }
    return "";  // unused / undefined tokens render as nothing
  }

 protected:
  bool strip_first_space() const override { return vocab_->add_space_prefix; }

 private:
  struct Symbol {
    int32_t prev;
    int32_t next;
    uint32_t offset;  // into the escaped text
    uint32_t size;    // bytes; 0 once merged into the left neighbour
  };
  struct Bigram {
    int32_t left;
    int32_t right;
    float score;
    uint32_t size;
  };
  struct BigramLess {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
  };
  using Queue = std::priority_queue<Bigram, std::vector<Bigram>, BigramLess>;

  void TryAddBigram(std::string_view text, const std::vector<Symbol>& symbols,
                    int32_t left, int32_t right, Queue* queue) const {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].size + symbols[right].size;
    const int32_t id = vocab_->Find(text.substr(symbols[left].offset, size));
    if (id < 0) return;
    queue->push({left, right, vocab_->score(id), size});
  }

  void Segment(std::string_view text, std::vector<int32_t>* out) const {
    std::vector<Symbol> symbols;
    symbols.reserve(text.size());
    for (size_t off = 0; off < text.size();) {
      const size_t len = std::min(unicode::Utf8SeqLen(text[off]), text.size() - off);
      const int32_t index = static_cast<int32_t>(symbols.size());
      symbols.push_back({index - 1, off + len == text.size() ? -1 : index + 1,
                         static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
      off += len;
    }
    if (symbols.empty()) return;
    std::vector<Bigram> storage;
    storage.reserve(symbols.size());
    Queue queue(BigramLess(), std::move(storage));
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) {
      TryAddBigram(text, symbols, i - 1, i, &queue);
    }
    while (!queue.empty()) {
      const Bigram b = queue.top();
      queue.pop();
      Symbol& left = symbols[b.left];
      Symbol& right = symbols[b.right];
      // Stale entry: one side was merged since it was queued.
      if (left.size == 0 || right.size == 0 || left.size + right.size != b.size) continue;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = b.left;
      TryAddBigram(text, symbols, left.prev, b.left, &queue);
      TryAddBigram(text, symbols, b.left, left.next, &queue);
    }
    // Every merged symbol is a token (merges only form tokens), so only
    // unmerged characters can miss the vocabulary and fall back to bytes.
    for (int32_t i = 0; i != -1; i = symbols[i].next) {
      const std::string_view piece = text.substr(symbols[i].offset, symbols[i].size);
      const int32_t id = vocab_->Find(piece);
      if (id >= 0) {
        out->push_back(id);
        continue;
      }
      for (char c : piece) {
        const int32_t byte_id = byte_tokens_[static_cast<uint8_t>(c)];
        if (byte_id >= 0) out->push_back(byte_id);
      }
    }
  }

  int32_t byte_tokens_[256];
};

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> MakeSpmTokenizer(const TokenizerVocab& in) {
  // llama.cpp ignores tokenizer.ggml.pre for this model type; so do we.
  SKV_ASSIGN_OR_RETURN(auto vocab, Vocab::Build(in, /*is_spm=*/true, /*default_add_bos=*/true));
  return std::unique_ptr<Tokenizer>(new SpmTokenizer(std::move(vocab)));
}

}  // namespace skv::tokenizer_internal
