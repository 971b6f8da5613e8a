// Tokenizers built from GGUF metadata (tokenizer.ggml.*): SentencePiece-style
// ("llama": llama-spm, gemma) and byte-level BPE ("gpt2") with the
// pre-tokenizer regexes named by tokenizer.ggml.pre. Behaviour follows
// llama.cpp, whose test vectors (shared/data/tokenizer) must match exactly.
// Immutable after construction; Encode/Decode are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "models/gguf.h"

namespace skv {

// Everything a tokenizer is built from, as plain values: FromGguf fills it
// from tokenizer.ggml.* keys; tests build small vocabularies by hand.
struct TokenizerVocab {
  std::string source;           // file name for error messages
  std::string model;            // tokenizer.ggml.model: "llama", "gpt2"
  std::string pre;              // tokenizer.ggml.pre ("" = "default")
  std::string general_name;     // general.name (phi-3 strips after specials)
  std::vector<std::string> tokens;
  std::vector<float> scores;         // empty: all 0
  std::vector<int32_t> token_types;  // llama.cpp token types; empty: normal
  std::vector<std::string> merges;   // "left right", rank = index (gpt2)
  // Unset ids take llama.cpp's defaults for the model type.
  std::optional<int64_t> bos, eos, unk, eot, eom, pad;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Errors name the file and the missing or malformed tokenizer key, or the
  // unsupported tokenizer model / pre-tokenizer (listing the supported ones).
  static StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);
  static StatusOr<std::unique_ptr<Tokenizer>> FromVocab(TokenizerVocab vocab);

  // add_special: prepend BOS / append EOS as the metadata asks
  // (tokenizer.ggml.add_bos_token / add_eos_token, with llama.cpp defaults).
  // parse_special: text of control / user-defined tokens (e.g.
  // "<start_of_turn>") becomes that token instead of being split.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special,
                                      bool parse_special) const = 0;
  // Text of one token as llama.cpp's token_to_piece renders it; control
  // tokens render as empty unless `special`.
  virtual std::string TokenToPiece(int32_t id, bool special) const = 0;
  // Concatenated pieces as llama.cpp's llama_detokenize renders them with
  // remove_special=false: the space prefix SentencePiece added is dropped from
  // the first piece, and BPE vocabularies with clean_spaces drop the space
  // before ?!., and before 's 'm 're 've.
  std::string Decode(const std::vector<int32_t>& ids, bool special) const;

  virtual int32_t n_vocab() const = 0;
  virtual int32_t bos() const = 0;   // -1 if none
  virtual int32_t eos() const = 0;   // -1 if none
  // End of generation: EOS, EOT (<end_of_turn>, <|eot_id|>, <|im_end|>), ...
  virtual bool IsEndOfGeneration(int32_t id) const = 0;
  // Id of a token with exactly this text, -1 if none.
  virtual int32_t FindToken(std::string_view text) const = 0;
  virtual std::string model_name() const = 0;  // "llama", "gpt2"
  virtual std::string pre_name() const = 0;    // "default", "llama-bpe", ...

 protected:
  // Decode's knobs (see Decode).
  virtual bool strip_first_space() const { return false; }
  virtual bool clean_spaces() const { return false; }
};

}  // namespace skv
