// Pre-tokenizer for byte-level BPE: splits text into words with the regex
// list llama.cpp uses for each tokenizer.ggml.pre value. Regexes apply in
// sequence: each one splits every piece the previous one produced, and the
// text between matches is kept as pieces of its own (so no byte is lost).
// Compiled once with PCRE2 (UTF + UCP, JIT); Split is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace skv {

class PreTokenizer {
 public:
  // Errors for an unknown pre-type list the supported names.
  static StatusOr<std::unique_ptr<PreTokenizer>> ForPreType(std::string_view pre);
  // Compiles an explicit regex list (tests, and custom pre-types).
  static StatusOr<std::unique_ptr<PreTokenizer>> FromRegexes(
      std::vector<std::string> regexes);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // `text` must be valid UTF-8 (see unicode::SanitizeUtf8). Returns
  // [offset, length] pieces covering the text in order.
  std::vector<std::pair<size_t, size_t>> Split(std::string_view text) const;

  // Comma-separated names accepted by ForPreType.
  static std::string SupportedNames();

  // Per-pre-type tokenizer behaviour llama.cpp ties to the same name.
  // ignore_merges: a word that is itself a token is emitted whole (llama3).
  bool ignore_merges() const { return ignore_merges_; }
  // clean_spaces: Decode drops the space before ?!., and some contractions.
  bool clean_spaces() const { return clean_spaces_; }
  // Default for tokenizer.ggml.add_bos_token when the key is absent.
  bool add_bos_default() const { return add_bos_default_; }

 private:
  PreTokenizer() = default;
  bool ignore_merges_ = false;
  bool clean_spaces_ = true;
  bool add_bos_default_ = false;
  struct Regex;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace skv
