#include "models/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/gguf.h"
#include "models/pretokenize.h"

namespace skv {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// --- llama.cpp's test vectors (test-tokenizer-0) ---------------------------

// .inp: each input followed by "\n__ggml_vocab_test__\n"; .out: one line of
// ids per input (HF's encode with add_special_tokens=False).
struct Vectors {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> outputs;
};

Vectors LoadVectors(const std::string& base) {
  Vectors v;
  const std::string inp = ReadFile(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0;;) {
    const size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) break;
    v.inputs.push_back(inp.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  std::istringstream out(ReadFile(base + ".out"));
  for (std::string line; std::getline(out, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int32_t id; ls >> id;) ids.push_back(id);
    v.outputs.push_back(ids);
  }
  return v;
}

class VocabVectors : public testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, MatchLlamaCpp) {
  const std::string base = std::string(SKV_TEST_DATA_DIR) + "/tokenizer/ggml-vocab-" +
                           GetParam() + ".gguf";
  if (!std::filesystem::exists(base + ".inp")) GTEST_SKIP() << "no vectors at " << base;
  if (!std::filesystem::exists(base)) {
    GTEST_SKIP() << "vocab file " << base << " is absent; its vectors are not checked";
  }
  auto file = GgufFile::Open(base);
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const Vectors v = LoadVectors(base);
  ASSERT_EQ(v.inputs.size(), v.outputs.size()) << base;
  ASSERT_GT(v.inputs.size(), 30u);
  int failures = 0;
  for (size_t i = 0; i < v.inputs.size(); ++i) {
    const auto got = (*tok)->Encode(v.inputs[i], /*add_special=*/false,
                                    /*parse_special=*/false);
    if (got != v.outputs[i]) {
      ++failures;
      ADD_FAILURE() << GetParam() << " input " << i << " '" << v.inputs[i]
                    << "'\n  want: " << Show(v.outputs[i]) << "\n  got:  " << Show(got);
    }
  }
  EXPECT_EQ(failures, 0);
}

INSTANTIATE_TEST_SUITE_P(All, VocabVectors,
                         testing::Values("llama-spm", "phi-3", "gpt-2", "falcon",
                                         "starcoder", "deepseek-llm", "llama-bpe",
                                         "qwen2"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

// --- hermetic tests on hand-built vocabularies ------------------------------

// A tiny SentencePiece vocabulary: byte tokens, a few merges by score.
TokenizerVocab TinySpm() {
  TokenizerVocab v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.token_types = {2, 3, 3};
  v.scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    v.tokens.push_back(name);
    v.token_types.push_back(6);
    v.scores.push_back(0);
  }
  const std::vector<std::pair<std::string, float>> pieces = {
      {"\xE2\x96\x81", -1}, {"h", -2},  {"e", -2},  {"l", -2},     {"o", -2},
      {"he", -3},           {"ll", -3}, {"llo", -4}, {"hello", -5}, {"\xE2\x96\x81hello", -6},
      {"<tag>", 0}};
  for (const auto& [text, score] : pieces) {
    v.tokens.push_back(text);
    v.token_types.push_back(text == "<tag>" ? 4 : 1);
    v.scores.push_back(score);
  }
  return v;
}

TEST(SpmTokenizer, MergesByScoreAndFallsBackToBytes) {
  auto tok = Tokenizer::FromVocab(TinySpm());
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const Tokenizer& t = **tok;
  const int32_t whello = t.FindToken("\xE2\x96\x81hello");
  ASSERT_GE(whello, 0);
  EXPECT_EQ(t.Encode("hello", false, false), std::vector<int32_t>({whello}));
  // BOS from the llama defaults (add_bos true, id 1).
  EXPECT_EQ(t.Encode("hello", true, false), std::vector<int32_t>({1, whello}));
  // "x" is not a token: byte fallback <0x78> = 3 + 0x78.
  EXPECT_EQ(t.Encode("x", false, false),
            std::vector<int32_t>({t.FindToken("\xE2\x96\x81"), 3 + 0x78}));
  EXPECT_EQ(t.Decode(t.Encode("hello x", false, false), false), "hello x");
  // As llama.cpp: the prefix space is only stripped from the first token, and
  // here that is BOS (which renders as nothing).
  EXPECT_EQ(t.Decode(t.Encode("hello x", true, false), false), " hello x");
  EXPECT_EQ(t.TokenToPiece(1, false), "");
  EXPECT_EQ(t.TokenToPiece(1, true), "<s>");
}

TEST(SpmTokenizer, SplitsUserDefinedAndControlTokens) {
  auto tok = Tokenizer::FromVocab(TinySpm());
  ASSERT_TRUE(tok.ok());
  const Tokenizer& t = **tok;
  const int32_t tag = t.FindToken("<tag>");
  const int32_t whello = t.FindToken("\xE2\x96\x81hello");
  const int32_t space = t.FindToken("\xE2\x96\x81");
  // User-defined tokens split even without parse_special; every text
  // fragment after a special token gets the space prefix again.
  EXPECT_EQ(t.Encode("<tag>hello", false, false), std::vector<int32_t>({tag, whello}));
  EXPECT_EQ(t.Encode("hello<tag>hello", false, false),
            std::vector<int32_t>({whello, tag, whello}));
  EXPECT_EQ(t.Encode(" <tag>", false, false), std::vector<int32_t>({space, space, tag}));
  // Control tokens only with parse_special.
  EXPECT_EQ(t.Encode("</s>", false, true), std::vector<int32_t>({2}));
  EXPECT_NE(t.Encode("</s>", false, false), std::vector<int32_t>({2}));
  EXPECT_TRUE(t.IsEndOfGeneration(2));
  EXPECT_FALSE(t.IsEndOfGeneration(1));
}

TEST(SpmTokenizer, RejectsBadMetadata) {
  TokenizerVocab v = TinySpm();
  v.scores.resize(3);
  auto tok = Tokenizer::FromVocab(v);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("tokenizer.ggml.scores"), std::string::npos);
  v = TinySpm();
  v.tokens[5] = v.tokens[6];
  EXPECT_FALSE(Tokenizer::FromVocab(v).ok());
  v = TinySpm();
  v.model = "t5";
  tok = Tokenizer::FromVocab(v);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("supported: llama, gpt2"), std::string::npos);
}

TEST(BpeTokenizer, ByteLevelMergesByRank) {
  TokenizerVocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  // Byte-level alphabet: "Ġ" is the space byte.
  v.tokens = {"h", "e", "l", "o", "Ġ", "he", "ll", "hell", "hello", "Ġhello", "<|endoftext|>"};
  v.token_types = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3};
  v.merges = {"h e", "l l", "he ll", "hell o", "Ġ hello"};
  v.bos = 10;
  v.eos = 10;
  auto tok = Tokenizer::FromVocab(v);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const Tokenizer& t = **tok;
  EXPECT_EQ(t.Encode("hello hello", false, false), std::vector<int32_t>({8, 9}));
  // No add_bos key: gpt-2 does not add BOS.
  EXPECT_EQ(t.Encode("hello", true, false), std::vector<int32_t>({8}));
  EXPECT_EQ(t.Encode("hello<|endoftext|>", false, true), std::vector<int32_t>({8, 10}));
  EXPECT_EQ(t.Decode({8, 9}, false), "hello hello");
  EXPECT_TRUE(t.IsEndOfGeneration(10));
  EXPECT_EQ(t.eos(), 10);
}

TEST(BpeTokenizer, UnknownPreTypeListsSupported) {
  TokenizerVocab v;
  v.source = "x.gguf";
  v.model = "gpt2";
  v.pre = "no-such-pre";
  v.tokens = {"a"};
  v.merges = {"a a"};
  auto tok = Tokenizer::FromVocab(v);
  ASSERT_FALSE(tok.ok());
  const std::string msg = tok.status().message();
  EXPECT_NE(msg.find("x.gguf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no-such-pre"), std::string::npos) << msg;
  EXPECT_NE(msg.find("qwen2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("llama-bpe"), std::string::npos) << msg;
}

TEST(PreTokenizer, SequentialRegexesKeepGaps) {
  auto pre = PreTokenizer::FromRegexes({R"(\p{N}+)", R"( ?\p{L}+)"});
  ASSERT_TRUE(pre.ok()) << pre.status().message();
  const std::string text = "ab12 cd!";
  std::vector<std::string> pieces;
  for (const auto& [off, len] : (*pre)->Split(text)) pieces.push_back(text.substr(off, len));
  EXPECT_EQ(pieces, std::vector<std::string>({"ab", "12", " cd", "!"}));
}

TEST(PreTokenizer, LookaheadStopsAtPieceEnd) {
  auto pre = PreTokenizer::ForPreType("gpt-2");
  ASSERT_TRUE(pre.ok());
  const std::string text = "a   b  ";
  std::vector<std::string> pieces;
  for (const auto& [off, len] : (*pre)->Split(text)) pieces.push_back(text.substr(off, len));
  EXPECT_EQ(pieces, std::vector<std::string>({"a", "  ", " b", "  "}));
}

TEST(PreTokenizer, ClassRangesNeverMatchWhitespace) {
  // llama.cpp folds non-ASCII whitespace to \v before matching explicit
  // classes, so U+3000 (inside DeepSeek's punctuation range) stays a space.
  auto pre = PreTokenizer::ForPreType("deepseek-llm");
  ASSERT_TRUE(pre.ok()) << pre.status().message();
  const std::string text = "dog.  \u3000 \u3001x";
  std::vector<std::string> pieces;
  for (const auto& [off, len] : (*pre)->Split(text)) pieces.push_back(text.substr(off, len));
  // (" \u3001" matches the punctuation regex, then the CJK range regex, which
  // covers U+0800..U+4E00, splits it again.)
  EXPECT_EQ(pieces, std::vector<std::string>({"dog", ".", "  \u3000", " ", "\u3001", "x"}));
}

// --- the default Gemma model ------------------------------------------------

class GemmaTokenizer : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = std::string(SKV_SOURCE_DIR) + "/models-cache/gemma-3-270m-q4_k_m.gguf";
    if (!std::filesystem::exists(path)) return;
    auto file = GgufFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status().message();
    const auto start = std::chrono::steady_clock::now();
    auto tok = Tokenizer::FromGguf(**file);
    build_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    tok_ = std::move(*tok).release();
  }
  void SetUp() override {
    if (tok_ == nullptr) GTEST_SKIP() << "models-cache/gemma-3-270m-q4_k_m.gguf is absent";
  }
  static inline Tokenizer* tok_ = nullptr;
  static inline double build_seconds_ = 0;
};

TEST_F(GemmaTokenizer, BuildsQuickly) { EXPECT_LT(build_seconds_, 1.0); }

TEST_F(GemmaTokenizer, SpecialIds) {
  EXPECT_EQ(tok_->n_vocab(), 262144);
  EXPECT_EQ(tok_->bos(), 2);
  EXPECT_EQ(tok_->eos(), 1);
  EXPECT_TRUE(tok_->IsEndOfGeneration(1));
  EXPECT_TRUE(tok_->IsEndOfGeneration(tok_->FindToken("<end_of_turn>")));
  EXPECT_FALSE(tok_->IsEndOfGeneration(tok_->FindToken("<start_of_turn>")));
  EXPECT_EQ(tok_->model_name(), "llama");
}

TEST_F(GemmaTokenizer, RoundTrips) {
  for (const std::string text :
       {"Hello, world!", "  leading spaces and trailing  ", "Grüße aus Köln — 東京 🚀",
        "def f(x):\n\treturn x * 2\n\n\n", "1234567890 3.14159", "tabs\t\tand\nnewlines\n"}) {
    const auto ids = tok_->Encode(text, /*add_special=*/true, /*parse_special=*/false);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 2) << text;
    EXPECT_EQ(tok_->Decode(ids, /*special=*/false), text);
  }
}

TEST_F(GemmaTokenizer, ParsesSpecialTokens) {
  const int32_t sot = tok_->FindToken("<start_of_turn>");
  ASSERT_GE(sot, 0);
  const auto ids = tok_->Encode("<start_of_turn>user\nHi", true, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], sot);
  EXPECT_EQ(tok_->Decode(ids, true), "<bos><start_of_turn>user\nHi");
  EXPECT_EQ(tok_->Decode(ids, false), "user\nHi");
  // Without parse_special the marker is ordinary text.
  const auto plain = tok_->Encode("<start_of_turn>user", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), sot), 0);
  EXPECT_GT(plain.size(), 2u);
}

TEST_F(GemmaTokenizer, EncodesAMegabyteInSeconds) {
  std::string text;
  while (text.size() < (1 << 20)) {
    text += "The quick brown fox jumps over the lazy dog. Съешь же ещё этих мягких "
            "французских булок. 敏捷的棕色狐狸跳过了懒狗。\n\tfor (int i = 0; i < n; ++i) {}\n";
  }
  const auto start = std::chrono::steady_clock::now();
  const auto ids = tok_->Encode(text, true, false);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 10.0);
  EXPECT_EQ(tok_->Decode(ids, false), text);
}

}  // namespace
}  // namespace skv
