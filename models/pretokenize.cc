#include "models/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "models/unicode_utf8.h"

namespace skv {
namespace {

// The regex lists come from the tokenizer.json of each model family, in the
// form llama.cpp runs them (case-insensitive groups spelled out). Non-ASCII
// class members are written as \x{...} so that no editor or tool can
// normalise them into different code points.
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM's cased-letter class (Lu/Ll/Lt ranges of its tokenizer.json).
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF})"
    R"(\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D})"
    R"(\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5})"
    R"(\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5})"
    R"(\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15})"
    R"(\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57})"
    R"(\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC})"
    R"(\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB})"
    R"(\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128})"
    R"(\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149})"
    R"(\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE})"
    R"(\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06})"
    R"(\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
// llama.cpp matches these explicit classes with every non-ASCII whitespace
// character folded to \v, so whitespace inside a class range (U+3000, the
// U+2000 block) never matches it: (?!\s) reproduces that.
constexpr const char* kDeepseekPunct =
    R"(\s?(?:(?!\s)[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}])+)";
constexpr const char* kCjk =
    R"((?:(?!\s)[\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}])+)";

struct PreTypeSpec {
  std::vector<const char*> names;
  std::vector<const char*> regexes;
  bool ignore_merges = false;
  bool clean_spaces = true;
  bool add_bos_default = false;
};

const std::vector<PreTypeSpec>& Specs() {
  static const std::vector<PreTypeSpec> specs = {
      {{"default"},
       {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
      {{"gpt-2", "phi-2", "mpt", "olmo", "jina-es", "jina-de", "jina-v2-es",
        "jina-v2-de", "gigachat"},
       {kGpt2}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"},
       {kLlama3},
       /*ignore_merges=*/true,
       /*clean_spaces=*/true,
       /*add_bos_default=*/true},
      {{"dbrx", "smaug-bpe"}, {kLlama3}},
      {{"qwen2", "deepseek-r1-qwen", "megrez"}, {kQwen2}, false, false},
      {{"stablelm2"}, {kQwen2}},
      {{"deepseek-llm"},
       {"[\\r\\n]", kDeepseekLetters, kDeepseekPunct, R"(\s+$)", kCjk,
        R"(\p{N}+)"},
       false,
       false},
      {{"deepseek-coder"},
       {"[\\r\\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"},
       false,
       false},
      {{"falcon"},
       {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}},
      {{"starcoder", "refact", "codeshell", "exaone", "minerva-7b"},
       {R"(\p{N})", kGpt2}},
      {{"command-r", "smollm"}, {R"(\p{N})", kGpt2}, false, false},
  };
  return specs;
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::~PreTokenizer() = default;

std::string PreTokenizer::SupportedNames() {
  std::string out;
  for (const auto& spec : Specs()) {
    for (const char* name : spec.names) {
      if (!out.empty()) out += ", ";
      out += name;
    }
  }
  return out;
}

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromRegexes(
    std::vector<std::string> regexes) {
  std::unique_ptr<PreTokenizer> pre(new PreTokenizer());
  for (const std::string& pattern : regexes) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    // DOLLAR_ENDONLY: `$` means the end of the piece, as in ECMAScript.
    pcre2_code* code = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
        PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF,
        &err, &err_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return Status::Error("pre-tokenizer regex '" + pattern +
                           "' does not compile at offset " +
                           std::to_string(err_offset) + ": " +
                           reinterpret_cast<const char*>(msg));
    }
    // JIT is an optimisation only: pcre2_match falls back to the interpreter.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    auto regex = std::make_unique<Regex>();
    regex->code = code;
    pre->regexes_.push_back(std::move(regex));
  }
  return pre;
}

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::ForPreType(
    std::string_view name) {
  for (const auto& spec : Specs()) {
    if (std::find(spec.names.begin(), spec.names.end(), name) == spec.names.end()) {
      continue;
    }
    SKV_ASSIGN_OR_RETURN(
        auto pre, FromRegexes(std::vector<std::string>(spec.regexes.begin(),
                                                       spec.regexes.end())));
    pre->ignore_merges_ = spec.ignore_merges;
    pre->clean_spaces_ = spec.clean_spaces;
    pre->add_bos_default_ = spec.add_bos_default;
    return pre;
  }
  return Status::Error("unsupported pre-tokenizer '" + std::string(name) +
                       "' (supported: " + SupportedNames() + ")");
}

std::vector<std::pair<size_t, size_t>> PreTokenizer::Split(
    std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> pieces;
  if (text.empty()) return pieces;
  pieces.emplace_back(0, text.size());
  std::vector<std::pair<size_t, size_t>> next;
  // A per-call JIT stack: the default 32 KiB one can run out on long runs of
  // one character class, and per-call keeps Split thread-safe.
  pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 16 << 20, nullptr);
  if (jit_stack != nullptr) pcre2_jit_stack_assign(mctx, nullptr, jit_stack);
  for (const auto& regex : regexes_) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(regex->code, nullptr);
    next.clear();
    next.reserve(pieces.size() * 2);
    for (const auto& [off, len] : pieces) {
      // Each piece is its own subject: lookaheads and `$` stop at its end,
      // as they do in llama.cpp, which runs the regex on each piece alone.
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + off);
      size_t last = 0;
      size_t pos = 0;
      while (pos < len) {
        int rc = pcre2_match(regex->code, subject, len, pos, 0, md, mctx);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
          // JIT resource limits: the interpreter has its own, larger ones.
          rc = pcre2_match(regex->code, subject, len, pos, PCRE2_NO_JIT, md, mctx);
        }
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t start = ov[0];
        const size_t end = ov[1];
        if (end == start) {  // empty match: nothing to split off, move on
          pos = start + unicode::Utf8SeqLen(text[off + start]);
          continue;
        }
        if (start > last) next.emplace_back(off + last, start - last);
        next.emplace_back(off + start, end - start);
        last = pos = end;
      }
      if (last < len) next.emplace_back(off + last, len - last);
    }
    pcre2_match_data_free(md);
    pieces.swap(next);
  }
  if (jit_stack != nullptr) pcre2_jit_stack_free(jit_stack);
  pcre2_match_context_free(mctx);
  return pieces;
}

}  // namespace skv
